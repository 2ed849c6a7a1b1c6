"""Ingest under load: wrk POSTs events to the running stack for a fixed time.

For one measurement (a body of 1, 100 or 1,000 events):
- t0 is taken just before wrk starts; wrk runs `duration` seconds with `connections`
  connections on one thread, and bench/wrk.lua counts every status exactly;
- accepted = the 202 answers wrk saw, times the events per body, over wrk's duration;
- the server's own count of accepted events (`eye_events_accepted_total` on /metrics,
  read before and after) also covers requests still in flight when wrk stopped, which
  the server may have accepted but wrk never saw answered: that is the number that
  storage must match;
- stored end to end = rows in `events` / (moment the last accepted row was visible - t0).
  After wrk stops, Redis is polled (cheap) until no task waits, then count(*) until it
  reaches the accepted number or stops moving for 30 s; the moment is that of the first
  count that saw every accepted row;
- lost = accepted (server) - stored; it must be 0.
"""

import json
import os
import re
import secrets
import subprocess
import time
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from bench.profile import stacks_dump
from bench.resources import Sampler
from bench.services import Database, Stack, events_count, log, wrk_path

LUA = Path(__file__).resolve().parent / "wrk.lua"
STALL_SECONDS = 30
STUCK_SECONDS = 10
# A path no route matches: Django resolves it through the whole middleware stack and
# answers a small 404. The Eye has no trivial view, so this is the "empty view" baseline.
EMPTY_PATH = "/bench/empty-view-404"


