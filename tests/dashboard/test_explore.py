"""Explore: filters in the URL, newest first, keyset pages, payloads one click away."""

import html
import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse

from events.paging import cursor_token, encode_cursor
from tests.dashboard.support import (
    EXTREME_RANGES,
    NOW,
    SESSION_A,
    SESSION_B,
    assert_refused_as_out_of_range,
    raw,
    raw_one,
)

URL = reverse("dashboard:explore")


def shown_ids(response) -> list[str]:
    return [str(event.event_id) for event in response.context["page"].rows]


def raw_ids(where: str = "true", params: list | None = None) -> list[str]:
    return [
        str(event_id)
        for (event_id,) in raw(
            f"SELECT event_id FROM events WHERE {where} ORDER BY timestamp DESC, event_id DESC",
            params,
        )
    ]


@pytest.fixture
def few(put, web_app, mobile_app) -> dict[str, uuid.UUID]:
    """Five events, each picked out by exactly one filter."""
    return {
        "old": put(web_app, NOW - timedelta(days=10), name="pageview", data={"path": "/"}),
        "a_pageview": put(web_app, NOW - timedelta(hours=5), data={"path": "/pricing"}),
        "a_click": put(
            web_app,
            NOW - timedelta(hours=4),
            name="cta click",
            data={"path": "/", "element": "chat bubble"},
        ),
        "b_submit": put(
            mobile_app,
            NOW - timedelta(hours=3),
            session=SESSION_B,
            category="form interaction",
            name="submit",
            data={"form": "signup", "depth": 50},
        ),
        "b_scroll": put(
            mobile_app,
            NOW - timedelta(hours=2),
            session=SESSION_B,
            name="scroll",
            data={"path": "/pricing", "depth": "50"},
        ),
    }


def test_it_lists_events_newest_first_over_the_last_7_days_by_default(as_alice, few):
    response = as_alice.get(URL)

    assert response.status_code == 200
    assert shown_ids(response) == [
        str(few[k]) for k in ("b_scroll", "b_submit", "a_click", "a_pageview")
    ]
    assert response.context["count"].value == 4


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"session": str(SESSION_B)}, ["b_scroll", "b_submit"]),
        ({"session": str(SESSION_A).upper()}, ["a_click", "a_pageview"]),
        ({"category": "form interaction"}, ["b_submit"]),
        ({"name": "cta click"}, ["a_click"]),
        ({"app": "mobile"}, ["b_scroll", "b_submit"]),
        ({"range": "1h"}, []),
        ({"range": "30d"}, ["b_scroll", "b_submit", "a_click", "a_pageview", "old"]),
        ({"range": "all"}, ["b_scroll", "b_submit", "a_click", "a_pageview", "old"]),
        (
            {"range": "custom", "start": "2026-03-18T10:00", "end": "2026-03-18T11:30"},
            ["b_submit", "a_click"],
        ),
        ({"key": "element"}, ["a_click"]),
        ({"key": "path", "value": "/pricing"}, ["b_scroll", "a_pageview"]),
        # A number typed in the form matches the JSON number and the string alike.
        ({"key": "depth", "value": "50"}, ["b_scroll", "b_submit"]),
        ({"key": "form", "value": "signup", "app": "mobile"}, ["b_submit"]),
        (
            {"category": "page interaction", "name": "pageview", "range": "all"},
            ["a_pageview", "old"],
        ),
    ],
)
def test_it_filters_by_each_field(as_alice, few, params, expected):
    response = as_alice.get(URL, params)

    assert response.status_code == 200
    assert shown_ids(response) == [str(few[k]) for k in expected]
    count = response.context["count"]
    assert (count.value, count.exact) == (len(expected), True)


def test_it_keeps_every_filter_in_the_url_of_its_links(as_alice, few):
    response = as_alice.get(URL, {"range": "30d", "app": "web", "category": "page interaction"})

    page = response.content.decode()
    assert 'value="page interaction"' in page
    assert '<option value="web" selected>' in page
    # The session link narrows the same view to one session, keeping the rest.
    assert (
        f'href="?range=30d&amp;app=web&amp;category=page+interaction&amp;session={SESSION_A}"'
        in page
    )
    assert 'href="?range=30d&amp;app=web&amp;category=page+interaction&amp;name=cta+click"' in page
    export = reverse("dashboard:export_csv")
    assert f'href="{export}?range=30d&amp;app=web&amp;category=page+interaction"' in page


