"""`eye tail`: the newest events first, then each new one once, as it arrives; run as a
real process for a bounded time while events are sent to the Eye."""

import json
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.client.support import CLIENT_DIR, SESSION, put_events, recent

OTHER_SESSION = "5b0c4a2e-2f0a-4a8e-9a57-2f1c9e1d7b10"


class Tail:
    """`eye tail` in a process of its own, its stdout read line by line in a thread."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eye_client", "tail", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=CLIENT_DIR,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_lines(self, count: int, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        got: list[str] = []
        while len(got) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"tail printed {got} and then nothing for {timeout} s")
            try:
                got.append(self.lines.get(timeout=remaining))
            except queue.Empty:
                continue
        return got

    def quiet_for(self, seconds: float) -> list[str]:
        """What it printed in `seconds` more (it should be nothing)."""
        time.sleep(seconds)
        extra = []
        while not self.lines.empty():
            extra.append(self.lines.get_nowait())
        return extra

    def interrupt(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        assert self.process.stderr is not None
        return code, self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def tails() -> Iterator[list[Tail]]:
    started: list[Tail] = []
    yield started
    for tail in started:
        tail.kill()


def test_it_prints_the_newest_events_then_each_new_one_once(
    cli_env, web_app, make_eye, eye_url, consumer, tails
):
    put_events(
        web_app,
        [
            {"name": "old 1", "timestamp": recent(3 * 3600)},
            {"name": "old 2", "timestamp": recent(2 * 3600)},
            {"name": "old 3", "timestamp": recent(3600)},
            {"name": "elsewhere", "timestamp": recent(1800), "session_id": OTHER_SESSION},
        ],
    )
    tail = Tail(
        "--session-id", SESSION, "--interval", "0.3", "--lines", "2", "--format", "ndjson",
        env=cli_env,
    )  # fmt: skip
    tails.append(tail)

    first = [json.loads(line)["name"] for line in tail.next_lines(2)]
    assert first == ["old 2", "old 3"]

    # Sent through the client while tail polls: a new event, and two events alike in
    # everything the API returns, which must both be printed.
    with make_eye(eye_url, web_app.writer) as eye:
        eye.track(SESSION, "tail", "new")
        twin = {"timestamp": recent(1).isoformat(), "data": {"same": True}}
        eye.track(SESSION, "tail", "twin", **twin)
        eye.track(SESSION, "tail", "twin", **twin)
        eye.track(OTHER_SESSION, "tail", "not followed")
    arrived = [json.loads(line) for line in tail.next_lines(3)]
    assert sorted(event["name"] for event in arrived) == ["new", "twin", "twin"]
    assert len({event["event_id"] for event in arrived}) == 3

    # Stored late, stamped ten seconds ago: within the lookback, so still printed.
    put_events(web_app, [{"name": "late", "timestamp": recent(10)}])
    assert [json.loads(line)["name"] for line in tail.next_lines(1)] == ["late"]

    assert tail.quiet_for(1.5) == []
    code, errors = tail.interrupt()
    assert code == 0, errors


def test_an_id_sent_again_with_another_timestamp_is_printed_as_the_event_it_is(
    cli_env, web_app, make_eye, eye_url, consumer, tails
):
    tail = Tail("--interval", "0.3", "--format", "ndjson", env=cli_env)
    tails.append(tail)
    assert tail.quiet_for(0.8) == []
    reused = str(uuid.uuid4())

    with make_eye(eye_url, web_app.writer) as eye:
        eye.track(SESSION, "tail", "first", event_id=reused, timestamp=recent(5).isoformat())
    [first] = [json.loads(line) for line in tail.next_lines(1)]
    with make_eye(eye_url, web_app.writer) as eye:
        eye.track(SESSION, "tail", "again", event_id=reused, timestamp=recent(1).isoformat())
    [again] = [json.loads(line) for line in tail.next_lines(1)]

    # Two events in the store (the id is kept once per timestamp): tail printed "first"
    # twice and never "again".
    assert (first["name"], again["name"]) == ("first", "again")
    assert tail.quiet_for(1) == []


def test_it_prints_one_readable_line_per_event(cli_env, web_app, tails):
    put_events(web_app, [{"name": "cta click", "timestamp": recent(60), "data": {"path": "/"}}])
    tail = Tail("--interval", "0.3", env=cli_env)
    tails.append(tail)

    [line] = tail.next_lines(1)

    assert line.split("  ")[1:] == [SESSION, "page interaction", "cta click", '{"path":"/"}']
    assert tail.quiet_for(0.8) == []
    assert tail.interrupt()[0] == 0


def test_its_lines_spell_control_characters_as_escapes(cli_env, web_app, tails):
    put_events(web_app, [{"name": "x\x1b[2Jy\u2066", "timestamp": recent(60)}])
    tail = Tail("--interval", "0.3", env=cli_env)
    tails.append(tail)

    [line] = tail.next_lines(1)

    assert line.split("  ")[3] == "x\\x1b[2Jy\\u2066"
    assert tail.interrupt()[0] == 0


def test_it_stops_with_the_eyes_message_when_the_key_cannot_read(eye_url, web_app, tails):
    from tests.client.support import process_env

    tail = Tail(env=process_env(EYE_URL=eye_url, EYE_KEY=web_app.writer))
    tails.append(tail)

    code = tail.process.wait(timeout=30)

    assert code == 3
    assert tail.process.stderr is not None
    assert "needs read rights" in tail.process.stderr.read()


class ScriptedEye:
    """Answers each window query of a Follower with the next of the given pages."""

    def __init__(self, *windows: list[dict]) -> None:
        self.windows = list(windows)

    def query(self, **filters: object) -> list[dict]:
        if filters.get("limit") == 1:
            return self.windows[0][:1]
        return self.windows.pop(0)


def test_it_tells_events_apart_by_event_id_not_by_contents():
    from datetime import UTC, datetime

    from eye_client.tail import Follower

    contents = {
        "timestamp": "2026-03-18T14:25:00.000000Z",
        "session_id": SESSION,
        "category": "page interaction",
        "name": "pageview",
        "data": {"path": "/"},
    }
    first = {**contents, "event_id": "00000000-0000-4000-8000-000000000001"}
    # Between two polls the first event was deleted and a twin in every content arrived:
    # the window holds as many alike events as before, yet one of them is new.
    twin = {**contents, "event_id": "00000000-0000-4000-8000-000000000002"}
    eye = ScriptedEye([first], [twin], [twin])
    follower = Follower(
        eye, {}, lookback=60, clock=lambda: datetime(2026, 3, 18, 14, 26, tzinfo=UTC)
    )

    assert follower.start(lines=1) == [first]
    assert follower.poll() == [twin]
    assert follower.poll() == []
