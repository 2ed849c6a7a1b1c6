"""The dashboard in a real browser: what a person does, and pictures of every page."""

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

from tests.browser.conftest import log_in, screenshot


def test_it_takes_a_person_from_login_to_an_exported_session(page, alice, demo):
    from events.models import Event

    page.goto("/")
    # Anonymous visitors land on the login page, which has real labels.
    page.wait_for_url("**/login/?next=/")
    screenshot(page, "login")
    log_in(page)

    # The overview draws its chart with plotly.js served by The Eye.
    page.wait_for_selector("#volume .main-svg")
    assert page.locator("#volume .main-svg .bars path").count() > 0
    assert re.fullmatch(r"[\d,]+", page.locator('[data-stat="events"]').inner_text())
    screenshot(page, "overview")

    # Explore, filtered by one session typed into the filter bar.
    session_id = str(Event.objects.order_by("-timestamp").first().session_id)
    expected = Event.objects.filter(session_id=session_id).count()
    page.get_by_role("link", name="Explore").click()
    page.get_by_label("Range").select_option("all")
    page.get_by_label("Session id").fill(session_id)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(rf".*session={session_id}.*"))
    assert page.locator("tr.event-row").count() == min(expected, 50)
    assert page.locator(".results-count strong").inner_text() == f"{expected:,}"

    # A payload opens in place, pretty-printed.
    first = page.locator("tr.event-row").first
    first.locator("details.payload summary").click()
    payload = first.locator("details.payload pre")
    assert payload.is_visible()
    assert payload.inner_text().startswith("{\n  ")
    json.loads(payload.inner_text())
    screenshot(page, "explore")

    # CSV export of exactly this filter.
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert len(rows) == expected
    assert {row["session_id"] for row in rows} == {session_id}
    assert download.value.suggested_filename.endswith(".csv")

    # The session's timeline, from the payload's link.
    first.get_by_role("link", name="Open session").click()
    page.wait_for_url(f"**/sessions/{session_id}/")
    assert page.locator(".timeline-step").count() == expected
    page.locator(".timeline-step summary").first.click()
    assert page.locator(".timeline-step pre").first.is_visible()
    screenshot(page, "session")


def test_it_shows_every_page_as_a_product_team_would_use_it(page, alice, demo):
    from events.models import Event

    log_in(page)
    busiest = Event.objects.filter(category="page interaction").values_list("name", flat=True)
    assert busiest.exists()

    page.goto("/?range=7d")
    page.wait_for_selector("#volume .main-svg")
    # A top category leads to its page, which draws its names as stacked areas.
    page.locator('[data-category="page interaction"] .link-cell a').click()
    page.wait_for_selector("#names .main-svg")
    screenshot(page, "category")

    page.locator('[data-name="pageview"] a').first.click()
    page.wait_for_selector("#volume .main-svg")
    page.wait_for_selector("#values .main-svg")
    assert page.locator("#key-pick").input_value() == "path"
    screenshot(page, "name")

    page.get_by_role("link", name="Sessions").click()
    page.wait_for_url("**/sessions/")
    assert page.locator("table tbody tr").count() > 0
    screenshot(page, "sessions")

    page.get_by_role("link", name="Errors").click()
    page.wait_for_url("**/errors/")
    assert page.locator("table.refusals tbody tr").count() == 3
    page.locator("table.refusals details summary").first.click()
    screenshot(page, "errors")

    page.get_by_role("link", name="Live").click()
    page.wait_for_url("**/live/")
    assert page.locator("tr.event-row").count() == 50
    screenshot(page, "live")


def test_it_streams_new_events_into_live_until_paused(page, alice, web_app, store):
    from events.services import EventRow, event_bulk_create

    def send(name: str, *, late: timedelta = timedelta(0)) -> None:
        now = datetime.now(UTC)
        event_bulk_create(
            rows=[
                EventRow(
                    str(uuid.uuid4()),
                    now - late,
                    str(uuid.uuid4()),
                    "page interaction",
                    name,
                    json.dumps({"path": "/"}),
                )
            ],
            application_id=web_app.application.pk,
            received_at=now,
        )

    send("first")
    log_in(page)
    page.goto("/live/")
    assert page.locator("tr.event-row").count() == 1

    send("arrived later")
    page.wait_for_selector("tr.event-row:has-text('arrived later')", timeout=8_000)
    assert page.locator("tr.event-row").first.inner_text().count("arrived later") == 1

    page.get_by_role("button", name="Pause").click()
    send("while paused")
    page.wait_for_timeout(4_500)
    assert page.locator("tr.event-row:has-text('while paused')").count() == 0
    page.get_by_role("button", name="Resume").click()
    page.wait_for_selector("tr.event-row:has-text('while paused')", timeout=8_000)
    assert page.locator("tr.event-row").count() == 3

    # Sent three hours late, it arrives now: Live orders by arrival, so it shows on top.
    send("three hours late", late=timedelta(hours=3))
    page.wait_for_selector("tr.event-row:has-text('three hours late')", timeout=8_000)
    assert "three hours late" in page.locator("tr.event-row").first.inner_text()
    # Polls reach a few seconds back; the rows already shown are not added twice.
    page.wait_for_timeout(2_500)
    assert page.locator("tr.event-row").count() == 4


def test_it_shows_where_the_keyboard_focus_is(page, alice, demo):
    log_in(page)
    page.goto("/explore/")

    # Skip link, brand, Overview, then Explore.
    for _ in range(4):
        page.keyboard.press("Tab")

    focused = page.evaluate(
        "() => [document.activeElement.textContent.trim(),"
        " getComputedStyle(document.activeElement).boxShadow]"
    )
    assert focused[0] == "Explore"
    assert "rgb(11, 92, 173)" in focused[1]  # the accent ring of :focus-visible


def test_it_says_how_far_an_export_has_got(page, alice, web_app, store):
    from events.services import EventRow, event_bulk_create

    now = datetime.now(UTC)
    event_bulk_create(
        rows=[
            EventRow(
                str(uuid.uuid4()),
                now - timedelta(seconds=i + 1),
                str(uuid.uuid4()),
                "page interaction",
                "pageview",
                json.dumps({"path": f"/{i}"}),
            )
            for i in range(120)
        ],
        application_id=web_app.application.pk,
        received_at=now,
    )
    log_in(page)
    page.goto("/explore/?range=24h")
    assert "Export 120 events:" in page.locator(".export").inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    assert "progress=" in download.value.url
    assert len(download.value.path().read_text().splitlines()) == 121
    progress = page.locator("[data-export-progress]")
    progress.filter(has_text="Export finished: 120 events written.").wait_for(timeout=8_000)
    assert progress.is_visible()


def test_it_shows_a_category_holding_markup_as_text_in_the_legend(page, alice, web_app, store):
    from events.services import EventRow, event_bulk_create

    markup = '<a href="https://evil.example">Click to re-login</a>'
    now = datetime.now(UTC)
    event_bulk_create(
        rows=[EventRow(str(uuid.uuid4()), now, str(uuid.uuid4()), markup, "x", "{}")],
        application_id=web_app.application.pk,
        received_at=now,
    )
    log_in(page)
    page.wait_for_selector("#volume .legend .legendtext")

    legend = page.locator("#volume .legend")
    assert markup in [text.text_content() for text in legend.locator(".legendtext").all()]
    # Plotly draws pseudo-HTML links as SVG anchors: none may come from the data.
    assert page.locator("#volume a").count() == 0
