"""One POST to a webhook receiver, over within its time limit whatever the receiver does.

A socket timeout bounds each read, not the exchange: a receiver that sends its answer a
header line every few seconds kept a worker for five minutes an attempt (the 100 headers
http.client reads), and the workers that stall are the ones that store events. So a timer
shuts the connection's socket at the deadline, which ends any read or write blocked on it.
Redirects are not followed: a receiver's URL is the one staff gave, and a 3xx is its answer.
Only the addresses alerts.webhook_addresses allows are connected to.
"""

import base64
import http.client
import socket
import threading
import urllib.parse
from contextlib import suppress

from alerts.webhook_addresses import AddressRefused, connector, receiver_addresses


class WebhookFailed(Exception):
    """The receiver did not take the POST; the text says why."""


# What a request line may carry as it is: RFC 3986's unreserved and sub-delims, ':' and
# '@' of a path, and '%' of escapes already made. Anything else (an IRI's "é", a space)
# is sent percent-encoded as UTF-8, as a browser sends it.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def request_target(parts: urllib.parse.SplitResult) -> str:
    """The path and query of a webhook URL as its request line sends them: ASCII only,
    where staff may have typed any character."""
    path = urllib.parse.quote(parts.path or "/", safe=_PATH_SAFE)
    query = urllib.parse.quote(parts.query, safe=_PATH_SAFE + "?")
    return path + (f"?{query}" if query else "")


def webhook_post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """The receiver's 2xx status; WebhookFailed for any other answer, or none in time."""
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "https"
    connection_class = http.client.HTTPSConnection if secure else http.client.HTTPConnection
    try:
        # The port always given: without one, http.client reads the last group of an IPv6
        # address (`[::1:9411]`, urlsplit's hostname `::1:9411`) as a port.
        port = parts.port or (443 if secure else 80)
        connection = connection_class(parts.hostname or "", port, timeout=timeout)
    except (ValueError, http.client.InvalidURL) as exc:
        raise WebhookFailed(f"not a URL that can be reached: {exc}") from None
    try:
        addresses = receiver_addresses(connection.host, connection.port)
    except AddressRefused as exc:
        raise WebhookFailed(f"not a receiver The Eye may reach: {exc}") from None
    except UnicodeError as exc:
        raise WebhookFailed(f"not a URL that can be reached: {exc}") from None
    except OSError as exc:
        raise WebhookFailed(f"no answer: {exc}") from None
    # http.client's own hook for opening its socket, given the addresses just checked so
    # that it does not look the name up again (TLS still checks the certificate against
    # the name).
    connection._create_connection = connector(addresses)  # type: ignore[attr-defined]
    path = request_target(parts)
    if parts.username is not None:
        # Credentials in the URL (`https://user:secret@host/`) are sent as Basic auth, as
        # curl and browsers send them.
        pair = (
            f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        )
        headers = {**headers, "Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
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
    except (UnicodeError, ValueError) as exc:
        # A header or host http.client cannot write: no attempt could ever succeed.
        raise WebhookFailed(f"not a URL that can be reached: {exc}") from None
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
