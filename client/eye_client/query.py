"""Reading events back: GET /api/event/, page after page through the `next` links."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from eye_client.errors import EyeConnectionError, EyeHTTPError, errors_of
from eye_client.events import format_instant
from eye_client.retry import RetriesExhausted, RetryPolicy, call_with_retries

MAX_PAGE_SIZE = 1000

Instant = datetime | date | str


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results, as the Eye returns it; `count` is over all pages."""

    count: int
    next: str | None
    previous: str | None
    results: list[dict[str, Any]]


def query_params(
    *,
    session_id: str | None = None,
    category: str | None = None,
    name: str | None = None,
    application: str | None = None,
    timestamp_start: Instant | None = None,
    timestamp_end: Instant | None = None,
    page_size: int = 100,
) -> dict[str, str]:
    """The query string of the first page. Only the filters given are sent: the Eye
    refuses an empty or unknown one rather than ignoring it."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    params = {"limit": str(page_size)}
    filters = {
        "session_id": session_id,
        "category": category,
        "name": name,
        "application": application,
    }
    for key, value in filters.items():
        if value is not None:
            params[key] = str(value)
    for key, instant in (("timestamp_start", timestamp_start), ("timestamp_end", timestamp_end)):
        if instant is not None:
            params[key] = format_instant(instant)
    return params


class Reader:
    def __init__(self, *, http: httpx.Client, endpoint: str, policy: RetryPolicy) -> None:
        self.http = http
        self.endpoint = endpoint
        self.policy = policy

    def pages(self, params: dict[str, str]) -> Iterator[Page]:
        """Every page, the first from `params`, each next one from the previous `next`."""
        url: str | None = self.endpoint
        request_params: dict[str, str] | None = params
        while url is not None:
            page = self._get(url, request_params)
            yield page
            url = self._same_origin(page.next) if page.next else None
            # The next link carries the filters and the cursor already.
            request_params = None

    def _same_origin(self, link: str) -> str:
        """The `next` link, pointed at the origin this client was given.

        The Eye builds its links from the Host it was asked for; behind a proxy that may be
        an internal name, and the key must never be sent to another host anyway. The path
        and query are the Eye's, as they are.
        """
        base, target = urlsplit(self.endpoint), urlsplit(link)
        if (target.scheme, target.netloc) == (base.scheme, base.netloc):
            return link
        return urlunsplit((base.scheme, base.netloc, target.path, target.query, ""))

    def _get(self, url: str, params: dict[str, str] | None) -> Page:
        try:
            response = call_with_retries(
                lambda: self.http.get(url, params=params), policy=self.policy
            )
        except RetriesExhausted as exc:
            if exc.response is not None:
                raise _http_error(exc.response) from None
            raise EyeConnectionError(f"cannot reach {self.endpoint}: {exc}") from None
        if response.status_code != 200:
            raise _http_error(response)
        try:
            body = response.json()
            return Page(
                count=int(body["count"]),
                next=body["next"],
                previous=body["previous"],
                results=list(body["results"]),
            )
        except (ValueError, KeyError, TypeError):
            raise EyeHTTPError(
                response.status_code, [], "the answer is not a page of events"
            ) from None


def _http_error(response: httpx.Response) -> EyeHTTPError:
    try:
        errors = errors_of(response.json())
    except ValueError:
        errors = []
    return EyeHTTPError(response.status_code, errors, response.text)
