"""Insights in a real browser: build a funnel on its page, save it to a new dashboard, and
open that dashboard again from the list."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from tests.browser.conftest import log_in, screenshot


def _journeys(app_id: int) -> None:
    """Twelve sessions from the landing page within the last day: eight see pricing, of
    which five submit the sign-up form."""
    from events.services import EventRow, event_bulk_create

    now = datetime.now(UTC)
    rows = []
    for i in range(12):
        session = str(uuid.uuid4())
        at = now - timedelta(hours=3, minutes=7 * i)
        steps = [("page interaction", "pageview", {"path": "/"})]
        if i < 8:
            steps.append(("page interaction", "pageview", {"path": "/pricing"}))
        if i < 5:
            steps.append(("form interaction", "submit", {"form": "signup"}))
        for n, (category, name, data) in enumerate(steps):
            when = at + timedelta(seconds=40 * n)
            rows.append(
                EventRow(str(uuid.uuid4()), when, session, category, name, json.dumps(data))
            )
    event_bulk_create(rows=rows, application_id=app_id, received_at=now)


def test_it_builds_a_funnel_saves_it_to_a_dashboard_and_opens_it(page, alice, web_app):
    _journeys(web_app.application.pk)
    log_in(page)
    page.get_by_role("link", name="Funnels").click()
    page.wait_for_url("**/funnels/")

    page.get_by_label("Step 1", exact=True).select_option(label="page interaction / pageview")
    page.locator('[name="key1"]').fill("path")
    page.locator('[name="value1"]').fill("/")
    page.get_by_label("Step 2", exact=True).select_option(label="page interaction / pageview")
    page.locator('[name="key2"]').fill("path")
    page.locator('[name="value2"]').fill("/pricing")
    page.get_by_label("Step 3", exact=True).select_option(label="form interaction / submit")
    page.get_by_role("button", name="Show funnel").click()
    page.wait_for_url("**/funnels/?*step3=*")
    page.wait_for_selector("#funnel .main-svg")
    sessions = page.locator("[data-sessions]").all_inner_texts()
    assert sessions == ["12", "8", "5"]
    funnel_url = page.url
    screenshot(page, "funnel")

    # Who dropped off after step 2: each one link from its timeline.
    page.locator('[data-dropoff="2"]').click()
    page.wait_for_url("**dropoff=2*")
    assert page.locator("[data-dropped] li").count() == 3
    page.locator("[data-dropped] a").first.click()
    page.wait_for_url("**/sessions/*/")
    page.goto(funnel_url)

    page.locator("details.save-insight summary").click()
    page.get_by_label("Name", exact=True).fill("Landing to sign-up")
    page.get_by_label("Description").fill("Who gets from the landing page to the form")
    page.get_by_label("Or a new dashboard").fill("Growth")
    page.get_by_role("button", name="Save insight").click()
    page.wait_for_url("**/dashboards/*/")
    dashboard_url = page.url
    card = page.locator('[data-card="funnel"]')
    assert "Landing to sign-up" in card.inner_text()
    page.wait_for_selector('[data-card="funnel"] .main-svg')
    assert card.locator("[data-number]").inner_text() == "12"
    screenshot(page, "insights-dashboard")

    # Open it again from the list of dashboards.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboards").click()
    page.wait_for_url("**/dashboards/")
    page.get_by_role("link", name="Growth").click()
    page.wait_for_url(dashboard_url)
    page.wait_for_selector('[data-card="funnel"] .main-svg')
    # The card leads back to the funnel it was saved from.
    page.get_by_role("link", name="Landing to sign-up").click()
    page.wait_for_url("**/funnels/?*")
    assert page.locator("[data-sessions]").all_inner_texts() == ["12", "8", "5"]
