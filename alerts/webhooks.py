"""One POST to a webhook receiver, over within its time limit whatever the receiver does.

A socket timeout bounds each read, not the exchange: a receiver that sends its answer a
header line every few seconds kept a worker for five minutes an attempt (the 100 headers
http.client reads), and the workers that stall are the ones that store events. So a timer
shuts the connection's socket at the deadline, which ends any read or write blocked on it.
Redirects are not followed: a receiver's URL is the one staff gave, and a 3xx is its answer.
"""

import http.client
import socket
import threading
import urllib.parse
from contextlib import suppress


class WebhookFailed(Exception):
    """The receiver did not take the POST; the text says why."""


def webhook_post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """The receiver's 2xx status; WebhookFailed for any other answer, or none in time."""
    parts = urllib.parse.urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    try:
        connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    except (ValueError, http.client.InvalidURL) as exc:
        raise WebhookFailed(f"not a URL that can be reached: {exc}") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        if connection.sock is not None:
            with suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    # Connecting has the same limit of its own, so the whole attempt ends within it.
    timer = threading.Timer(timeout, expire)
    timer.start()
    status = 0
    try:
        connection.request("POST", path, body=body, headers=headers)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        if not expired.is_set():
            raise WebhookFailed(f"no answer: {exc or type(exc).__name__}") from None
    finally:
        timer.cancel()
        connection.close()
    if expired.is_set():
        # Whether the shut socket broke the exchange or read as the end of the headers
        # (an answer that looked whole), the receiver did not answer in time.
        raise WebhookFailed(f"no answer within {timeout:g} s")
    if not 200 <= status < 300:
        raise WebhookFailed(f"HTTP {status}")
    return status
