"""Slow and idle clients against the real gunicorn, started as `make run` and compose start
it (eye/serve.py's command, eye/gunicorn_conf.py): bodies at one byte a second, headers at
one line a second and hundreds of idle connections leave /api/health answering at once."""

import os
import socket
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from django.conf import settings as django_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from events.services import EventRow, event_bulk_create
from eye.serve import web_command
from eye.web_worker import RequestScan
from tasks.queue import worker_heartbeat_record
from tests.support import ROOT, SEED_EVENT, database_url_of_test_db, free_port, wait_for

READ_TIMEOUT = 3
WRITE_TIMEOUT = 2
NOW = datetime.now(UTC)
BIG_DATA = orjson.dumps({"text": "x" * 16_000}).decode()


@pytest.fixture
def web(tmp_path, transactional_db, monkeypatch) -> Iterator[str]:
    """One gunicorn worker with two threads: two slow clients would be enough to silence
    a worker that gives each connection a thread."""
    port = free_port()
    env = {
        **os.environ,
        "EYE_DATABASE_URL": database_url_of_test_db(),
        "EYE_DATA_DIR": str(tmp_path / "var"),
        "EYE_WEB_THREADS": "2",
        "EYE_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT),
        "EYE_RESPONSE_WRITE_TIMEOUT": str(WRITE_TIMEOUT),
        # This process's, so that a session it signs in is one the server knows.
        "EYE_SECRET_KEY": django_settings.SECRET_KEY,
    }
    log = (tmp_path / "web.log").open("w")
    # web_command reads the thread count from this process's environment.
    monkeypatch.setenv("EYE_WEB_THREADS", env["EYE_WEB_THREADS"])
    process = subprocess.Popen(
        web_command("127.0.0.1", str(port), "1"),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    worker_heartbeat_record()

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_for(lambda: answers() or process.poll() is not None, timeout=30)
    assert answers(), (tmp_path / "web.log").read_text()
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def connect(url: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port_of(url)), timeout=10)


def response_of(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def post_bytes(key: str, body: bytes, *, extra: str = "") -> bytes:
    return (
        "POST /api/event/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nConnection: close\r\n{extra}"
    ).encode() + body


def test_it_keeps_answering_while_slow_and_idle_clients_hold_connections(web):
    stop = threading.Event()
    held: list[socket.socket] = []

    def trickle(opening: bytes, drip: bytes) -> None:
        sock = connect(web)
        held.append(sock)
        sock.sendall(opening)
        while not stop.wait(1):
            try:
                sock.sendall(drip)
            except OSError:
                return

    slow_headers = (b"GET /api/health HTTP/1.1\r\n", b"X-Slow: yes\r\n")
    slow_body = (
        b"POST /api/event/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n",
        b"[",
    )
    threads = [
        threading.Thread(target=trickle, args=args, daemon=True)
        for args in [slow_headers] * 10 + [slow_body] * 10
    ]
    try:
        held += [connect(web) for _ in range(200)]  # idle: connected, nothing sent
        for thread in threads:
            thread.start()
        time.sleep(1.5)  # every slow client has begun its request

        slowest = 0.0
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = httpx.get(f"{web}/api/health", timeout=2)
            slowest = max(slowest, time.monotonic() - started)
            assert response.status_code == 200
            time.sleep(0.2)
        assert slowest < 1.0
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for sock in held:
            sock.close()


def test_downloads_that_stop_being_read_let_go_of_their_threads(web, web_app, store, tmp_path):
    from django.contrib.auth.models import User
    from django.test import Client

    # Exports of about 16 MB each, streamed: more than the socket buffers hold.
    rows = [
        EventRow(str(uuid.uuid4()), NOW, SEED_EVENT["session_id"], "big", "page", BIG_DATA)
        for _ in range(1000)
    ]
    event_bulk_create(rows=rows, application_id=web_app.application.pk, received_at=NOW)
    signed_in = Client()
    signed_in.force_login(User.objects.create_user("alice", password="alice-password-1"))
    asking = (
        "GET /explore/export.csv?range=24h HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: sessionid={signed_in.cookies['sessionid'].value}\r\n\r\n"
    ).encode()
    stalled = []
    for _ in range(2):  # as many as the worker has threads
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(15)
        sock.connect(("127.0.0.1", port_of(web)))
        sock.sendall(asking)
        stalled.append(sock)
    try:
        time.sleep(1)  # both threads are streaming, and stuck

        started = time.monotonic()
        response = httpx.get(f"{web}/api/health", timeout=WRITE_TIMEOUT + 8)
        waited = time.monotonic() - started

        assert response.status_code == 200
        assert waited < WRITE_TIMEOUT + 3, waited

        # Both stalled downloads are cut short and their connections closed.
        def closed() -> int:
            return (tmp_path / "web.log").read_text().count("took no bytes of its answer")

        assert wait_for(lambda: closed() == 2, timeout=WRITE_TIMEOUT + 8)
        for sock in stalled:
            received = response_of(sock)
            assert received.startswith(b"HTTP/1.1 200")
            assert len(received) < 1_000 * len(BIG_DATA)
    finally:
        for sock in stalled:
            sock.close()


def test_it_answers_408_to_a_request_not_sent_in_time(web):
    with connect(web) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        answer = response_of(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert READ_TIMEOUT - 0.5 <= time.monotonic() - started < READ_TIMEOUT + 2


def test_it_closes_an_idle_connection_quietly(web):
    with connect(web) as sock:
        assert response_of(sock) == b""


def test_it_serves_a_body_that_arrives_in_pieces(web, web_app):
    body = orjson.dumps(SEED_EVENT)
    with connect(web) as sock:
        sock.sendall(post_bytes(web_app.writer, b"", extra=f"Content-Length: {len(body)}\r\n\r\n"))
        for i in range(0, len(body), 40):
            sock.sendall(body[i : i + 40])
            time.sleep(0.05)
        answer = response_of(sock)
    assert answer.startswith(b"HTTP/1.1 202"), answer


def test_it_hands_a_chunked_request_over_only_once_its_last_chunk_is_in(web, web_app):
    body = orjson.dumps([SEED_EVENT, SEED_EVENT])
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 50]), body[i : i + 50]) for i in range(0, len(body), 50)
    )
    with connect(web) as sock:
        sock.sendall(post_bytes(web_app.writer, b"", extra="Transfer-Encoding: chunked\r\n\r\n"))
        sock.sendall(chunks)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(100)  # nothing yet: the request is not whole
        sock.settimeout(10)
        sock.sendall(b"0\r\n\r\n")
        answer = response_of(sock)
    assert answer.startswith(b"HTTP/1.1 202"), answer
    assert b'"accepted":2' in answer


