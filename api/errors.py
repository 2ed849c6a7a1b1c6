"""One error shape for the whole API: {"success": false, "errors": [{index?, field?, message}]}.

Views raise ApiError; ninja's own errors (authentication, query validation, 404) are
turned into the same shape by the handlers registered in `register_error_handlers`.
"""

import logging
from collections import Counter
from collections.abc import Iterable

import pydantic
from django.core.exceptions import SuspiciousOperation
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from api.refusals import refusal_note

logger = logging.getLogger("eye.api")


class ApiError(HttpError):
    def __init__(
        self, status_code: int, errors: list[dict], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, "; ".join(e["message"] for e in errors))
        self.errors = errors
        self.headers = headers or {}


def api_error(status_code: int, message: str, *, field: str | None = None) -> ApiError:
    error: dict = {"message": message}
    if field is not None:
        error["field"] = field
    return ApiError(status_code, [error])


def _field_of(loc: Iterable) -> str | None:
    """The dotted path of a location; a list's items by their index from 0 (`steps.2.name`),
    so that the one at fault among several is named."""
    return ".".join(str(part) for part in loc) or None


def _field_of_error(error: dict, loc: list) -> str | None:
    """A check over several fields names the one at fault in its context; otherwise the
    location says it."""
    return (error.get("ctx") or {}).get("field") or _field_of(loc)


# An event can hold a fault in every field it sends (60,000 unknown ones fit in a body),
# and the answer, and the refusal log that keeps it, must stay small: at most this many
# errors are listed per event; past MAX_ERRORS in all, only each event's first, so that
# every event at fault is still named by its index (a client drops those and resends the
# rest). A field named after a client's key is cut at MAX_FIELD_CHARS.
MAX_ERRORS_PER_EVENT = 10
MAX_ERRORS = 1_000
MAX_FIELD_CHARS = 200


def pydantic_errors(exc: pydantic.ValidationError, *, batch: bool) -> list[dict]:
    """Field-level errors; in a batch each names the index of its event."""
    errors: list[dict] = []
    per_event: Counter[int | None] = Counter()
    unlisted = 0
    for error in exc.errors(include_url=False, include_input=False):
        loc = list(error["loc"])
        index = loc.pop(0) if batch and loc and isinstance(loc[0], int) else None
        per_event[index] += 1
        if per_event[index] > MAX_ERRORS_PER_EVENT:
            unlisted += 1
            continue
        entry: dict = {} if index is None else {"index": index}
        entry["field"] = _shortened(_field_of_error(error, loc))
        entry["message"] = _message(error)
        errors.append(entry)
    if len(errors) > MAX_ERRORS:
        firsts: dict[int | None, dict] = {}
        for entry in errors:
            firsts.setdefault(entry.get("index"), entry)
        unlisted += len(errors) - len(firsts)
        errors = list(firsts.values())
    if unlisted:
        errors.append(
            {
                "message": f"{unlisted:,} more errors not listed: at most "
                f"{MAX_ERRORS_PER_EVENT} an event, and one an event past {MAX_ERRORS:,} in all"
            }
        )
    return errors


def _shortened(field: str | None) -> str | None:
    if field is None or len(field) <= MAX_FIELD_CHARS:
        return field
    return field[: MAX_FIELD_CHARS - 1] + "…"


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "is not a known field; put custom values inside data"
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "model_type":
        # A batch item that is not an object at all: nothing in it to name.
        return "must be an event object"
    return error["msg"]


def register_error_handlers(api: NinjaAPI) -> None:
    def respond(
        request: HttpRequest, status: int, errors: list[dict], headers: dict[str, str] | None = None
    ) -> HttpResponse:
        refusal_note(request, status, errors)
        response = api.create_response(request, {"success": False, "errors": errors}, status=status)
        for name, value in (headers or {}).items():
            response[name] = value
        return response

    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return respond(request, exc.status_code, exc.errors, exc.headers)

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return respond(request, exc.status_code, [{"message": str(exc)}])

    def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = respond(
            request,
            401,
            [
                {
                    "field": "Authorization",
                    "message": "missing or unknown API key; send Authorization: Bearer <key>",
                }
            ],
        )
        response["WWW-Authenticate"] = "Bearer"
        return response

    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = []
        for error in exc.errors:
            # ninja prefixes the location with where the value came from ("query", …).
            loc = list(error.get("loc", ()))[1:]
            errors.append(
                {
                    "field": _field_of_error(error, loc),
                    "message": _message(error),
                }
            )
        return respond(request, 422, errors)

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, [{"message": "not found"}])

    def on_suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        # Django answers these with 400 through handler400, and logs them as it should.
        raise exc

    def on_crash(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Logged, and signalled as Django does for an unhandled exception (Sentry listens
        # for it), then answered in the API's shape.
        logger.error("internal error on %s %s", request.method, request.path, exc_info=exc)
        got_request_exception.send(sender=None, request=request)
        return respond(
            request, 500, [{"message": "internal error; it was logged, and nothing was accepted"}]
        )

    api.add_exception_handler(ApiError, on_api_error)
    api.add_exception_handler(AuthenticationError, on_authentication_error)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(ValidationError, on_validation_error)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(SuspiciousOperation, on_suspicious)
    api.add_exception_handler(Exception, on_crash)
