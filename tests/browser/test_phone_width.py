"""Every page at a phone's width (390 px): nothing wider than the screen (tables scroll
inside their cards), and no chart legend over its chart; a picture of each page."""

from tests.browser.conftest import log_in, screenshot

PHONE = {"width": 390, "height": 844}
PAGES = {
    "overview": "/",
    "explore": "/explore/",
    "category": "/category/?category=page+interaction",
    "name": "/name/?category=page+interaction&name=pageview",
    "sessions": "/sessions/",
    "live": "/live/",
    "errors": "/errors/",
}
ADMIN_PAGES = {
    "applications": "/manage/applications/",
    "retention": "/manage/retention/",
    "deletions": "/manage/deletions/",
    "schemas": "/manage/schemas/",
    "audit": "/manage/audit/",
}
# How far the page reaches past the screen's right edge, and the elements that do.
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll("body *")]
        .filter((el) => el.getBoundingClientRect().right > width + 1)
        .filter((el) => !el.closest(".table-wrap, pre, .chart"))
        .map((el) => el.tagName.toLowerCase() + "." + el.className);
    return {extra: document.documentElement.scrollWidth - width, wide: wide.slice(0, 5)};
}"""
# The area each chart's legend shares with its plotting area, in square pixels.
LEGEND_OVERLAP = """() => [...document.querySelectorAll(".chart[data-figure]")].map((el) => {
    if (!el._fullLayout) return -1;
    const legend = el.querySelector(".legend");
    if (!legend) return 0;
    const a = legend.getBoundingClientRect();
    const box = el.getBoundingClientRect(), size = el._fullLayout._size;
    const left = box.left + size.l, top = box.top + size.t;
    const w = Math.min(a.right, left + size.w) - Math.max(a.left, left);
    const h = Math.min(a.bottom, top + size.h) - Math.max(a.top, top);
    return w > 0 && h > 0 ? Math.round(w * h) : 0;
})"""


def legends_clear(page) -> bool:
    """Every chart of the page is drawn, and no legend lies over its plotting area."""
    overlaps = page.evaluate(LEGEND_OVERLAP)
    return len(overlaps) == page.locator(".chart").count() and all(a == 0 for a in overlaps)


def check_page(page, name: str, url: str) -> None:
    page.goto(url)
    if page.locator(".chart").count():
        page.wait_for_selector(".chart .main-svg")
    overflow = page.evaluate(OVERFLOW)
    assert overflow["extra"] <= 0, (name, overflow)
    assert legends_clear(page), name
    screenshot(page, f"phone-{name}")


def test_it_fits_every_page_on_a_phone(page, alice, demo):
    from events.models import Event

    page.set_viewport_size(PHONE)
    check_page(page, "login", "/login/")
    log_in(page)
    session = Event.objects.order_by("-timestamp").values_list("session_id", flat=True)[0]
    for name, url in {**PAGES, "session": f"/sessions/{session}/"}.items():
        check_page(page, name, url)


def test_it_fits_every_admin_page_on_a_phone(page, demo, web_app):
    from django.contrib.auth.models import User

    User.objects.create_user("bob", password="bob-password-1", is_staff=True)
    page.set_viewport_size(PHONE)
    log_in(page, "bob", "bob-password-1")
    application = f"/manage/applications/{web_app.application.pk}/"
    for name, url in {**ADMIN_PAGES, "application": application}.items():
        check_page(page, name, url)