def test_it_pages_by_cursor_through_every_event_exactly_once(as_alice, put, web_app):
    # 120 events with many ties on timestamp: pages must neither repeat nor skip any.
    for i in range(120):
        put(web_app, NOW - timedelta(minutes=30) - timedelta(seconds=i // 4))

    seen, cursor, pages = [], None, 0
    while True:
        response = as_alice.get(URL, {"range": "24h", **({"cursor": cursor} if cursor else {})})
        seen += shown_ids(response)
        pages += 1
        cursor = response.context["page"].next_cursor
        if not cursor:
            break

    assert pages == 3
    assert seen == raw_ids()
    assert "Older »" in response.content.decode()


def test_it_goes_back_to_newer_pages(as_alice, put, web_app):
    for i in range(60):
        put(web_app, NOW - timedelta(minutes=i + 1))
    first = as_alice.get(URL, {"range": "24h"})
    second = as_alice.get(URL, {"range": "24h", "cursor": first.context["page"].next_cursor})

    back = as_alice.get(URL, {"range": "24h", "cursor": second.context["page"].previous_cursor})

    assert shown_ids(back) == shown_ids(first)
    assert 'rel="prev"' in second.content.decode()
    assert 'rel="prev"' not in first.content.decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        # Well-formed JSON whose event id is a number.
        cursor_token(["2021-01-01T00:00:00+00:00", 123, 0]),
    ],
)
def test_it_starts_over_on_a_broken_cursor(as_alice, few, cursor):
    response = as_alice.get(URL, {"cursor": cursor})

    assert response.status_code == 200
    assert "This page link is broken" in response.content.decode()
    assert len(shown_ids(response)) == 4


def test_it_finds_a_page_far_down_through_the_index(as_alice, put, web_app):
    # A cursor deep in a long history answers with the events just before it.
    for i in range(5):
        put(web_app, NOW - timedelta(days=20, minutes=i))
    deep = encode_cursor(
        timestamp=NOW - timedelta(days=20),
        event_id=uuid.UUID(int=0),
        application_id=web_app.application.pk,
        backwards=False,
    )

    response = as_alice.get(URL, {"range": "all", "cursor": deep})

    assert shown_ids(response) == raw_ids("timestamp < %s", [NOW - timedelta(days=20)])


def test_it_refuses_a_malformed_filter(as_alice, few):
    response = as_alice.get(URL, {"session": "not-a-uuid"})

    assert response.status_code == 400
    assert "Enter a valid UUID." in response.content.decode()
    assert "page" not in response.context


def test_it_needs_a_key_for_a_value(as_alice, few):
    response = as_alice.get(URL, {"value": "/pricing"})

    assert response.status_code == 400
    assert "Name the data key" in response.content.decode()


def test_it_shows_each_payload_pretty_printed_with_copy_and_session_links(as_alice, few):
    response = as_alice.get(URL, {"name": "cta click"})

    page = response.content.decode()
    pretty = html.escape('{\n  "path": "/",\n  "element": "chat bubble"\n}', quote=True)
    assert f'<pre id="payload-{few["a_click"]}">{pretty}</pre>' in page
    assert f'data-copy="payload-{few["a_click"]}"' in page
    assert f'href="{reverse("dashboard:session", args=[SESSION_A])}">Open session</a>' in page
    assert "<details" in page


def test_it_escapes_payloads(as_alice, put, web_app):
    put(web_app, NOW - timedelta(minutes=5), data={"path": "</pre><script>alert(1)</script>"})

    page = as_alice.get(URL).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_it_counts_from_the_rollups_when_they_know_the_filters(as_alice, known_events):
    response = as_alice.get(URL, {"range": "30d", "category": "page interaction"})

    count = response.context["count"]
    assert count.exact
    assert count.value == raw_one(
        "SELECT count(*) FROM events WHERE category = 'page interaction' "
        "AND timestamp >= '2026-02-17' AND timestamp < '2026-03-19'"
    )
    assert re.search(rf"<strong>{count.value:,}</strong> events", response.content.decode())


