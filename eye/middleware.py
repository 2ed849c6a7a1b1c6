import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.gzip import GZipMiddleware

from eye.metrics import request_seconds

logger = logging.getLogger("eye.request")

# A client's own request id is kept when it looks like one, so that its logs and ours
# can be joined; anything else is replaced rather than echoed into our logs.
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestIdMiddleware:
    """Gives every request an id that follows its events into the worker's log, and
    writes one log line and one latency observation per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if CLIENT_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        elapsed = time.perf_counter() - started
        # The route pattern, not the path: one label per endpoint, however many sessions.
        match = request.resolver_match
        endpoint = f"/{match.route}" if match and match.route else "unmatched"
        request_seconds.labels(request.method, endpoint, str(response.status_code)).observe(elapsed)
        principal = getattr(request, "auth", None)
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request.request_id,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "application_id": getattr(principal, "application_id", None),
            },
        )
        return response


class ContentSecurityPolicyMiddleware:
    """Django 5.2 has no CSP of its own; every answer gets the policy from settings."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.EYE_CONTENT_SECURITY_POLICY)
        return response


class DashboardGZipMiddleware(GZipMiddleware):
    """Compresses the dashboard's pages for browsers that take gzip: a page repeats its
    markup (the Funnels page lists every kind in each step's choice) and embeds its
    charts' data, and compresses to a sixth or less. Not the API, whose web processes are
    the ones that take events in and whose clients page small answers, nor a streamed
    export, which would cost a core for as long as it runs. Django's GZipMiddleware pads
    each compressed page by a random length against BREACH."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path_info.startswith("/api/") or response.streaming:
            return response
        return super().process_response(request, response)
