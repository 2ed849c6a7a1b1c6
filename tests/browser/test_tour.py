"""The README's dashboard tour: a picture of each main page, taken from the demo data the
way a new user first sees it. Pictures land in test-artifacts/screenshots/tour/; with
EYE_TOUR_DIR=docs/tour they also replace the README's own, so that those stay current."""

import os
from pathlib import Path

from tests.browser.conftest import SCREENSHOTS, log_in
from tests.browser.test_phone_width import legends_clear
from tests.support import ROOT

# Wide enough for the page's two columns, small enough for a README.
VIEWPORT = {"width": 1200, "height": 720}


def picture(page, name: str) -> None:
    """What fits on the screen (not the whole page): the top of a page is what it is for."""
    assert legends_clear(page), name
    targets = [SCREENSHOTS / "tour"]
    if os.environ.get("EYE_TOUR_DIR"):
        targets.append(ROOT / Path(os.environ["EYE_TOUR_DIR"]))
    for folder in targets:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"))


def test_it_takes_the_pictures_of_the_tour(page, alice, demo):
    from events.models import Event

    page.set_viewport_size(VIEWPORT)
    log_in(page)

    # The overview, as it opens: the last 24 hours by category against the 24 before.
    page.wait_for_selector("#volume .main-svg")
    picture(page, "overview")

    # A category's names over time, then one name broken down by a data key.
    page.locator('[data-category="page interaction"] .link-cell a').click()
    page.wait_for_selector("#names .main-svg")
    picture(page, "category")
    page.locator('[data-name="pageview"] a').first.click()
    page.wait_for_selector("#values .main-svg")
    assert page.locator("#key-pick").input_value() == "path"
    picture(page, "name")

    # Explore, filtered by the data key filter: the pageviews of the pricing page.
    page.goto("/explore/?category=page+interaction&name=pageview&key=path&value=%2Fpricing")
    assert page.locator("tr.event-row").count() > 0
    assert page.locator(".chips").inner_text().count("/pricing") == 1
    picture(page, "explore")

    page.goto("/sessions/?order=events")
    assert page.locator("table tbody tr").count() > 0
    picture(page, "sessions")

    session = Event.objects.filter(name="sign up").values_list("session_id", flat=True)[0]
    page.goto(f"/sessions/{session}/")
    assert page.locator(".timeline-step").count() > 3
    picture(page, "session")

    page.goto("/live/")
    assert page.locator("tr.event-row").count() > 0
    picture(page, "live")

    page.goto("/errors/")
    assert page.locator("table.refusals tbody tr").count() == 3
    picture(page, "errors")
