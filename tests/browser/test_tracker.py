"""The tracker in real headless Chromium: a page on another origin than The Eye's (another
port) with the one-line snippet, and a real consumer storing what it sends."""

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from events.keys import api_key_create
from events.models import Application, Event
from tests.support import ROOT, free_port, wait_for

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<script defer src="{eye}/eye.js" data-key="{key}"{attrs}></script></head>
<body>
<button id="buy">Buy</button> <button id="checkout">Checkout</button>
<button id="leave">Leave</button>
<script>
document.getElementById("buy").onclick = () =>
  eye.track("page interaction", "cta click", {{element: "buy"}});
document.getElementById("checkout").onclick = () => {{
  history.pushState({{}}, "", "/shop/checkout");
  document.title = "Checkout";
}};
document.getElementById("leave").onclick = () =>
  eye.track("page interaction", "last click", {{element: "leave"}});
</script>
</body></html>
"""


# A single-page app that bundles the tracker as an ES module instead of the script tag.
SPA_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>App</title>
<script type="module">
import {{ init }} from "/lib/browser.js";
window.app = init({{ key: "{key}", host: "{eye}" }});
</script></head><body></body></html>
"""


# The README's stub before the script tag, and calls made while the script is still loading.
EARLY_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Early</title>
<script>window.eye = window.eye || {{ q: [], track() {{ eye.q.push(["track", arguments]) }},
  session() {{ eye.q.push(["session", arguments]) }} }};</script>
<script defer src="{eye}/eye.js" data-key="{key}"></script>
<script>
eye.session("0f0e0d0c-0b0a-4908-8706-050403020100");
eye.track("page interaction", "first", {{n: 1}});
eye.track("page interaction", "second", {{n: 2}});
</script></head><body></body></html>
"""


class SitePages:
    """A web site of its own on another port. Every path answers the shop page, except
    /manual/ and /private/ (the same page with data-auto="false" or
    data-respect-dnt="true"), /early/ (calls before the script loaded), /spa/ (the ES
    module use) and /lib/ (tracker/src/)."""

    def __init__(self, *, port: int, eye: str, key: str) -> None:
        pages = {
            "/manual/": PAGE.format(eye=eye, key=key, attrs=' data-auto="false"'),
            "/private/": PAGE.format(eye=eye, key=key, attrs=' data-respect-dnt="true"'),
            "/early/": EARLY_PAGE.format(eye=eye, key=key),
            "/spa/": SPA_PAGE.format(eye=eye, key=key),
        }
        shop = PAGE.format(eye=eye, key=key, attrs="")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/lib/"):
                    body = (ROOT / "tracker" / "src" / self.path[5:]).read_bytes()
                    kind = "text/javascript"
                else:
                    body = pages.get(self.path, shop).encode()
                    kind = "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.port = port
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "SitePages":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def shop(live_server, consumer, transactional_db) -> Iterator[tuple[SitePages, Application]]:
    """The shop's site, and its application with a publishable key for the site's origin
    http://127.0.0.1:PORT (and not for http://localhost:PORT, the same site by another name)."""
    application = Application.objects.create(name="shop")
    port = free_port()
    _, key = api_key_create(
        application=application,
        can_read=False,
        can_write=True,
        origins=[f"http://127.0.0.1:{port}"],
    )
    with SitePages(port=port, eye=live_server.url, key=key) as site:
        yield site, application


