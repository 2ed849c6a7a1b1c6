"""Answers under /api/ are JSON in the API's error shape even when Django, not the API,
writes them: a bad Host header, too many fields, an unknown path or method, a crash.

Django's own error views answer in HTML; the project's error handlers (handler400 and
handler500 in eye.urls) answer with these instead, and a middleware turns whatever other
error page slips through (ninja's 405, say) into the same shape.
"""

from collections.abc import Callable
from http import HTTPStatus

import orjson
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse
from django.middleware.common import CommonMiddleware
from django.utils.http import escape_leading_slashes
from django.views import defaults

API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def api_error_response(status: int, message: str, *, field: str | None = None) -> HttpResponse:
    error = {"message": message} if field is None else {"field": field, "message": message}
    return HttpResponse(
        orjson.dumps({"success": False, "errors": [error]}),
        status=status,
        content_type="application/json",
    )


def _bad_request_error(exception: Exception | None) -> tuple[str, str | None]:
    if isinstance(exception, DisallowedHost):
        return "this server does not answer to that Host header", "Host"
    if isinstance(exception, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return f"too many parameters or fields; the limit is {limit}", None
    if isinstance(exception, RequestDataTooBig):
        return f"body is larger than the limit of {settings.EYE_MAX_BODY_BYTES} bytes", "body"
    return "the request cannot be read", None


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    message, field = _bad_request_error(exception)
    return api_error_response(400, message, field=field)


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api_request(request):
        return defaults.server_error(request)
    return api_error_response(500, "internal error; it was logged, and nothing was accepted")


class ApiErrorsAsJsonMiddleware:
    """Under /api/, an error answer that is not JSON becomes one in the API's shape, with
    its status and headers (Allow, Retry-After) kept."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not is_api_request(request)
            or response.get("Content-Type", "").startswith("application/json")
            or response.streaming
        ):
            return response
        try:
            message = HTTPStatus(response.status_code).phrase.lower()
        except ValueError:
            message = "the request was refused"
        if response.status_code == 405 and response.has_header("Allow"):
            message += f"; allowed: {response['Allow']}"
        replacement = api_error_response(response.status_code, message)
        for name, value in response.items():
            if name.lower() not in ("content-type", "content-length"):
                replacement[name] = value
        replacement.cookies = response.cookies
        return replacement


class AppendSlashMiddleware(CommonMiddleware):
    """Django's CommonMiddleware, except that under /api/ the slash it appends comes as a
    308 in the API's JSON shape. Its 301 makes clients that follow redirects (httpx,
    requests, fetch) send a POST again as a GET: `POST /api/event` answered 200 with a
    page of events, and the events in the body were lost."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            response.status_code == 404
            and is_api_request(request)
            and self.should_redirect_with_slash(request)
        ):
            location = escape_leading_slashes(request.get_full_path(force_append_slash=True))
            redirect = api_error_response(
                308, f"the address ends with a slash: {location.split('?')[0]}"
            )
            redirect["Location"] = location
            return redirect
        return super().process_response(request, response)
