"""The supervisor of `make run` (eye/serve.py): a child that dies is started again, the
API keeps answering or is back within seconds, every accepted event is stored exactly once,
and a child that keeps dying at once makes it give up, loudly."""

import re
import signal
import sys
import threading
import time
import uuid

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from eye.processes import processes_read
from eye.serve import Child, supervise
from tests.ops.test_make_run import EyeProcess
from tests.support import SEED_EVENT, wait_for

# It starts an Eye on a database of its own, so either pass of `make test` runs the same test.
pytestmark = pytest.mark.own_database


def children_of(eye: EyeProcess, word: str) -> list[psutil.Process]:
    """The supervisor's own live children whose command line holds `word`."""
    found = []
    for child in psutil.Process(eye.process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and word in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def child_of(eye: EyeProcess, word: str) -> psutil.Process:
    [child] = children_of(eye, word)
    return child


class Load:
    """Single events posted one after another, each with its own event_id and retried
    with it until answered 202, as a careful client does: an event is accepted once and
    only once, whatever happens to the connection."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"}
        self.accepted: list[str] = []
        self.failures = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set() and len(self.accepted) < 5_000:
                event_id = str(uuid.uuid4())
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    try:
                        response = client.post(
                            f"{self.url}/api/event/",
                            headers=self.headers,
                            json={**SEED_EVENT, "event_id": event_id, "data": {"id": event_id}},
                        )
                        if response.status_code == 202:
                            self.accepted.append(event_id)
                            break
                    except httpx.HTTPError:
                        pass
                    self.failures += 1
                    time.sleep(0.05)

    def __enter__(self) -> "Load":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=40)


def still_running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class HealthWatch:
    """Asks /api/health without pause in the background and keeps every (process, state)
    pair it saw: a restart is over in about a second."""

    def __init__(self, eye: EyeProcess) -> None:
        self.eye = eye
        self.seen: set[tuple[str, str]] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            for process in (health(self.eye) or {}).get("processes") or []:
                self.seen.add((process["name"], process["state"]))

    def __enter__(self) -> "HealthWatch":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def health(eye: EyeProcess) -> dict | None:
    try:
        return httpx.get(f"{eye.url}/api/health", timeout=2).json()
    except httpx.HTTPError:
        return None


def restarts(eye: EyeProcess, process: str) -> float:
    text = httpx.get(f"{eye.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "eye_process_restarts_total"
                and sample.labels.get("process") == process
            ):
                return sample.value
    raise AssertionError(f"no eye_process_restarts_total for {process}")


def stored_event_ids(eye: EyeProcess, headers: dict) -> list[str]:
    ids = []
    next_url = f"{eye.url}/api/event/?limit=1000"
    while next_url:
        page = httpx.get(next_url, headers=headers, timeout=10).json()
        ids += [r["data"]["id"] for r in page["results"]]
        next_url = page["next"]
    return ids


def test_it_restarts_a_killed_consumer_and_web_server_and_loses_nothing(eye):
    eye.start()
    key = re.search(r"read and write\): (eye_\S+)", eye.log.read_text()).group(1)
    headers = {"Authorization": f"Bearer {key}"}

    with Load(eye.url, key) as load:
        assert wait_for(lambda: len(load.accepted) >= 50, timeout=20)

        # The consumer, as the OOM killer would: the API goes on accepting meanwhile,
        # and health names the worker that is restarting.
        consumer = child_of(eye, "run_huey")
        consumer_workers = consumer.children()
        with HealthWatch(eye) as watch:
            consumer.send_signal(signal.SIGKILL)
            assert wait_for(lambda: ("worker", "restarting") in watch.seen, timeout=10)
        answering = len(load.accepted)
        assert wait_for(lambda: len(load.accepted) > answering + 20, timeout=5)
        assert wait_for(
            lambda: any(c.pid != consumer.pid for c in children_of(eye, "run_huey")), timeout=10
        )
        # The old consumer's worker processes stopped by themselves.
        assert wait_for(lambda: not any(still_running(p) for p in consumer_workers), timeout=10)

        # Then the gunicorn master: back within seconds.
        web = child_of(eye, "gunicorn")
        web.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(0.5)
        assert wait_for(lambda: (health(eye) or {}).get("status") == "ok", timeout=30)
        # About 3 s here; the bound leaves room for a loaded machine.
        assert time.monotonic() - killed_at < 15
        answering = len(load.accepted)
        assert wait_for(lambda: len(load.accepted) > answering + 20, timeout=10)

    assert restarts(eye, "worker") == 1
    assert restarts(eye, "web") == 1
    states = {p["name"]: p for p in health(eye)["processes"]}
    assert states["web"] == {
        "name": "web",
        "state": "running",
        "restarts": 1,
        "last_exit": "SIGKILL",
    }

    # Every accepted event is stored, once.
    def all_stored() -> bool:
        count = httpx.get(f"{eye.url}/api/event/?limit=1", headers=headers, timeout=10)
        return count.json()["count"] >= len(load.accepted)

    assert wait_for(all_stored, timeout=30)
    stored = stored_event_ids(eye, headers)
    assert len(stored) == len(set(stored))
    assert sorted(stored) == sorted(set(load.accepted))

    # Ctrl-C still stops everything: the children, their own processes and the database.
    family = psutil.Process(eye.process.pid).children(recursive=True)
    assert eye.stop() == 0
    assert not any(still_running(p) for p in family)
    assert not (eye.data_dir / "postgres" / "postmaster.pid").exists()
    assert processes_read(data_dir=eye.data_dir) is None


def test_it_gives_up_loudly_on_a_child_that_keeps_dying_at_once(tmp_path, capfd):
    dies = Child("web", [sys.executable, "-c", "import sys; sys.exit(3)"], signal.SIGTERM)
    lives = Child("worker", [sys.executable, "-c", "import time; time.sleep(60)"], signal.SIGINT)
    for child in (dies, lives):
        child.start()

    started = time.monotonic()
    code = supervise([dies, lives], data_dir=tmp_path)

    assert code == 3
    # Restarted after 0.5, 1, 2 and 4 s, then given up on the fifth death in a row.
    assert dies.restarts == 4
    assert 7 <= time.monotonic() - started < 20
    output = capfd.readouterr().err
    assert output.count("eye: web died (exit 3)") == 4
    assert "GIVING UP: web died 5 times in a row" in output
    # The healthy child was stopped with it, and the record of children is gone.
    assert lives.process.poll() is not None
    assert processes_read(data_dir=tmp_path) is None
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_it_restarts_a_child_that_ran_for_a_while_after_the_shortest_pause(tmp_path, capfd):
    from eye import serve

    # A child that lived past STABLE_SECONDS is not dying at once: its count starts over.
    once = tmp_path / "once"
    script = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(once)!r})\n"
        "if p.exists(): time.sleep(60)\n"
        "p.touch(); time.sleep(0.3); sys.exit(1)\n"
    )
    child = Child("worker", [sys.executable, "-c", script], signal.SIGTERM)
    child.start()
    child.quick_deaths = serve.GIVE_UP_AFTER - 1  # as if it had died at once just before
    child.started_at -= serve.STABLE_SECONDS  # but it has now been running long enough

    stopper = threading.Timer(3, lambda: signal.raise_signal(signal.SIGTERM))
    stopper.start()
    try:
        assert supervise([child], data_dir=tmp_path) == 0
    finally:
        stopper.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    output = capfd.readouterr().err
    assert "restarting it in 0.5 s (restart 1)" in output
    assert "GIVING UP" not in output