def metric_total(base_url: str, name: str) -> float | None:
    """A counter summed over its labels and processes, from /metrics; None if absent."""
    request = urllib.request.Request(f"{base_url}/metrics")
    token = os.environ.get("EYE_METRICS_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return None
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? ([0-9.eE+-]+)$", re.MULTILINE)
    values = [float(value) for value in pattern.findall(text)]
    return sum(values) if values else None


def metric_settled(base_url: str, name: str) -> float | None:
    """The counter once it stops moving: requests that were in flight when wrk stopped
    are still answered by gunicorn, and counted, a moment later."""
    value = metric_total(base_url, name)
    for _ in range(20):
        time.sleep(0.5)
        again = metric_total(base_url, name)
        if again == value:
            break
        value = again
    return value


def wrk_run(
    url: str,
    *,
    batch: int,
    duration: float,
    connections: int,
    key: str,
    log_path: Path,
    sampler: Sampler | None = None,
    profile: str = "live",
) -> dict:
    """Run wrk once; returns what bench/wrk.lua's done() printed, in seconds and ms."""
    env = {
        **os.environ,
        "BENCH_PROFILE": profile,
        "BENCH_BATCH": str(batch),
        "BENCH_KEY": key,
        "BENCH_RUN": secrets.token_hex(4),
    }
    command = [
        wrk_path(),
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        # wrk reads whole seconds only ("3.3s" is a usage error).
        f"{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "--latency",
        "--script",
        str(LUA),
        url,
    ]
    with open(log_path, "w") as output:
        output.write(" ".join(command) + "\n")
        output.flush()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        if sampler is not None:
            sampler.track("wrk", process.pid)
        try:
            process.wait(timeout=duration + 60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    lines = [line for line in log_path.read_text().splitlines() if line.startswith("BENCH_JSON ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed (exit {process.returncode}); see {log_path}")
    raw = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    seconds = raw["duration_us"] / 1e6
    statuses = {int(code): count for code, count in raw["statuses"].items()}
    return {
        "command": " ".join(command[1:]),
        "seconds": round(seconds, 3),
        "requests": raw["requests"],
        "requests_per_second": round(raw["requests"] / seconds, 1),
        "statuses": statuses,
        "socket_errors": {k: v for k, v in raw["errors"].items() if k != "status"},
        "latency_ms": {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()},
    }


def empty_view_measure(
    *, stack: Stack, duration: float, connections: int, log_dir: Path, sampler: Sampler
) -> dict:
    started = time.monotonic()
    result = wrk_run(
        stack.base_url + EMPTY_PATH,
        batch=0,
        duration=duration,
        connections=connections,
        key="",
        log_path=log_dir / "wrk-empty-view.log",
        sampler=sampler,
    )
    result["what"] = f"GET {EMPTY_PATH} (no route: Django's 404 through all middleware)"
    result["under_load"] = sampler.window(started, time.monotonic())
    return result


def stored_wait(
    *, database: Database, target: Future[int], sampler: Sampler, dump_path: Path
) -> tuple[int, float, bool]:
    """(rows, when they were first all visible, stalled?) once `target` rows are visible,
    or once nothing has moved (queue nor table) for STALL_SECONDS.

    `target` is still being settled (from /metrics) while this polls; every count is kept
    with the time it was asked, so the moment the last row became visible is known even
    if the target is known later. While tasks wait in Redis only Redis is polled (cheap);
    count(*), which competes with the consumer for the CPU, runs once the queue looks
    empty. When nothing moves for STUCK_SECONDS, the consumer's stacks are dumped once."""
    progress, moved, dumped = None, time.monotonic(), False
    seen: list[tuple[float, int]] = []  # (asked at, rows)
    while True:
        sample = sampler.sample()
        now = time.monotonic()
        if sample.queued or sample.in_hand:
            state: tuple = ("queue", sample.queued, sample.in_hand)
            pause = 0.05
        else:
            rows = events_count(database)  # sees every row committed before `now`
            seen.append((now, rows))
            if target.done() and rows >= target.result():
                first = min(at for at, n in seen if n >= target.result())
                return rows, first, False
            state, pause = ("rows", rows), 0.1
        if state != progress:
            progress, moved = state, now
        elif now - moved > STUCK_SECONDS and not dumped:
            dumped = True
            pids = [p.pid for p in sampler.stack.consumer_processes()]
            if stacks_dump(pids, dump_path):
                log(f"no progress for {STUCK_SECONDS} s; consumer stacks in {dump_path.name}")
        elif now - moved > STALL_SECONDS and target.done():
            return max([n for _, n in seen] or [events_count(database)]), moved, True
        time.sleep(pause)


def ingest_measure(
    *,
    stack: Stack,
    database: Database,
    sampler: Sampler,
    key: str,
    batch: int,
    duration: float,
    connections: int,
    log_dir: Path,
    profile: str = "live",
) -> dict:
    """One load of `batch`-event bodies of the `profile` ("live" or "backfill")."""
    name = ("single" if batch == 1 else f"batch{batch}") + f"-{profile}"
    stored_before = events_count(database)
    accepted_before = metric_total(stack.base_url, "eye_events_accepted_total")
    sampler.sample()
    started = time.monotonic()
    result = wrk_run(
        stack.base_url + "/api/event/",
        batch=batch,
        duration=duration,
        connections=connections,
        key=key,
        log_path=log_dir / f"wrk-{name}.log",
        sampler=sampler,
        profile=profile,
    )
    load_ended = time.monotonic()
    sampler.sample()
    accepted_client = result["statuses"].get(202, 0) * batch

    def accepted_by_server() -> int | None:
        after = metric_settled(stack.base_url, "eye_events_accepted_total")
        if after is None or accepted_before is None:
            return None
        return round(after - accepted_before)

    with ThreadPoolExecutor(max_workers=1) as pool:
        server = pool.submit(accepted_by_server)
        target = pool.submit(
            lambda: (
                stored_before
                + (server.result() if server.result() is not None else accepted_client)
            )
        )
        rows, last_seen, stalled = stored_wait(
            database=database,
            target=target,
            sampler=sampler,
            dump_path=log_dir / f"stuck-{name}.txt",
        )
    accepted_server = server.result()
    target_events = target.result() - stored_before
    stored = rows - stored_before
    end_to_end = last_seen - started
    non_2xx = sum(n for status, n in result["statuses"].items() if not 200 <= status < 300)
    return {
        **result,
        "batch": batch,
        "profile": profile,
        "connections": connections,
        "accepted_events_client": accepted_client,
        "accepted_events_per_second": round(accepted_client / result["seconds"], 1),
        "accepted_events_server": accepted_server,
        "in_flight_at_stop": None if accepted_server is None else accepted_server - accepted_client,
        "stored_events": stored,
        "end_to_end_seconds": round(end_to_end, 3),
        "drain_seconds": round(last_seen - load_ended, 3),
        "stored_events_per_second": round(stored / end_to_end, 1) if end_to_end > 0 else 0.0,
        "lost": target_events - stored,
        # Another program emptied the queue's Redis db mid-run: lost and stored are void.
        "interference": bool(
            sampler.window(started, time.monotonic()).get("queue_db_flushed_by_others")
        ),
        "lost_basis": "server metric" if accepted_server is not None else "client 202s only",
        "stalled": stalled,
        "stuck_dump": (log_dir / f"stuck-{name}.txt").name
        if (log_dir / f"stuck-{name}.txt").exists()
        else None,
        "non_2xx": non_2xx,
        "under_load": sampler.window(started, load_ended),
        "after_drain_queue": sampler.sample().queued,
        "whole_run": sampler.window(started, last_seen),
    }
