"""Delivering batches: the background thread's loop and the fate of each event."""

import logging
import threading
from typing import Any

import httpx

from eye_client.buffer import Buffer, Item
from eye_client.errors import describe_errors, errors_of
from eye_client.reports import Ledger
from eye_client.retry import Aborted, RetriesExhausted, RetryPolicy, call_with_retries

logger = logging.getLogger("eye_client")

CLOSED_REASON = "the client was closed before they could be sent"


class BatchSender:
    """Posts one batch and settles every event in it: sent, refused or dropped.

    A 422 names the index of each bad event, so only those are refused and the rest are
    sent again at once. A 413 (the server's body limit is smaller than ours) splits the
    batch in two. Any other refusal (400, 401, 403, ...) refuses the whole batch.
    """

    def __init__(
        self,
        *,
        http: httpx.Client,
        endpoint: str,
        policy: RetryPolicy,
        ledger: Ledger,
        abort: threading.Event,
    ) -> None:
        self.http = http
        self.endpoint = endpoint
        self.policy = policy
        self.ledger = ledger
        self.abort = abort

    def deliver(self, items: list[Item]) -> None:
        # A stack of batches still to post: the next one to post is on top.
        work = [items]
        while work:
            batch = work.pop()
            try:
                work.extend(self._post(batch))
            except Exception:
                # A bug here must not kill the thread and strand every later event.
                logger.exception("eye: unexpected error while sending a batch")
                lost = [item.body for pending in [batch, *work] for item in pending]
                self.ledger.dropped(lost, reason="unexpected error in the client (see log)")
                return

    def _post(self, batch: list[Item]) -> list[list[Item]]:
        """Post `batch`; returns the batches still to post, in reverse order."""
        body = b"[" + b",".join(item.body for item in batch) + b"]"
        bodies = [item.body for item in batch]
        try:
            response = call_with_retries(
                lambda: self.http.post(self.endpoint, content=body),
                policy=self.policy,
                abort=self.abort,
                on_retry=self.ledger.retried,
            )
        except Aborted:
            self.ledger.dropped(bodies, reason=CLOSED_REASON)
            return []
        except RetriesExhausted as exc:
            status = exc.response.status_code if exc.response is not None else None
            self.ledger.dropped(bodies, reason=str(exc), status=status)
            return []

        status = response.status_code
        if 200 <= status < 300:
            self.ledger.sent(len(batch))
            return []
        errors = _errors(response)
        if status == 422:
            by_index = _errors_by_index(errors, len(batch))
            if by_index:
                for index, event_errors in sorted(by_index.items()):
                    self.ledger.refused(
                        [batch[index].body],
                        status=422,
                        errors=event_errors,
                        reason=describe_errors(event_errors),
                    )
                rest = [item for i, item in enumerate(batch) if i not in by_index]
                return [rest] if rest else []
        if status == 413 and len(batch) > 1:
            middle = len(batch) // 2
            return [batch[middle:], batch[:middle]]
        reason = describe_errors(errors) or f"HTTP {status}"
        self.ledger.refused(bodies, status=status, errors=errors, reason=reason)
        return []


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        return errors_of(response.json())
    except ValueError:
        return []


def _errors_by_index(errors: list[dict[str, Any]], size: int) -> dict[int, list[dict[str, Any]]]:
    """The errors of each event the 422 names. An index outside the batch is ignored; if
    none is usable the whole batch is refused, so a strange answer cannot loop."""
    by_index: dict[int, list[dict[str, Any]]] = {}
    for error in errors:
        index = error.get("index")
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < size:
            # The index points into the request's batch, which means nothing to the
            # reader of a one-event report.
            by_index.setdefault(index, []).append(
                {key: value for key, value in error.items() if key != "index"}
            )
    return by_index


def run_sender(buffer: Buffer, sender: BatchSender, *, max_bytes: int) -> None:
    """The background thread: take each due batch and deliver it, until closed and empty."""
    while (batch := buffer.take(max_bytes=max_bytes)) is not None:
        try:
            sender.deliver(batch)
        finally:
            buffer.settle()
