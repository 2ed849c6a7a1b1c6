"""A misbehaving HTTP proxy in front of the live Eye, and small helpers for the client's tests.

The client must survive a real server's 503s, 429s and lost connections. Rather than mock
the client's HTTP layer, the tests put this proxy between the client and pytest-django's
live server: it forwards requests for real, and a rule chosen by the test can answer one
itself (a 503 with Retry-After), close the connection before or after forwarding (the
request lost, or only its answer), or hold it until the test lets it through.
"""

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from events.models import Event
from events.services import EventRow, event_bulk_create
from tests.support import ROOT

CLIENT_DIR = ROOT / "client"
SESSION = "e2085be5-9137-4e4e-80b5-f1ffddc25423"
# A held request waits at most this long, so that a failing test cannot hang the suite.
HOLD_LIMIT = 30.0
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "date",
    "server",
}
INJECTED = b'{"success": false, "errors": [{"message": "injected by the test proxy"}]}'


@dataclass(frozen=True)
class Answer:
    """Answer for the Eye, without forwarding."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = INJECTED


@dataclass(frozen=True)
class Drop:
    """Close the connection without an answer; with forward=True the Eye gets the request
    first, so only its answer is lost."""

    forward: bool = False


@dataclass(frozen=True)
class Hold:
    """Forward once the gate is set."""

    gate: threading.Event


Fault = Answer | Drop | Hold


@dataclass
class Seen:
    """One request as the proxy saw it, and what the client got back (None: nothing)."""

    number: int
    method: str
    path: str
    body: bytes
    at: float
    status: int | None = None
    forwarded: bool = False
    answer: bytes = b""

    @property
    def events(self) -> list[dict[str, Any]]:
        return json.loads(self.body) if self.body else []


Rule = Callable[[Seen], Fault | None]


class FaultyProxy:
    def __init__(self, upstream_port: int, *, rewrite_host: bool = False) -> None:
        self.upstream_port = upstream_port
        # With rewrite_host the Eye sees its own address in Host, so its `next` links
        # point past the proxy.
        self.rewrite_host = rewrite_host
        self.rule: Rule | None = None
        self.seen: list[Seen] = []
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def requests(self, method: str | None = None) -> list[Seen]:
        with self._changed:
            return [s for s in self.seen if method is None or s.method == method]

    def wait_for_requests(self, count: int, *, method: str = "POST", timeout: float = 15) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: len([s for s in self.seen if s.method == method]) >= count, timeout
            )

    def arrived(self, method: str, path: str, body: bytes) -> Seen:
        with self._changed:
            seen = Seen(len(self.seen) + 1, method, path, body, time.monotonic())
            self.seen.append(seen)
            self._changed.notify_all()
            return seen

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            if self.rewrite_host:
                sent = {k: v for k, v in sent.items() if k.lower() != "host"}
                sent["Host"] = f"127.0.0.1:{self.upstream_port}"
            connection.request(method, path, body=body or None, headers=sent)
            response = connection.getresponse()
            content = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            return response.status, kept, content
        finally:
            connection.close()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so that the client keeps its connection, as it would with the real Eye.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        proxy: FaultyProxy = self.server.proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = proxy.arrived(self.command, self.path, body)
        fault = proxy.rule(seen) if proxy.rule is not None else None
        if isinstance(fault, Hold):
            fault.gate.wait(HOLD_LIMIT)
            fault = None
        if isinstance(fault, Answer):
            self._reply(seen, fault.status, list(fault.headers.items()), fault.body)
            return
        if isinstance(fault, Drop) and not fault.forward:
            self.close_connection = True
            return
        status, headers, content = proxy.forward(self.command, self.path, dict(self.headers), body)
        seen.forwarded = True
        if isinstance(fault, Drop):
            self.close_connection = True
            return
        self._reply(seen, status, headers, content)

    def _reply(self, seen: Seen, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        seen.status = status
        seen.answer = body
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def run_eye(
    *args: str,
    env: dict[str, str],
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """The `eye` command in a process of its own, as a person would run it."""
    return subprocess.run(
        [sys.executable, "-m", "eye_client", *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=CLIENT_DIR,
    )


def process_env(**variables: str) -> dict[str, str]:
    """This environment, with the client importable whether or not it is installed."""
    env = {k: v for k, v in os.environ.items() if k not in ("EYE_URL", "EYE_KEY")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(CLIENT_DIR), env.get("PYTHONPATH", "")) if p
    )
    env.update(variables)
    return env


def script(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def stored_names() -> list[str]:
    return sorted(Event.objects.values_list("name", flat=True))


def stored_count() -> int:
    return Event.objects.count()


def recent(seconds_ago: float = 0) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds_ago)


def put_events(app, rows: list[dict[str, Any]]) -> None:
    """Store events directly, for tests about reading them."""
    event_bulk_create(
        rows=[
            EventRow(
                str(uuid.uuid4()),
                row["timestamp"],
                row.get("session_id", SESSION),
                row.get("category", "page interaction"),
                row["name"],
                json.dumps(row.get("data", {})),
            )
            for row in rows
        ],
        application_id=app.application.pk,
        received_at=datetime.now(UTC),
    )