def test_it_refuses_a_chunked_body_over_the_limit(web, web_app, settings):
    one = orjson.dumps(SEED_EVENT)
    body = orjson.dumps([SEED_EVENT] * (settings.EYE_MAX_BODY_BYTES // len(one) + 1))
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096])
        for i in range(0, len(body), 4096)
    )
    with connect(web) as sock:
        sock.sendall(post_bytes(web_app.writer, b"", extra="Transfer-Encoding: chunked\r\n\r\n"))
        sock.sendall(chunks + b"0\r\n\r\n")
        answer = response_of(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer


def test_it_sends_100_continue_once_and_then_takes_the_body(web, web_app):
    body = orjson.dumps(SEED_EVENT)
    with connect(web) as sock:
        sock.sendall(
            post_bytes(
                web_app.writer,
                b"",
                extra=f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n",
            )
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = response_of(sock)
    assert answer.startswith(b"HTTP/1.1 202"), answer


def test_it_answers_pipelined_requests_in_order(web):
    request = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with connect(web) as sock:
        sock.sendall(request + request[:-2] + b"Connection: close\r\n\r\n")
        answer = response_of(sock)
    assert answer.count(b"HTTP/1.1 200") == 2


def test_it_refuses_a_body_over_the_limit_without_waiting_for_it(web, web_app, settings):
    with connect(web) as sock:
        sock.sendall(
            post_bytes(
                web_app.writer,
                b"[",
                extra=f"Content-Length: {settings.EYE_MAX_BODY_BYTES + 1}\r\n\r\n",
            )
        )
        started = time.monotonic()
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert time.monotonic() - started < 2


def test_it_answers_431_to_headers_that_never_end(web):
    with connect(web) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70_000)
        answer = response_of(sock)
    assert answer.startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcd", False),
        (b"POST / HTTP/1.1\r\ncontent-length:5\r\n\r\nabcde", True),
        # Framing gunicorn refuses at once: handed over, not waited for.
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", True),  # over the limit
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", False),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n", False),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", True),
        # More digits than int() reads: handed over for gunicorn to refuse, not raised.
        (b"POST / HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nabcde", True),
    ],
)
def test_it_knows_when_a_request_is_whole(data, complete):
    assert RequestScan().complete(data, max_body=1000) is complete


REQUESTS = [
    b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\nhello, world",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"".join(b"%x\r\n%s\r\n" % (n, b"z" * n) for n in (1, 2, 17, 1, 300, 5))
    + b"0\r\nTrailer: 1\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1\r\na\r\n" * 200 + b"0\r\n\r\n",
]


@given(request=st.sampled_from(REQUESTS), cuts=st.lists(st.integers(0, 2000), max_size=40))
@settings(max_examples=300, deadline=None)
def test_a_request_read_piece_by_piece_is_whole_when_it_is_whole_in_one_piece(request, cuts):
    """The worker's scan goes on from where the last piece left it; whatever the pieces,
    it must answer as a scan of everything at once does."""
    scan, buffered = RequestScan(), bytearray()
    edges = sorted({min(cut, len(request)) for cut in cuts} | {len(request)})
    previous = 0
    for edge in edges:
        buffered += request[previous:edge]
        previous = edge
        assert scan.complete(buffered, max_body=10_000) is RequestScan().complete(
            bytes(buffered), max_body=10_000
        ), edge
    assert scan.complete(buffered, max_body=10_000)


def test_a_content_length_of_thousands_of_digits_is_refused_and_the_worker_lives_on(web, tmp_path):
    sock = connect(web)
    sock.sendall(post_bytes("eye_x", b"", extra="Content-Length: " + "9" * 5000 + "\r\n\r\n"))
    answer = response_of(sock)
    sock.close()

    assert httpx.get(f"{web}/api/health", timeout=2).status_code == 200
    log = (tmp_path / "web.log").read_text()
    assert answer.startswith(b"HTTP/1.1 400"), (answer[:100], log[-2000:])
    # It ended the worker, and every request it held, before.
    assert "Exception in worker process" not in log and "Worker exiting" not in log


def test_it_keeps_its_control_socket_under_its_data_directory(web, tmp_path):
    control = tmp_path / "var" / "gunicorn.ctl"
    assert wait_for(control.is_socket, timeout=10)
    assert stat.S_IMODE(control.stat().st_mode) == 0o600
