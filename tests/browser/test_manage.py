"""The Admin area in a real browser: a staff member's round of it, and its pictures."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, screenshot


@pytest.fixture
def bob(transactional_db):
    from django.contrib.auth.models import User

    return User.objects.create_user("bob", password="bob-password-1", is_staff=True)


def test_it_takes_staff_through_keys_retention_deletions_schemas_and_the_log(
    page, bob, demo, consumer_without_periodic_tasks
):
    # The consumer's own quarter-hourly retention run, under the rule saved below, could
    # remove part of the session between its count and its deletion (then not 100%).
    from events.models import Event

    log_in(page, "bob", "bob-password-1")
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url("**/manage/applications/")
    screenshot(page, "manage-applications")

    page.get_by_label("Name", exact=True).fill("checkout")
    page.get_by_role("button", name="Create application").click()
    page.wait_for_url(re.compile(r".*/manage/applications/\d+/$"))
    # Keyboard: Tab reaches the rights boxes and Space ticks one.
    page.get_by_label("Read", exact=True).focus()
    page.keyboard.press("Space")
    assert page.get_by_label("Read", exact=True).is_checked()
    page.get_by_label("Rate limit per minute").fill("600")
    page.get_by_role("button", name="Issue key").click()
    secret = page.locator("#new-key-secret").inner_text()
    assert secret.startswith("eye_")
    screenshot(page, "manage-new-key")
    page.reload()
    assert page.locator("#new-key-secret").count() == 0

    page.get_by_role("link", name=re.compile("^Revoke key")).first.click()
    screenshot(page, "manage-key-revoke")
    page.get_by_role("button", name="Revoke key").click()
    expect(page.locator("tr.is-revoked")).to_have_count(1)
    page.get_by_role("link", name="Applications and keys").click()
    page.get_by_role("link", name="web", exact=True).click()
    page.get_by_role("link", name=re.compile("^Change key")).first.click()
    screenshot(page, "manage-key")
    page.go_back()
    page.wait_for_selector("#volume .main-svg")
    screenshot(page, "manage-application")

    page.get_by_role("link", name="Retention").click()
    page.get_by_label("Keep for (days)").fill("2")
    page.get_by_role("button", name="Preview").click()
    assert re.fullmatch(r"[\d,]+", page.locator('[data-stat="would-remove"]').inner_text())
    screenshot(page, "manage-retention-preview")
    page.get_by_role("button", name="Confirm and save").click()
    assert page.locator(".message").inner_text().startswith("Retention rule saved")

    session_id = str(Event.objects.order_by("-timestamp").first().session_id)
    page.get_by_role("link", name="Deletions").click()
    page.get_by_label("Session id").fill(session_id)
    page.get_by_role("button", name="Count events").first.click()
    screenshot(page, "manage-deletion-preview")
    page.get_by_role("button", name=re.compile("^Confirm: delete")).click()
    # The worker carries it out; the list follows without a reload.
    page.wait_for_selector('tr[data-status="done"]', timeout=30_000)
    assert page.locator('tr[data-status="done"] [data-stat="percent"]').inner_text() == "100%"
    screenshot(page, "manage-deletions")

    page.get_by_role("link", name="Event schemas").click()
    page.get_by_label("Category").fill("page interaction")
    page.get_by_label("Name", exact=True).fill("cta click")
    page.get_by_label("JSON Schema").fill('{"type": "object", "required": ["element"]}')
    page.get_by_role("button", name="Save schema").click()
    assert page.locator(".message").inner_text().startswith("Schema for page interaction")
    assert page.locator("tr[data-schema]").count() == 1
    screenshot(page, "manage-schemas")

    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/audit/")
    assert page.locator("tr[data-action]").count() >= 4
    screenshot(page, "manage-audit")
