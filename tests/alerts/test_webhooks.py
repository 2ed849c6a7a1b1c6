"""A webhook attempt ends within its limit and says why, whatever the receiver sends."""

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from alerts.webhooks import WebhookFailed, webhook_post
from tests.alerts.support import RawReceiver, headers_drip


@pytest.fixture
def receivers() -> Iterator[Callable[[Callable[[socket.socket], None]], RawReceiver]]:
    made: list[RawReceiver] = []

    def make(answer: Callable[[socket.socket], None]) -> RawReceiver:
        made.append(RawReceiver(answer))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def post(url: str, *, timeout: float = 1.0) -> int:
    return webhook_post(
        url, body=b"{}", headers={"Content-Type": "application/json"}, timeout=timeout
    )


def test_an_attempt_ends_at_its_limit_however_the_receiver_drips(receivers):
    receiver = receivers(headers_drip)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            post(receiver.url, timeout=1.0)
        except WebhookFailed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=attempt)
    thread.start()
    # The receiver would go on for a minute; the attempt is over long before.
    thread.join(timeout=10)
    assert not thread.is_alive()
    [failure] = outcome
    assert str(failure) == "no answer within 1 s"


@pytest.mark.parametrize(
    "reply",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        b"",
    ],
)
def test_an_answer_that_is_not_http_is_a_failure_with_a_reason(receivers, reply):
    receiver = receivers(lambda connection: connection.sendall(reply))

    with pytest.raises(WebhookFailed, match=r"^no answer: "):
        post(receiver.url)


def test_a_redirect_is_an_answer_not_followed(receivers):
    elsewhere = receivers(lambda connection: connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n"))
    receiver = receivers(
        lambda connection: connection.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
            % elsewhere.url.encode()
        )
    )

    with pytest.raises(WebhookFailed, match=r"^HTTP 302$"):
        post(receiver.url)
    assert elsewhere.connections == 0


def test_a_2xx_is_taken(receivers):
    receiver = receivers(lambda connection: connection.sendall(b"HTTP/1.1 202 Accepted\r\n\r\n"))

    assert post(receiver.url) == 202


def test_a_url_typed_with_any_character_is_sent_percent_encoded(receivers):
    receiver = receivers(lambda connection: connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n"))

    assert post(receiver.url + "/é?team=ü&x=a%20b") == 204
    [request] = receiver.requests
    assert request.startswith(b"POST /hook/%C3%A9?team=%C3%BC&x=a%20b HTTP/1.1\r\n")


def test_an_ipv6_address_without_a_port_is_that_address_on_port_80(receivers, monkeypatch):
    # urlsplit gives the hostname "::1:9411"; taken alone, http.client reads "9411" as the
    # port and "::1" as the host, and posted to another receiver.
    import http.client

    connected: list[tuple[str, int]] = []
    real = http.client.HTTPConnection.connect

    def recorded(connection) -> None:
        connected.append((connection.host, connection.port))
        real(connection)

    monkeypatch.setattr(http.client.HTTPConnection, "connect", recorded)
    with pytest.raises(WebhookFailed):
        post("http://[::1:9411]/hook", timeout=0.5)

    assert connected == [("::1:9411", 80)]


def test_credentials_in_the_url_are_sent_as_basic_auth(receivers):
    receiver = receivers(lambda connection: connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n"))
    url = receiver.url.replace("http://", "http://alert%20bot:s%3Acret@")

    assert post(url) == 204
    [request] = receiver.requests
    assert b"\r\nAuthorization: Basic YWxlcnQgYm90OnM6Y3JldA==\r\n" in request
    assert b"alert" not in request.split(b"\r\n")[0]


def answered(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/", "169.254.169.254, a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254, a cloud metadata address"),
    ],
)
def test_a_cloud_metadata_address_is_never_reached(url, reason, monkeypatch):
    connected: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: connected.append(address))

    with pytest.raises(WebhookFailed) as failed:
        post(url)

    assert str(failed.value) == f"not a receiver The Eye may reach: {reason}"
    assert connected == []


def test_internal_addresses_are_reached_unless_denied(receivers, settings):
    receiver = receivers(answered)
    by_name = receiver.url.replace("127.0.0.1", "localhost")

    assert post(receiver.url) == 204
    settings.EYE_ALERT_WEBHOOK_PRIVATE = "deny"
    with pytest.raises(WebhookFailed, match=r"127\.0\.0\.1, an internal address"):
        post(receiver.url)
    with pytest.raises(WebhookFailed, match=r"localhost resolves to (127\.0\.0\.1|::1), an"):
        post(by_name)
    assert receiver.connections == 1


def test_the_connection_goes_to_the_address_checked_without_a_second_lookup(receivers, monkeypatch):
    # A name server may answer a second lookup otherwise (DNS rebinding): the name is
    # resolved once, and the checked addresses are the ones connected to.
    receiver = receivers(answered)
    lookups: list[str] = []
    real = socket.getaddrinfo

    def counted(host, *args, **kwargs):
        lookups.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counted)

    assert post(receiver.url.replace("127.0.0.1", "localhost")) == 204
    assert lookups == ["localhost"]
