import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# A client's own request id is kept when it looks like one, so that its logs and ours
# can be joined; anything else is replaced rather than echoed into our logs.
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestIdMiddleware:
    """Gives every request an id that follows its events into the worker's log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if CLIENT_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
