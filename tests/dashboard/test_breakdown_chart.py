"""The breakdown chart on the name and category pages and in Explore: the most frequent
values of the key picked in the URL, the rest as other, each value linked to Explore."""

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from dashboard.charts import LABEL_CHARS, value_labels
from events.tracked_keys import tracked_key_add, tracked_key_backfill
from tests.dashboard.support import NOW, SESSION_A


@pytest.fixture
def pageviews(put, web_app):
    for i in range(30):
        path = f"/p{i % 13}" if i % 3 else "/"
        put(
            web_app,
            NOW - timedelta(hours=1, minutes=i),
            data={"path": path, "form": {"plan": "pro"}},
        )
    put(web_app, NOW - timedelta(hours=2), data={})


def rows(html: str) -> list[tuple[str, str]]:
    table = html[html.index("data-breakdown") :]
    return re.findall(r'<td class="value-cell">(?:<a href="([^"]+)">)?([^<]+)', table)


@pytest.mark.parametrize(
    "page", [reverse("dashboard:name"), reverse("dashboard:category"), reverse("dashboard:explore")]
)
def test_it_breaks_the_kind_down_by_the_key_in_the_url(as_alice, pageviews, page):
    params = {"category": "page interaction", "name": "pageview", "by": "path", "range": "24h"}

    html = as_alice.get(page, params).content.decode()

    values = rows(html)
    assert len(values) == 10
    assert values[0][1] == "/"
    link = parse_qs(unescape(values[0][0]).split("?", 1)[1])
    assert link["key"] == ["path"] and link["value"] == ["/"]
    other = re.search(r"data-other>([\d,]+)<", html).group(1)
    # 31 events: the ten values shown, and the rest with the event without a path.
    shown = sum(
        int(n)
        for n in re.findall(
            r'</td><td class="num">(\d+)</td><td class="num">', html[html.index("data-breakdown") :]
        )[:10]
    )
    assert shown + int(other) == 31
    assert 'id="breakdown-figure"' in html


@pytest.mark.parametrize("by", ["pa\x00th", "k" * 256])
@pytest.mark.parametrize(
    "page", [reverse("dashboard:name"), reverse("dashboard:category"), reverse("dashboard:explore")]
)
def test_it_says_what_is_wrong_with_a_key_no_event_can_have(as_alice, pageviews, page, by):
    params = {"category": "page interaction", "name": "pageview", "by": by, "range": "24h"}

    response = as_alice.get(page, params)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="field-error" role="alert">Key: ' in html
    assert "data-breakdown" not in html


def test_it_reaches_into_objects_with_a_dotted_key(as_alice, pageviews):
    params = {"name": "pageview", "by": "form.plan", "range": "24h"}

    html = as_alice.get(reverse("dashboard:name"), params).content.decode()

    assert rows(html) == [("", "pro")]
    assert re.search(r"data-other>1<", html)


def test_it_computes_nothing_until_a_key_is_picked(as_alice, pageviews):
    html = as_alice.get(reverse("dashboard:name"), {"name": "pageview"}).content.decode()

    assert "data-breakdown" not in html
    assert '<option value="path">' in html


def source_note(html: str) -> tuple[str, str]:
    [(source, text)] = re.findall(r'data-breakdown-source="(\w+)">(.*?)</p>', html)
    return source, text


BY_PATH = {"category": "page interaction", "name": "pageview", "by": "path", "range": "24h"}


def test_it_says_an_untracked_key_is_read_from_raw_events_and_staff_may_track_it(
    as_alice, as_bob, pageviews
):
    for client, linked in ((as_alice, False), (as_bob, True)):
        html = client.get(reverse("dashboard:name"), BY_PATH).content.decode()

        source, text = source_note(html)
        assert source == "events" and "is not tracked" in text
        track = reverse("dashboard:manage_tracked_keys") + "?key=path"
        assert (f'href="{track}"' in text) is linked

    form = as_bob.get(reverse("dashboard:manage_tracked_keys"), {"key": "form.plan"})
    assert 'value="form.plan"' in form.content.decode()


def test_it_says_a_tracked_key_is_read_from_its_counts(as_alice, pageviews):
    tracked = tracked_key_add(key="path")
    tracked_key_backfill(tracked_key_id=tracked.pk)

    html = as_alice.get(reverse("dashboard:name"), BY_PATH).content.decode()
    assert source_note(html)[0] == "counts"

    # A session's breakdown is not kept in the counts: raw events, and the note says why.
    html = as_alice.get(
        reverse("dashboard:explore"), {**BY_PATH, "session": str(SESSION_A)}
    ).content.decode()
    source, text = source_note(html)
    assert source == "events" and "not tracked" not in text


@pytest.fixture
def long_paths(put, web_app):
    """Three paths of 20,000 characters that agree on their first thousand, and a path
    that reads as the chart's name for the others' series."""
    common = "/" + "x" * 1000
    paths = [f"{common}{n}" + "y" * 19_000 for n in range(3)] + ["(others)", "/short"]
    for i, path in enumerate(paths):
        for j in range(i + 1):
            put(web_app, NOW - timedelta(hours=1, minutes=j), data={"path": path})
    return paths


def trace_names(figure: dict) -> list[str]:
    return [trace["name"] for trace in figure["data"] if trace.get("name") != "Previous period"]


@pytest.mark.parametrize("page", [reverse("dashboard:explore"), reverse("dashboard:name")])
def test_long_values_are_cut_on_the_chart_and_in_the_table_and_never_merge(
    as_alice, long_paths, page
):
    params = {"category": "page interaction", "name": "pageview", "by": "path", "range": "24h"}

    response = as_alice.get(page, params)

    html = response.content.decode()
    names = trace_names(response.context["breakdown_figure"])
    assert len(names) == len(set(names)) == 5
    assert all(len(name) <= LABEL_CHARS + len(" (2)") for name in names)
    assert "(others) (2)" in names  # the path, not the others
    shown = rows(html)
    assert len(shown) == 5
    assert all(len(unescape(text)) <= 200 for _, text in shown)
    linked = {unescape(text) for href, text in shown if href}
    # Too long to filter Explore by in a link that opens: shown without one.
    assert linked == {"(others)", "/short"}
    # Explore's events keep their payloads whole, one click away; the breakdown cuts.
    breakdown = html[html.index('id="breakdown-title"') :]
    assert "y" * 1000 not in breakdown
    assert len(breakdown) < 100_000


def test_the_name_pages_top_values_are_cut_and_never_merge(as_alice, long_paths):
    response = as_alice.get(
        reverse("dashboard:name"),
        {"category": "page interaction", "name": "pageview", "key": "path", "range": "24h"},
    )

    labels = response.context["values_figure"]["data"][0]["y"]
    assert len(labels) == len(set(labels)) == 5
    assert all(len(label) <= LABEL_CHARS + len(" (2)") for label in labels)
    html = response.content.decode()
    assert "y" * 1000 not in html and len(html) < 300_000


def test_value_labels_cut_number_and_keep_clear_of_taken_names():
    long = "v" * 100

    assert value_labels([None, "/", long, long + "!", "(others)"], taken=["(others)"]) == [
        "(no value)",
        "/",
        "v" * (LABEL_CHARS - 1) + "\u2026",
        "v" * (LABEL_CHARS - 1) + "\u2026 (2)",
        "(others) (2)",
    ]
