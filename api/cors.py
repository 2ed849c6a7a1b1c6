"""CORS for the browser's way in: publishable keys, from their allowed origins only.

django-cors-headers decides from settings-wide origin lists (or a yes/no signal), answers
preflights with 200 and never refuses; here the allowed origins belong to each key, and an
origin the key does not allow must get 403 naming it. So this small module owns it:
  - an OPTIONS preflight to POST /api/event/?key=eye_pk_… from an allowed origin answers
    204 with the CORS headers; any other preflight is refused (401 or 403) without them;
  - an answer to a request that authenticated with a publishable key, from one of its
    origins, carries the same headers, errors included, so that the tracker can read a
    4xx and drop what will never be accepted instead of retrying it;
  - requests with secret keys never get CORS headers: they are for servers.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from api.errors import api_error
from api.refusals import refused_key_remember
from events.keys import KeyCheckUnavailable, KeyPrincipal, key_principal_get
from events.origins import origin_allowed

EVENT_PATH = "/api/event/"
ALLOW_METHODS = "POST, OPTIONS"
# What the tracker (and a hand-written fetch) may send besides the CORS-safelisted headers.
ALLOW_HEADERS = "Content-Type, Content-Encoding, Authorization, X-Eye-Sent-At, X-Request-ID"
# Chromium caps this at two hours; Firefox allows a day.
MAX_AGE_SECONDS = 7200


def origin_check(request: HttpRequest, principal: KeyPrincipal) -> None:
    """403 unless the request comes from a page on one of the publishable key's origins."""
    origin = request.headers.get("Origin")
    if origin and origin_allowed(origin, allowed=principal.origins or ()):
        return
    refused_key_remember(request, principal)
    if not origin:
        raise api_error(
            403,
            "a publishable key is for web pages, and this request has no Origin header",
            field="Origin",
        )
    raise api_error(
        403,
        f"origin {origin[:200]} is not allowed for this key; "
        "staff set its allowed origins in Admin → Applications",
        field="Origin",
    )


def cors_headers_set(response: HttpResponse, *, origin: str) -> None:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Expose-Headers"] = "Retry-After, X-Request-ID"
    vary = response.get("Vary")
    response["Vary"] = f"{vary}, Origin" if vary and "origin" not in vary.lower() else "Origin"


def _refusal(status: int, message: str, *, field: str) -> JsonResponse:
    return JsonResponse(
        {"success": False, "errors": [{"field": field, "message": message}]}, status=status
    )


def preflight_answer(request: HttpRequest, *, origin: str) -> HttpResponse:
    raw_key = request.GET.get("key", "").strip()
    if not raw_key:
        return _refusal(
            401,
            "a request from a web page carries its publishable key as ?key=eye_pk_…",
            field="key",
        )
    try:
        principal = key_principal_get(raw_key=raw_key)
    except KeyCheckUnavailable:
        return _refusal(503, "the key cannot be checked right now; retry later", field="key")
    if principal is None:
        return _refusal(401, "unknown or revoked key", field="key")
    if not principal.publishable:
        return _refusal(
            401,
            "a secret key must never be sent in the URL (it would end up in logs); "
            "web pages use a publishable key",
            field="key",
        )
    if not origin_allowed(origin, allowed=principal.origins or ()):
        return _refusal(403, f"origin {origin[:200]} is not allowed for this key", field="Origin")
    response = HttpResponse(status=204)
    cors_headers_set(response, origin=origin)
    response["Access-Control-Allow-Methods"] = ALLOW_METHODS
    response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    response["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    return response


class BrowserCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        origin = request.headers.get("Origin")
        if request.path != EVENT_PATH or not origin:
            return self.get_response(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return preflight_answer(request, origin=origin)
        response = self.get_response(request)
        # ninja sets `auth` once a key authenticated; a refused origin never got this far
        # without a 403 from origin_check, so the second check only guards that answer.
        principal = getattr(request, "auth", None)
        if (
            isinstance(principal, KeyPrincipal)
            and principal.publishable
            and origin_allowed(origin, allowed=principal.origins or ())
        ):
            cors_headers_set(response, origin=origin)
        return response
