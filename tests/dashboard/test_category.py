"""A category's page: its names over time as stacked areas, and a table of names."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.dashboard.support import (
    EXTREME_RANGES,
    assert_refused_as_out_of_range,
    axis_time,
    figure_of,
    raw,
    stacks,
)

URL = reverse("dashboard:category")
START, END = datetime(2026, 3, 11, 15, tzinfo=UTC), datetime(2026, 3, 18, 15, tzinfo=UTC)


def raw_names(category: str, start, end, app_id=None) -> dict[str, dict[str, int]]:
    app = "AND application_id = %s" if app_id else ""
    result: dict[str, dict[str, int]] = defaultdict(dict)
    for bucket, name, count in raw(
        f"""SELECT date_trunc('hour', timestamp, 'UTC'), name, count(*) FROM events
        WHERE category = %s AND timestamp >= %s AND timestamp < %s {app} GROUP BY 1, 2""",
        [category, start, end] + ([app_id] if app_id else []),
    ):
        result[name][axis_time(bucket)] = count
    return dict(result)


def test_it_stacks_the_names_of_a_category_over_time(as_alice, known_events):
    response = as_alice.get(URL, {"category": "page interaction", "range": "7d"})

    assert response.status_code == 200
    figure = figure_of(response, "names")
    assert all(trace["stackgroup"] == "names" for trace in figure["data"])
    shown = {
        name: {x: y for x, y in values.items() if y} for name, values in stacks(figure).items()
    }
    assert shown == raw_names("page interaction", START, END)
    assert len(figure["data"][0]["x"]) == 7 * 24


def test_it_tables_the_names_with_counts_and_change(as_alice, known_events):
    response = as_alice.get(URL, {"category": "page interaction", "range": "7d"})

    table = {row.name: (row.events, row.previous) for row in response.context["names"]}
    expected = raw(
        """SELECT name, count(*) FILTER (WHERE timestamp >= %s),
            count(*) FILTER (WHERE timestamp < %s)
        FROM events WHERE category = 'page interaction' AND timestamp >= %s AND timestamp < %s
        GROUP BY name""",
        [START, START, START - timedelta(days=7), END],
    )
    assert table == {name: (now, before) for name, now, before in expected}
    assert response.context["total"] == sum(now for _, now, _ in expected)
    page = response.content.decode()
    assert (
        f'href="{reverse("dashboard:name")}?category=page+interaction&amp;range=7d&amp;name=scroll"'
        in page
    )


def test_it_filters_by_application(as_alice, known_events, mobile_app):
    response = as_alice.get(URL, {"category": "page interaction", "range": "7d", "app": "mobile"})

    shown = {
        name: {x: y for x, y in values.items() if y}
        for name, values in stacks(figure_of(response, "names")).items()
    }
    assert shown == raw_names("page interaction", START, END, mobile_app.application.pk)


def test_it_folds_many_names_into_other_in_the_chart_only(as_alice, put, web_app):
    for i in range(12):
        for _ in range(i + 1):
            put(web_app, END - timedelta(hours=2), category="many", name=f"name {i:02d}")

    response = as_alice.get(URL, {"category": "many", "range": "24h"})

    traces = [trace["name"] for trace in figure_of(response, "names")["data"]]
    assert traces[:8] == [f"name {i:02d}" for i in range(11, 3, -1)]
    assert traces[8:] == ["(others)"]
    assert sum(stacks(figure_of(response, "names"))["(others)"].values()) == sum(range(1, 5))
    assert len(response.context["names"]) == 12


def test_it_needs_a_category(as_alice, db):
    response = as_alice.get(URL)

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_it_draws_the_names_in_colours_other_than_the_categorys(as_alice, put, web_app):
    for i in range(11):
        put(web_app, END - timedelta(hours=2), category="many", name=f"name {i:02d}")

    response = as_alice.get(URL, {"category": "many", "range": "24h"})

    category_colour = response.context["category_colour"]
    assert category_colour == response.context["colours"]["many"]
    figure = figure_of(response, "names")
    colours = {trace["name"]: trace["line"]["color"] for trace in figure["data"]}
    assert category_colour not in colours.values()
    table = response.context["name_colours"]
    assert category_colour not in {table[row.name] for row in response.context["names"]}
    assert all(table[name] == colour for name, colour in colours.items())


def test_it_escapes_names_that_hold_markup_in_the_chart(as_alice, put, web_app):
    put(web_app, END - timedelta(hours=2), category="c", name="<b>bold</b> & <br>")

    response = as_alice.get(URL, {"category": "c", "range": "24h"})

    names = [trace["name"] for trace in figure_of(response, "names")["data"]]
    assert names == ["&lt;b&gt;bold&lt;/b&gt; &amp; &lt;br&gt;"]


@pytest.mark.parametrize("query", EXTREME_RANGES)
def test_it_refuses_a_range_off_the_calendar(as_alice, query):
    assert_refused_as_out_of_range(as_alice.get(URL, {**{"category": "page interaction"}, **query}))
