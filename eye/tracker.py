"""/eye.js: the browser tracker (tracker/dist/eye.js, built from tracker/src/), served as
the static file it is, for any page on any site to load."""

import hashlib
import re
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.views.decorators.http import require_safe

TRACKER_FILE = settings.BASE_DIR / "tracker" / "dist" / "eye.js"
# An hour: a new version reaches pages within that time, and browsers revalidate by ETag.
MAX_AGE_SECONDS = 3600
# The line before the script tag in every snippet: until the deferred script has loaded,
# it queues the page's calls, which the script then replays (tracker/src/script.js).
TRACKER_STUB = (
    "<script>window.eye = window.eye || { q: [], "
    'track() { eye.q.push(["track", arguments]) }, '
    'session() { eye.q.push(["session", arguments]) } };</script>'
)


@cache
def tracker_script() -> tuple[bytes, str, str]:
    """The script, its ETag and its version, read once per process."""
    content = TRACKER_FILE.read_bytes()
    found = re.search(rb"The Eye tracker ([0-9A-Za-z.+-]+)", content)
    version = found.group(1).decode() if found else "unknown"
    return content, f'"{hashlib.sha256(content).hexdigest()[:20]}"', version


def _revalidates(if_none_match: str, etag: str) -> bool:
    """If-None-Match compares tags weakly (RFC 9110): a browser that got the script gzipped
    holds the weak tag the compression gave it (W/"…"), and must still get a 304."""
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in parse_etags(if_none_match))


@require_safe
def tracker_view(request: HttpRequest) -> HttpResponse:
    content, etag, version = tracker_script()
    if _revalidates(request.headers.get("If-None-Match", ""), etag):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(content, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    # The 200 varies with Accept-Encoding (it may be compressed), and a 304 says what its
    # 200 would (RFC 9110), or a shared cache could pair the tag with the other encoding.
    patch_vary_headers(response, ["Accept-Encoding"])
    response["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    response["X-Eye-Tracker-Version"] = version
    # Pages that isolate themselves (Cross-Origin-Embedder-Policy) may still load it.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