@pytest.fixture
def tab(browser) -> Iterator:
    """A page that records uncaught errors only: a refused origin makes Chromium log the
    CORS refusal in the console, which is the browser's doing, not the page's."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.uncaught = []
    page.on("pageerror", lambda error: page.uncaught.append(str(error)))
    yield page
    context.close()


def stored(application: Application) -> list[Event]:
    return list(Event.objects.filter(application=application).order_by("timestamp"))


def test_it_stores_pageviews_clicks_navigations_and_the_last_click_exactly_once(shop, tab):
    site, application = shop
    tab.goto(f"http://127.0.0.1:{site.port}/shop/")
    tab.wait_for_function("window.eye && window.eye.version")
    tab.click("#buy")
    tab.click("#checkout")
    tab.wait_for_url("**/shop/checkout")
    # The last click, and the tab closed at once: only the beacon can carry it.
    tab.click("#leave")
    tab.close(run_before_unload=True)

    def all_there() -> bool:
        return len(stored(application)) >= 4

    started = time.monotonic()
    assert wait_for(all_there, timeout=10), [(e.name, e.data) for e in stored(application)]
    elapsed = time.monotonic() - started
    time.sleep(1.5)  # anything sent twice would be stored by now
    events = stored(application)
    seen = sorted((e.name, e.data["path"]) for e in events)
    assert seen == sorted(
        [
            ("pageview", "/shop/"),
            ("cta click", "/shop/"),
            ("pageview", "/shop/checkout"),
            ("last click", "/shop/checkout"),
        ]
    )
    assert len({e.event_id for e in events}) == 4
    assert {e.category for e in events} == {"page interaction"}
    assert len({e.session_id for e in events}) == 1
    first = next(e for e in events if e.name == "pageview" and e.data["path"] == "/shop/")
    assert first.data["host"] == f"127.0.0.1:{site.port}"
    assert first.data["title"] == "Shop"
    assert {"referrer", "title", "host", "path"} <= set(first.data)
    second = next(e for e in events if e.data["path"] == "/shop/checkout" and e.name == "pageview")
    assert second.data["referrer"] == f"http://127.0.0.1:{site.port}/shop/"
    assert not tab.uncaught
    assert elapsed < 5


def test_a_page_on_an_origin_the_key_does_not_allow_stores_nothing_and_breaks_nothing(shop, tab):
    site, application = shop
    tab.goto(f"http://localhost:{site.port}/shop/")
    tab.wait_for_function("window.eye && window.eye.version")
    tab.click("#buy")
    tab.click("#checkout")
    tab.wait_for_timeout(2500)
    tab.close(run_before_unload=True)
    time.sleep(1.5)

    assert stored(application) == []
    assert tab.uncaught == []


def test_it_serves_the_script_cacheable_and_versioned(live_server, transactional_db):
    import httpx

    response = httpx.get(f"{live_server.url}/eye.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age" in response.headers["cache-control"]
    assert response.headers["x-eye-tracker-version"] == "1.0.0"
    again = httpx.get(
        f"{live_server.url}/eye.js", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.headers["vary"] == "Accept-Encoding"
    # Compressed for a client that takes gzip, as httpx does, the script's tag is weak;
    # a browser revalidates with the tag it got, either way.
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["etag"].startswith('W/"')
    plain = httpx.get(f"{live_server.url}/eye.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == response.text
    revalidated = httpx.get(
        f"{live_server.url}/eye.js", headers={"If-None-Match": plain.headers["etag"]}
    )
    assert revalidated.status_code == 304


def test_data_auto_false_sends_no_pageview_but_track_still_works(shop, tab):
    site, application = shop
    tab.goto(f"http://127.0.0.1:{site.port}/manual/")
    tab.wait_for_function("window.eye && window.eye.version")
    tab.click("#buy")
    tab.click("#checkout")

    assert wait_for(lambda: len(stored(application)) >= 1, timeout=10)
    time.sleep(1.5)
    assert [(e.name, e.data["path"]) for e in stored(application)] == [("cta click", "/manual/")]
    assert tab.uncaught == []


def test_data_respect_dnt_sends_nothing_when_the_browser_asks_not_to_be_tracked(shop, browser):
    site, application = shop
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})")
    tab = context.new_page()
    uncaught: list[str] = []
    tab.on("pageerror", lambda error: uncaught.append(str(error)))
    sent: list[str] = []
    tab.on("request", lambda request: "/api/event/" in request.url and sent.append(request.url))
    tab.goto(f"http://127.0.0.1:{site.port}/private/")
    tab.wait_for_function("window.eye && window.eye.version")
    tab.click("#buy")
    tab.wait_for_timeout(1500)
    context.close()
    time.sleep(1)

    assert sent == []
    assert stored(application) == []
    assert uncaught == []


def test_calls_made_before_the_script_loaded_arrive_once_and_in_order(shop, tab):
    site, application = shop
    tab.goto(f"http://127.0.0.1:{site.port}/early/")
    tab.wait_for_function("window.eye && window.eye.version")

    assert wait_for(lambda: len(stored(application)) >= 3, timeout=10)
    time.sleep(1.5)  # anything sent twice would be stored by now
    events = stored(application)
    assert sorted((e.name, e.data.get("n")) for e in events) == [
        ("first", 1),
        ("pageview", None),
        ("second", 2),
    ]
    by_name = {e.name: e for e in events}
    # The page's own session id, set before the script loaded, is the pageview's too.
    assert {str(e.session_id) for e in events} == {"0f0e0d0c-0b0a-4908-8706-050403020100"}
    assert (
        by_name["pageview"].timestamp <= by_name["first"].timestamp <= by_name["second"].timestamp
    )
    assert tab.evaluate("window.eye.q") is None
    assert tab.uncaught == []


def test_a_single_page_app_uses_the_es_module_entry(shop, tab):
    site, application = shop
    tab.goto(f"http://127.0.0.1:{site.port}/spa/")
    tab.wait_for_function("window.app && window.app.version")
    tab.evaluate("app.track('form interaction', 'submit', {form: 'signup'})")
    tab.evaluate("history.pushState({}, '', '/spa/step-2')")

    assert wait_for(lambda: len(stored(application)) >= 3, timeout=10)
    time.sleep(1)
    assert sorted((e.name, e.data["path"]) for e in stored(application)) == [
        ("pageview", "/spa/"),
        ("pageview", "/spa/step-2"),
        ("submit", "/spa/"),
    ]
    assert tab.uncaught == []