def test_it_caps_a_count_the_rollups_cannot_give(as_alice, put, web_app, monkeypatch):
    monkeypatch.setattr("dashboard.views.explore.COUNT_CAP", 3)
    for i in range(5):
        put(web_app, NOW - timedelta(minutes=i + 1), data={"path": "/x"})

    response = as_alice.get(URL, {"key": "path", "value": "/x"})

    count = response.context["count"]
    assert (count.value, count.exact) == (3, False)
    html = response.content.decode()
    assert "<strong>3+</strong> events" in html
    assert "(counted up to 3: a filter on data or a session is counted event by event)" in html


def test_it_says_many_when_counting_would_take_too_long(as_alice, few, monkeypatch):
    from events.stats import EventCount

    monkeypatch.setattr("dashboard.views.explore.event_count", lambda **_: EventCount(None, False))

    response = as_alice.get(URL, {"key": "path"})

    assert "<strong>Many</strong> events" in response.content.decode()
    assert len(shown_ids(response)) == 3


def test_it_says_nothing_of_a_cap_when_the_count_is_exact(as_alice, known_events):
    html = as_alice.get(URL, {"range": "30d", "category": "commerce"}).content.decode()

    assert "counted up to" not in html


def test_it_suggests_the_categories_and_names_that_exist(as_alice, known_events):
    html = as_alice.get(URL).content.decode()

    categories = re.search(r'<datalist id="category-list">(.*?)</datalist>', html).group(1)
    names = re.search(r'<datalist id="name-list">(.*?)</datalist>', html).group(1)
    assert re.findall(r'<option value="([^"]+)">', categories) == [
        "commerce",
        "form interaction",
        "page interaction",
    ]
    assert re.findall(r'<option value="([^"]+)">', names) == [
        "cta click",
        "pageview",
        "purchase",
        "scroll",
        "submit",
    ]
    assert re.search(r'<input[^>]*name="category"[^>]*list="category-list"', html)
    assert re.search(r'<input[^>]*name="name"[^>]*list="name-list"', html)
    assert "An exact match, case included" in html


def test_it_points_to_the_value_a_filter_missed_by_its_case(as_alice, known_events):
    response = as_alice.get(
        URL, {"range": "30d", "category": "Page Interaction", "name": "PageView"}
    )

    assert response.context["page"].rows == []
    assert response.context["case_hints"] == [
        ("category", "Page Interaction", "page interaction"),
        ("name", "PageView", "pageview"),
    ]
    html = response.content.decode()
    assert "No category is “Page Interaction”: filters match exactly, case included." in html
    assert 'range=30d&amp;category=page+interaction&amp;name=PageView">page interaction</a>' in html


def test_it_gives_no_case_hint_when_the_filter_finds_events(as_alice, known_events):
    response = as_alice.get(URL, {"range": "30d", "category": "page interaction"})

    assert response.context["case_hints"] == []
    assert "case-hint" not in response.content.decode()


@pytest.mark.parametrize("query", EXTREME_RANGES)
def test_it_refuses_a_range_off_the_calendar(as_alice, query):
    assert_refused_as_out_of_range(as_alice.get(URL, query))
    # The exports read the same form, so they refuse the same range.
    assert as_alice.get(reverse("dashboard:export_csv"), query).status_code == 400


def test_it_lists_the_same_24_hours_as_the_overview_by_default(as_alice, known_events):
    overview = as_alice.get(reverse("dashboard:overview"), {"category": "page interaction"})
    response = as_alice.get(URL, {"category": "page interaction"})

    assert response.context["time_range"].preset == "24h"
    assert response.context["time_range"] == overview.context["time_range"]
    # A category followed from the overview's table lists as many events as it counted.
    [row] = [r for r in overview.context["top_categories"] if r.category == "page interaction"]
    assert response.context["count"].value == row.events
