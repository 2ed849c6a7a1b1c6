"""Exceptions raised by the client, and the wording of the server's error bodies."""

from typing import Any


class EyeError(Exception):
    """Base class of every error this package raises."""


class EyeClosed(EyeError):
    """track() was called after close()."""


class BufferFull(EyeError):
    """The buffer is full and the policy is "raise" (or "block" ran out of time)."""


class EyeConnectionError(EyeError):
    """The Eye could not be reached, even after retrying."""


class EyeHTTPError(EyeError):
    """The Eye answered with an error status.

    `errors` is the list of the body's `errors` ({index?, field?, message}); it is empty
    when the body was not the API's JSON (a proxy's error page, for instance).
    """

    def __init__(self, status: int, errors: list[dict[str, Any]], text: str = "") -> None:
        self.status = status
        self.errors = errors
        detail = describe_errors(errors) or text.strip()[:200] or "no details"
        super().__init__(f"HTTP {status}: {detail}")


def describe_errors(errors: list[dict[str, Any]], *, limit: int = 3) -> str:
    """`field: message` for the first few errors, as one line."""
    parts = []
    for error in errors[:limit]:
        where = ""
        if error.get("index") is not None:
            where += f"[{error['index']}] "
        if error.get("field"):
            where += f"{error['field']}: "
        parts.append(f"{where}{error.get('message', '')}".strip())
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


def errors_of(body: Any) -> list[dict[str, Any]]:
    """The `errors` list of an API error body, or [] when the body has none."""
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return [error for error in body["errors"] if isinstance(error, dict)]
    return []
