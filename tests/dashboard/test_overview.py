"""The overview: every number it shows equals a direct count over the raw events."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from events.models import Refusal
from tests.dashboard.support import (
    EXTREME_RANGES,
    NOW,
    assert_refused_as_out_of_range,
    axis_time,
    figure_of,
    raw,
    raw_one,
    stacks,
)

URL = reverse("dashboard:overview")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# What each range means at NOW (2026-03-18 14:25:30 UTC): whole buckets, the newest being
# the one still filling.
RANGES = {
    "1h": ({"range": "1h"}, at("2026-03-18 13:26"), at("2026-03-18 14:26"), "minute"),
    "24h": ({"range": "24h"}, at("2026-03-17 15:00"), at("2026-03-18 15:00"), "hour"),
    "7d": ({"range": "7d"}, at("2026-03-11 15:00"), at("2026-03-18 15:00"), "hour"),
    "30d": ({"range": "30d"}, at("2026-02-17 00:00"), at("2026-03-19 00:00"), "day"),
    "today": ({"range": "today"}, at("2026-03-18 00:00"), at("2026-03-18 15:00"), "hour"),
    "yesterday": ({"range": "yesterday"}, at("2026-03-17"), at("2026-03-18"), "hour"),
    "custom-days": (
        {"range": "custom", "start": "2026-02-01T00:00", "end": "2026-03-01T00:00"},
        at("2026-02-01"),
        at("2026-03-01"),
        "day",
    ),
    # 126 days: weekly buckets, widened to Mondays.
    "custom-weeks": (
        {"range": "custom", "start": "2025-11-12T08:00", "end": "2026-03-18T10:00"},
        at("2025-11-10"),
        at("2026-03-23"),
        "week",
    ),
}


def raw_stack(start, end, unit, app_id=None) -> dict[str, dict[str, int]]:
    app = "AND application_id = %s" if app_id else ""
    rows = raw(
        f"""SELECT date_trunc('{unit}', timestamp, 'UTC'), category, count(*) FROM events
        WHERE timestamp >= %s AND timestamp < %s {app} GROUP BY 1, 2""",
        [start, end] + ([app_id] if app_id else []),
    )
    result: dict[str, dict[str, int]] = defaultdict(dict)
    for bucket, category, count in rows:
        result[category][axis_time(bucket)] = count
    return dict(result)


def raw_count(start, end, app_id=None, column="count(*)") -> int:
    app = "AND application_id = %s" if app_id else ""
    return raw_one(
        f"SELECT {column} FROM events WHERE timestamp >= %s AND timestamp < %s {app}",
        [start, end] + ([app_id] if app_id else []),
    )


def nonzero(stack: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {
        key: {x: y for x, y in values.items() if y}
        for key, values in stack.items()
        if any(values.values())
    }


@pytest.mark.parametrize("case", sorted(RANGES))
def test_it_charts_events_per_bucket_by_category_as_the_raw_events_count_them(
    as_alice, known_events, case
):
    params, start, end, unit = RANGES[case]

    response = as_alice.get(URL, params)

    assert response.status_code == 200
    time_range = response.context["time_range"]
    assert (time_range.start, time_range.end, time_range.granularity) == (start, end, unit)
    figure = figure_of(response, "volume")
    shown = stacks(figure)
    assert nonzero(shown) == raw_stack(start, end, unit)
    # Every bucket of the range is on the axis, the empty ones as zero.
    buckets = {x for trace in shown.values() for x in trace}
    step = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}[unit]
    assert len(buckets) == (end - start).total_seconds() // step
    assert min(buckets) == axis_time(start)


@pytest.mark.parametrize("case", sorted(RANGES))
def test_it_totals_events_and_sessions_as_the_raw_events_count_them(as_alice, known_events, case):
    params, start, end, _ = RANGES[case]
    before = start - (end - start)

    response = as_alice.get(URL, params)

    context = response.context
    assert context["events"].current == raw_count(start, end)
    assert context["events"].previous == raw_count(before, start)
    assert context["sessions"].current == raw_count(start, end, column="count(DISTINCT session_id)")
    assert context["sessions"].previous == raw_count(
        before, start, column="count(DISTINCT session_id)"
    )
    html = response.content.decode()
    assert f'data-stat="events">{raw_count(start, end):,}<' in html


def test_it_draws_the_previous_period_as_a_dotted_line_over_the_same_buckets(
    as_alice, known_events
):
    response = as_alice.get(URL, {"range": "24h", "compare": "on"})

    [line] = [t for t in figure_of(response, "volume")["data"] if t["type"] == "scatter"]
    assert line["line"]["dash"] == "dot"
    expected = [
        raw_count(bucket - timedelta(hours=24), bucket - timedelta(hours=23))
        for bucket in (at("2026-03-17 15:00") + timedelta(hours=h) for h in range(24))
    ]
    assert line["y"] == expected
    assert line["x"][0] == "2026-03-17 15:00"


def test_it_leaves_the_comparison_out_when_unticked(as_alice, known_events):
    # An unticked box sends only the hidden "false" that precedes it in the filter bar.
    response = as_alice.get(URL, {"range": "24h", "compare": "false"})

    assert [t["type"] for t in figure_of(response, "volume")["data"]] == ["bar"] * 3
    assert 'name="compare" id="id_compare" checked' not in response.content.decode()


def test_it_compares_when_ticked(as_alice, known_events):
    response = as_alice.get(URL + "?range=24h&compare=false&compare=on")

    assert "scatter" in [t["type"] for t in figure_of(response, "volume")["data"]]


def test_it_compares_by_default_on_a_bare_url(as_alice, known_events):
    response = as_alice.get(URL)

    assert response.context["time_range"].preset == "24h"
    assert "scatter" in [t["type"] for t in figure_of(response, "volume")["data"]]
    assert 'name="compare" id="id_compare" checked' in response.content.decode()


@pytest.mark.parametrize(
    ("case", "partial"),
    [("1h", "2026-03-18 14:25"), ("24h", "2026-03-18 14:00"), ("30d", "2026-03-18 00:00")],
)
def test_it_hatches_the_bucket_still_filling(as_alice, known_events, case, partial):
    response = as_alice.get(URL, RANGES[case][0])

    for trace in figure_of(response, "volume")["data"]:
        if trace["type"] != "bar":
            continue
        shapes = dict(zip(trace["x"], trace["marker"]["pattern"]["shape"], strict=True))
        assert {x for x, shape in shapes.items() if shape} == {partial}
        assert trace["x"][-1] == partial
    assert "still filling" in response.content.decode()


def test_it_hatches_nothing_in_a_range_that_is_over(as_alice, known_events):
    response = as_alice.get(URL, {"range": "yesterday"})

    for trace in figure_of(response, "volume")["data"]:
        if trace["type"] == "bar":
            assert not any(trace["marker"]["pattern"]["shape"])
    assert "still filling" not in response.content.decode()


def test_it_filters_everything_by_application(as_alice, known_events, mobile_app):
    app_id = mobile_app.application.pk
    start, end = at("2026-03-11 15:00"), at("2026-03-18 15:00")

    response = as_alice.get(URL, {"range": "7d", "app": "mobile", "compare": "on"})

    context = response.context
    assert context["events"].current == raw_count(start, end, app_id)
    assert context["events"].current < raw_count(start, end)
    assert context["sessions"].current == raw_count(
        start, end, app_id, column="count(DISTINCT session_id)"
    )
    assert nonzero(stacks(figure_of(response, "volume"))) == raw_stack(start, end, "hour", app_id)
    [top] = [row for row in context["top_names"] if row.name == "submit"]
    assert top.events == raw_one(
        "SELECT count(*) FROM events WHERE name = 'submit' AND application_id = %s "
        "AND timestamp >= %s AND timestamp < %s",
        [app_id, start, end],
    )


def test_it_lists_top_categories_and_names_with_share_and_change(as_alice, known_events):
    start, end = at("2026-03-11 15:00"), at("2026-03-18 15:00")
    before = start - timedelta(days=7)

    response = as_alice.get(URL, {"range": "7d"})

    def counts(keys: str) -> list[tuple]:
        return raw(
            f"""SELECT {keys},
                count(*) FILTER (WHERE timestamp >= %s), count(*) FILTER (WHERE timestamp < %s)
            FROM events WHERE timestamp >= %s AND timestamp < %s
            GROUP BY {keys}""",
            [start, start, before, end],
        )

    categories = {
        row.category: (row.events, row.previous) for row in response.context["top_categories"]
    }
    assert categories == {c: (now, prev) for c, now, prev in counts("category")}
    names = {(r.category, r.name): (r.events, r.previous) for r in response.context["top_names"]}
    assert names == {(c, n): (now, prev) for c, n, now, prev in counts("category, name")}
    # Biggest first, each with its share of all events and its change.
    events = [row.events for row in response.context["top_names"]]
    assert events == sorted(events, reverse=True)
    html = response.content.decode()
    total = raw_count(start, end)
    first = response.context["top_categories"][0]
    assert f"{round(100 * first.events / total)}%" in html
    change = round(abs(first.events - first.previous) / first.previous * 100)
    assert f"{change:,}%" in html


def test_it_links_each_top_row_to_explore_filtered_by_it(as_alice, known_events):
    response = as_alice.get(URL, {"range": "7d", "app": "web", "compare": "on"})

    html = response.content.decode()
    explore = reverse("dashboard:explore")
    assert f'href="{explore}?range=7d&amp;app=web&amp;category=commerce"' in html
    assert (
        f'href="{explore}?range=7d&amp;app=web&amp;category=page+interaction&amp;name=cta+click"'
        in html
    )
    assert (
        f'href="{reverse("dashboard:category")}?range=7d&amp;app=web&amp;category=commerce"' in html
    )


def test_it_counts_refused_requests_in_the_range_and_before(as_alice, web_app, db):
    for minutes_ago in (5, 50, 70, 200):
        Refusal.objects.create(
            created_at=NOW - timedelta(minutes=minutes_ago),
            application=web_app.application if minutes_ago != 50 else None,
            status=422,
            errors=[{"field": "category", "message": "must not be empty"}],
        )

    everyone = as_alice.get(URL, {"range": "1h"}).context["refused"]
    web_only = as_alice.get(URL, {"range": "1h", "app": "web"}).context["refused"]

    # The last hour is 13:26 to 14:26; the one before it 12:26 to 13:26.
    assert (everyone.current, everyone.previous) == (2, 1)
    assert (web_only.current, web_only.previous) == (1, 1)


def test_it_counts_sessions_per_hour_range_from_session_activity(as_alice, put, web_app):
    # One session active in two hours is still one session.
    put(web_app, NOW - timedelta(hours=3), session="00000000-0000-0000-0000-000000000001")
    put(web_app, NOW - timedelta(hours=1), session="00000000-0000-0000-0000-000000000001")
    put(web_app, NOW - timedelta(hours=1), session="00000000-0000-0000-0000-000000000002")
    put(web_app, NOW - timedelta(hours=30), session="00000000-0000-0000-0000-000000000003")

    response = as_alice.get(URL, {"range": "24h"})

    assert (response.context["sessions"].current, response.context["sessions"].previous) == (2, 1)
    assert response.context["ratio"].current == 1.5


def test_it_shows_an_empty_state_without_events(as_alice):
    response = as_alice.get(URL)

    assert response.status_code == 200
    assert "No events in this range" in response.content.decode()
    assert response.context["events"].current == 0


def test_it_refuses_a_custom_range_that_ends_before_it_starts(as_alice):
    response = as_alice.get(
        URL, {"range": "custom", "start": "2026-03-10T00:00", "end": "2026-03-01T00:00"}
    )

    assert response.status_code == 400
    assert "The range must end after it starts." in response.content.decode()


def test_it_refuses_a_custom_range_without_both_ends(as_alice):
    response = as_alice.get(URL, {"range": "custom", "start": "2026-03-10T00:00"})

    assert response.status_code == 400
    assert "A custom range needs both From and To." in response.content.decode()


def test_it_refuses_an_unknown_preset_or_application(as_alice, web_app):
    assert as_alice.get(URL, {"range": "90y"}).status_code == 400
    assert as_alice.get(URL, {"app": "nope"}).status_code == 400


def test_it_says_every_time_is_utc(as_alice, known_events):
    html = as_alice.get(URL, {"range": "24h"}).content.decode()

    assert "2026-03-17 15:00 \u2013 2026-03-18 15:00 UTC" in html


def test_it_gives_each_category_the_same_colour_in_the_chart_and_the_tables(as_alice, known_events):
    response = as_alice.get(URL, {"range": "7d"})

    html = response.content.decode()
    for trace in figure_of(response, "volume")["data"]:
        if trace["type"] == "bar":
            colour = trace["marker"]["color"]
            assert f'style="--dot: {colour}"' in html
    colours = [t["marker"]["color"] for t in figure_of(response, "volume")["data"][:3]]
    assert len(set(colours)) == 3


def test_it_keeps_each_categorys_colour_when_new_categories_appear(
    as_alice, known_events, put, web_app
):
    from django.core.cache import cache

    def colours() -> dict[str, str]:
        figure = figure_of(as_alice.get(URL, {"range": "7d"}), "volume")
        return {t["name"]: t["marker"]["color"] for t in figure["data"] if t["type"] == "bar"}

    before = colours()
    for i in range(6):
        put(web_app, NOW - timedelta(minutes=5), category=f"new {i}", name="thing")
    cache.clear()
    after = colours()

    assert {category: after[category] for category in before} == before
    assert len(set(after.values())) == len(after)


MARKUP = '<a href="https://evil.example">Click to re-login</a>'
ESCAPED = '&lt;a href="https://evil.example"&gt;Click to re-login&lt;/a&gt;'


def test_it_escapes_a_category_that_holds_markup_in_the_chart(as_alice, put, web_app):
    put(web_app, NOW - timedelta(minutes=5), category=MARKUP, name="x")

    response = as_alice.get(URL, {"range": "24h"})

    names = [trace["name"] for trace in figure_of(response, "volume")["data"]]
    # Plotly would draw the raw name as a live link; escaped, it draws the text as typed.
    assert ESCAPED in names
    assert MARKUP not in names


def test_it_is_the_page_after_login(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"})

    assert response["Location"] == URL


def test_it_keeps_long_range_session_counts_for_a_minute_and_counts_a_day_afresh(
    as_alice, put, web_app
):
    from django.core.cache import cache

    put(web_app, NOW - timedelta(hours=2), session="00000000-0000-0000-0000-000000000001")
    assert as_alice.get(URL, {"range": "7d"}).context["sessions"].current == 1

    put(web_app, NOW - timedelta(hours=1), session="00000000-0000-0000-0000-000000000002")

    # Events are always fresh; a week's unique sessions may lag by up to a minute.
    week = as_alice.get(URL, {"range": "7d"}).context
    assert (week["events"].current, week["sessions"].current) == (2, 1)
    assert as_alice.get(URL, {"range": "24h"}).context["sessions"].current == 2
    cache.clear()
    assert as_alice.get(URL, {"range": "7d"}).context["sessions"].current == 2


@pytest.mark.parametrize("query", EXTREME_RANGES)
def test_it_refuses_a_range_off_the_calendar(as_alice, query):
    assert_refused_as_out_of_range(as_alice.get(URL, {**{}, **query}))
