"""Real headless Chromium, driven by Playwright, against pytest-django's live server.

Debian's Chromium is used (tests/services/chromium.sh installs it): `playwright install`
cannot download browsers on these machines. A machine without it fails these tests with a
message saying so; a skipped browser test would pass off an untested dashboard as green.
"""

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import ROOT

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Chromium is not installed, so the browser tests cannot run. "
            "Install it with `bash tests/services/chromium.sh` (Debian's `chromium` package).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def browser(chromium, django_db_setup):
    """One Chromium per test module. The test database is created before Playwright
    starts; while it runs, its sync API keeps an asyncio loop in this thread, which makes
    Django take every ORM call here (the tests' own setup and checks, the flush between
    tests) for a call from async code. They are plain synchronous code, and the live
    server answers from its own thread, so Django's guard is lifted for that time only:
    the module's tests, never the rest of the run (nor the processes it starts)."""
    from playwright.sync_api import sync_playwright

    guard = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if guard is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = guard


@pytest.fixture
def page(browser, live_server, store) -> Iterator:
    context = browser.new_context(
        viewport={"width": 1360, "height": 900}, accept_downloads=True, base_url=live_server.url
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    # Script errors, and console errors: a resource that failed to load, or anything the
    # Content-Security-Policy refused (it allows The Eye's own scripts only).
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    yield page
    context.close()
    assert not errors, f"errors in the browser: {errors}"


def screenshot(page, name: str) -> Path:
    """A full-page picture of what a person sees, kept as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def alice(transactional_db):
    from django.contrib.auth.models import User

    return User.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def demo(web_app, mobile_app, store) -> datetime:
    """Realistic sessions over the last three days from the project's demo generator,
    stored through the bulk write path, and a few refused requests."""
    from events.demo import demo_events
    from events.models import Refusal
    from events.services import event_bulk_copy

    # The demo ends at the present minute, so the hour still filling has its share too.
    end = datetime.now(UTC)
    for app, count, seed in ((web_app, 3000, 11), (mobile_app, 1200, 12)):
        event_bulk_copy(
            rows=demo_events(count=count, days=3, seed=seed, end=end),
            application_id=app.application.pk,
            received_at=end,
        )
    for minutes, errors, status in (
        (12, [{"field": "timestamp", "message": "is more than 300 seconds in the future"}], 422),
        (95, [{"message": "the API key is unknown or revoked"}], 401),
        (300, [{"field": "category", "message": "must not be empty or only white space"}], 422),
    ):
        Refusal.objects.create(
            created_at=datetime.now(UTC) - timedelta(minutes=minutes),
            application=None if status == 401 else web_app.application,
            status=status,
            errors=errors,
            body='{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": ""}',
            body_size=72,
        )
    return end


def log_in(page, username: str = "alice", password: str = "alice-password-1") -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
