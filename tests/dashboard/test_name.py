"""A name's page: its volume over time and the top values of a data key."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.dashboard.support import (
    EXTREME_RANGES,
    NOW,
    assert_refused_as_out_of_range,
    axis_time,
    figure_of,
    raw,
    stacks,
)

URL = reverse("dashboard:name")
START, END = datetime(2026, 3, 11, 15, tzinfo=UTC), datetime(2026, 3, 18, 15, tzinfo=UTC)


def test_it_charts_the_volume_of_a_name_as_the_raw_events_count_it(as_alice, known_events):
    response = as_alice.get(
        URL, {"category": "page interaction", "name": "pageview", "range": "7d"}
    )

    assert response.status_code == 200
    shown = stacks(figure_of(response, "volume"))["page interaction"]
    expected = raw(
        """SELECT date_trunc('hour', timestamp, 'UTC'), count(*) FROM events
        WHERE category = 'page interaction' AND name = 'pageview'
        AND timestamp >= %s AND timestamp < %s GROUP BY 1""",
        [START, END],
    )
    assert {x: y for x, y in shown.items() if y} == {axis_time(b): n for b, n in expected}
    assert response.context["total"] == sum(n for _, n in expected)


def test_it_breaks_a_name_down_by_the_values_of_a_data_key(as_alice, known_events):
    response = as_alice.get(
        URL, {"category": "page interaction", "name": "pageview", "range": "30d", "key": "path"}
    )

    values = response.context["values"]
    expected = raw(
        """SELECT data->>'path', count(*) FROM events
        WHERE category = 'page interaction' AND name = 'pageview'
        AND timestamp >= '2026-02-17' AND timestamp < '2026-03-19' GROUP BY 1 ORDER BY 2 DESC""",
    )
    assert dict(values.rows) == dict(expected)
    assert [n for _, n in values.rows] == sorted((n for _, n in expected), reverse=True)
    assert not values.capped
    [bars] = figure_of(response, "values")["data"]
    assert dict(zip(bars["y"], bars["x"], strict=True)) == dict(expected)
    page = response.content.decode()
    assert "From all" in page
    # Each value filters Explore by it.
    assert "key=path&amp;value=%2Fpricing" in page


def test_it_picks_a_telling_key_and_offers_the_others(as_alice, put, web_app):
    put(web_app, NOW - timedelta(hours=1), name="cta click", data={"zeta": 1, "element": "hero"})
    put(web_app, NOW - timedelta(hours=2), name="cta click", data={"zeta": 2})

    response = as_alice.get(URL, {"name": "cta click"})

    assert response.context["key"] == "element"
    assert response.context["keys"] == ["zeta", "element"]
    assert response.context["values"].rows == [("hero", 1), (None, 1)]
    page = response.content.decode()
    assert '<option value="zeta">zeta</option>' in page
    # The key it picked goes with each value to Explore (without it, Explore refused the
    # link: a value needs its key).
    assert "name=cta+click&amp;key=element&amp;value=hero" in page


def test_it_reads_a_bounded_number_of_keys_newest_payload_first(
    as_alice, put, web_app, monkeypatch
):
    monkeypatch.setattr("events.stats.KEYS_READ", 500)
    for minutes in (1, 2):
        put(web_app, NOW - timedelta(hours=2, minutes=minutes), data={"older": 1})
    # Newer, with more keys than are read: the older payloads' key is not reached.
    put(web_app, NOW - timedelta(hours=1), data={f"k{i:03}": i for i in range(600)})
    params = {"category": "page interaction", "name": "pageview", "range": "24h"}

    offered = as_alice.get(URL, params).context["keys"]

    assert len(offered) == 50 and all(key.startswith("k") for key in offered)
    monkeypatch.setattr("events.stats.KEYS_READ", 50_000)
    assert as_alice.get(URL, params).context["keys"][0] == "older"


def test_it_reads_a_key_that_looks_like_a_number_as_an_object_key(as_alice, put, web_app):
    put(web_app, NOW - timedelta(hours=1), data={"7": "seven", "a.b": "dotted"})

    values = {
        key: as_alice.get(URL, {"name": "pageview", "key": key}).context["values"].rows
        for key in ("7", "a.b")
    }

    # A dot is part of a top-level key here, as in Explore's filter that the values link to.
    assert values == {"7": [("seven", 1)], "a.b": [("dotted", 1)]}


def test_it_counts_no_value_for_a_key_past_any_integer(as_alice, put, web_app):
    put(web_app, NOW - timedelta(hours=1), data={"path": "/"})

    response = as_alice.get(URL, {"name": "pageview", "key": "99999999999999999999999"})

    assert response.status_code == 200
    assert response.context["values"].rows == [(None, 1)]


def test_it_escapes_values_that_hold_markup_in_the_chart(as_alice, put, web_app):
    put(web_app, NOW - timedelta(hours=1), name="cta click", data={"element": "<i>x</i>"})

    response = as_alice.get(URL, {"name": "cta click", "key": "element"})

    [bars] = figure_of(response, "values")["data"]
    assert bars["y"] == ["&lt;i&gt;x&lt;/i&gt;"]


def test_it_draws_the_values_in_the_colour_of_the_names_category(as_alice, put, web_app):
    put(web_app, NOW - timedelta(hours=1), category="commerce", name="buy", data={"plan": "pro"})

    response = as_alice.get(URL, {"name": "buy"})

    [volume] = figure_of(response, "volume")["data"][:1]
    [bars] = figure_of(response, "values")["data"]
    assert bars["marker"]["color"] == volume["marker"]["color"]
    assert bars["marker"]["color"] == response.context["colours"]["commerce"]


def test_it_says_when_the_values_come_from_a_sample(as_alice, put, web_app, monkeypatch):
    from events import stats

    original = stats.data_value_counts
    monkeypatch.setattr(
        "dashboard.views.breakdown.data_value_counts",
        lambda **kwargs: original(**kwargs, sample=2),
    )
    for i in range(3):
        put(web_app, NOW - timedelta(minutes=i + 1), name="cta click", data={"element": f"e{i}"})

    response = as_alice.get(URL, {"name": "cta click", "key": "element", "range": "24h"})

    values = response.context["values"]
    # The newest two of three.
    assert values.rows == [("e0", 1), ("e1", 1)]
    assert values.capped
    assert "From the newest 2 events in the range." in response.content.decode()


def test_it_filters_by_application(as_alice, known_events, mobile_app):
    response = as_alice.get(URL, {"name": "submit", "range": "7d", "app": "mobile"})

    expected = raw(
        """SELECT count(*) FROM events WHERE name = 'submit' AND application_id = %s
        AND timestamp >= %s AND timestamp < %s""",
        [mobile_app.application.pk, START, END],
    )
    assert response.context["total"] == expected[0][0]


def test_it_needs_a_name(as_alice, db):
    assert as_alice.get(URL, {"category": "page interaction"}).status_code == 400


@pytest.mark.parametrize("query", EXTREME_RANGES)
def test_it_refuses_a_range_off_the_calendar(as_alice, query):
    assert_refused_as_out_of_range(as_alice.get(URL, {**{"name": "pageview"}, **query}))
