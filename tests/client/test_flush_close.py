"""flush() waits for the Eye's acknowledgement; close(), the context manager and the exit
of the program send what is buffered, within a bounded time."""

import subprocess
import sys
import threading
import time

import pytest
from eye_client import Eye, EyeClosed, Failure
from eye_client.sender import CLOSED_REASON

from tests.client.support import SESSION, Answer, Hold, process_env, script, stored_names
from tests.support import wait_for


def test_it_flush_waits_until_the_eye_acknowledged_everything(proxy, make_eye, web_app, consumer):
    eye = make_eye(proxy.url, web_app.writer, batch_size=1000, flush_interval=60)
    for i in range(250):
        eye.track(SESSION, "flush", f"event {i:03}")
    assert proxy.requests("POST") == []

    assert eye.flush(timeout=30)

    assert (eye.stats.sent, eye.stats.buffered) == (250, 0)
    [post] = proxy.requests("POST")
    assert (post.status, len(post.events)) == (202, 250)
    assert wait_for(lambda: len(stored_names()) >= 250, timeout=30)
    assert stored_names() == [f"event {i:03}" for i in range(250)]


def test_it_flush_returns_false_when_its_time_runs_out(proxy, make_eye, web_app):
    gate = threading.Event()
    proxy.rule = lambda seen: Hold(gate)
    eye = make_eye(proxy.url, web_app.writer)
    eye.track(SESSION, "flush", "held")
    started = time.monotonic()

    assert eye.flush(timeout=0.3) is False

    assert time.monotonic() - started < 2
    assert eye.stats.buffered == 1
    gate.set()
    assert eye.flush(timeout=30)
    assert eye.stats.sent == 1


def test_it_flush_does_not_wait_for_events_tracked_after_it(proxy, make_eye, web_app):
    gate = threading.Event()
    # The second batch is held; the flush of the first must not wait for it.
    proxy.rule = lambda seen: Hold(gate) if seen.number == 2 else None
    eye = make_eye(proxy.url, web_app.writer, flush_interval=0)
    eye.track(SESSION, "flush", "first")
    assert proxy.wait_for_requests(1)
    eye.track(SESSION, "flush", "second")
    assert proxy.wait_for_requests(2)

    assert eye.stats.sent == 1
    assert eye.flush(timeout=0.5) is False  # "second" is tracked before this flush
    gate.set()


def test_it_close_sends_what_is_buffered(proxy, make_eye, web_app):
    eye = make_eye(proxy.url, web_app.writer, flush_interval=60)
    for i in range(30):
        eye.track(SESSION, "close", f"event {i}")

    eye.close()

    assert (eye.stats.sent, eye.stats.buffered) == (30, 0)
    assert sum(len(s.events) for s in proxy.requests("POST")) == 30
    with pytest.raises(EyeClosed):
        eye.track(SESSION, "close", "too late")
    eye.close()  # a second close does nothing


def test_it_close_gives_up_after_its_timeout_and_reports_the_rest(proxy, make_eye, web_app):
    proxy.rule = lambda seen: Answer(503, {"Retry-After": "30"})
    failures: list[Failure] = []
    eye = make_eye(
        proxy.url, web_app.writer, batch_size=10, flush_interval=0, on_failure=failures.append
    )
    for i in range(25):
        eye.track(SESSION, "close", f"event {i}")
    assert proxy.wait_for_requests(1)
    started = time.monotonic()

    eye.close(timeout=0.5)

    assert time.monotonic() - started < 3
    assert (eye.stats.sent, eye.stats.dropped, eye.stats.buffered) == (0, 25, 0)
    assert sum(len(f.events) for f in failures) == 25
    assert all("closed before" in f.reason for f in failures)


def test_it_works_as_a_context_manager(proxy, web_app):
    with Eye(proxy.url, web_app.writer, flush_interval=60) as eye:
        eye.track(SESSION, "with", "inside")

    assert eye.stats.sent == 1
    assert [e["name"] for e in proxy.requests("POST")[0].events] == ["inside"]


def test_it_sends_what_is_buffered_when_the_program_exits(proxy, web_app, tmp_path):
    program = script(
        tmp_path / "app.py",
        f"""
import sys
from eye_client import Eye

eye = Eye(sys.argv[1], sys.argv[2], flush_interval=60)
for i in range(40):
    eye.track("{SESSION}", "exit", f"event {{i}}")
# No flush() and no close(): the atexit hook must send them.
""",
    )

    finished = subprocess.run(
        [sys.executable, str(program), proxy.url, web_app.writer],
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 0, finished.stderr
    assert sum(len(s.events) for s in proxy.requests("POST") if s.status == 202) == 40


def test_it_keeps_sending_from_a_forked_child(proxy, web_app, tmp_path, consumer):
    program = script(
        tmp_path / "forks.py",
        f"""
import os, sys
from eye_client import Eye

eye = Eye(sys.argv[1], sys.argv[2], flush_interval=60)
eye.track("{SESSION}", "fork", "parent before")
pid = os.fork()
if pid == 0:
    # The child has no sender thread of its own until it tracks.
    eye.track("{SESSION}", "fork", "child")
    eye.close()
    os._exit(0 if eye.stats.sent == 1 else 1)
_, status = os.waitpid(pid, 0)
eye.track("{SESSION}", "fork", "parent after")
eye.close()
sys.exit(os.waitstatus_to_exitcode(status) or (0 if eye.stats.sent == 2 else 2))
""",
    )

    finished = subprocess.run(
        [sys.executable, str(program), proxy.url, web_app.writer],
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 0, finished.stderr
    assert wait_for(lambda: len(stored_names()) >= 3, timeout=30)
    assert stored_names() == ["child", "parent after", "parent before"]


def test_it_cannot_flush_from_its_own_callback(proxy, make_eye, web_app):
    raised: list[BaseException] = []
    eye = None

    def on_failure(failure: Failure) -> None:
        try:
            eye.flush()
        except RuntimeError as exc:
            raised.append(exc)

    eye = make_eye(proxy.url, web_app.reader, on_failure=on_failure)
    eye.track(SESSION, "callback", "refused")

    assert eye.flush(timeout=30)
    assert len(raised) == 1


def test_it_logs_the_drops_of_each_reason_apart_and_all_of_them_by_the_close(
    proxy, web_app, caplog
):
    """Without on_failure, drops go to the log at most once an interval; those of a full
    buffer and those of the close are different news, and none may go unsaid."""
    # The proxy holds the first batch: the rest waits, and overflows.
    gate = threading.Event()
    proxy.rule = lambda seen: Hold(gate) if seen.method == "POST" else None
    eye = Eye(proxy.url, web_app.writer, max_buffer=5, batch_size=1, flush_interval=0)
    try:
        eye.track(SESSION, "drops", "in flight")
        assert proxy.wait_for_requests(1)
        caplog.set_level("WARNING", logger="eye_client")
        for i in range(12):
            eye.track(SESSION, "drops", f"event {i}")

        eye.close(timeout=0.2)
    finally:
        gate.set()

    logged: dict[str, int] = {}
    for record in caplog.records:
        text = record.getMessage().removeprefix("eye: ")
        count, _, reason = text.partition(" event(s) dropped: ")
        if reason:
            reason = reason.split(" (")[0]
            logged[reason] = logged.get(reason, 0) + int(count)
    # Behind the one in flight, 12 tracked and 5 kept: 7 dropped for room, then the 5
    # kept by the close.
    assert logged == {"the buffer was full": 7, CLOSED_REASON: 5}
    assert eye.stats.dropped == 12
