"""`make bench`: one benchmark run, its printed report and bench/results/<time>.json.

    make bench                          # the full run (30 s loads, queries at 1M and 10M)
    make bench BENCH_ARGS=--quick       # the same steps on small numbers, to try it out
    make bench BENCH_ARGS="--sizes 1000000 --profile"
    make bench-scale                    # growth: ingest and queries at 0, 10M and 30M
    make bench-scale BENCH_ARGS="--scale-sizes 0,1000000,3000000 --duration 10"

Steps: a PostgreSQL cluster (TimescaleDB if installed) and a Redis server of the run's
own, durable unless --fast-unsafe; migrate; The Eye started as `make run` does; an
empty-view baseline, then single, 100- and 1,000-event ingest under wrk, live and
backfill, each followed by the COPY ceiling of its own rows; a backlog stored by one
consumer and by two (the ratio); query latency at each size;
resources sampled throughout. Every process it starts is stopped at the end, also on
Ctrl-C.
"""

import argparse
import contextlib
import fcntl
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

from bench import (
    ceiling,
    consumers,
    ingest,
    insights,
    profile,
    query,
    report,
    resources,
    services,
)
from bench.resources import Sampler
from bench.services import ROOT, log

RESULTS = ROOT / "bench" / "results"


def options_parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small numbers everywhere (~1 min)")
    parser.add_argument("--duration", type=float, help="seconds of each ingest load (30)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument(
        "--web-workers",
        type=int,
        default=int(os.environ.get("EYE_WEB_WORKERS") or 2),
        help="gunicorn workers (EYE_WEB_WORKERS, else 2, as make run)",
    )
    parser.add_argument("--sizes", help="table sizes for the queries (1000000,10000000)")
    parser.add_argument("--repeat", type=int, help="timed requests per query (50)")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to leave out: ingest, consumers, queries",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the measured runs, py-spy a web worker and the consumer under "
        "single-event load (needs py-spy: pip install '.[bench]')",
    )
    parser.add_argument(
        "--database",
        choices=("auto", "timescaledb", "plain"),
        default="auto",
        help="the run's own cluster: auto preloads TimescaleDB when it is installed "
        "(tests/services/timescaledb.sh install), plain never does",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for the machine to be under 10%% busy (0)",
    )
    parser.add_argument(
        "--fast-unsafe",
        action="store_true",
        help="PostgreSQL with fsync, synchronous_commit and full_page_writes off, Redis "
        "without appendonly: faster, and not what users run (the report says so)",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="the growth run of make bench-scale: ingest and queries at each --scale-sizes",
    )
    parser.add_argument(
        "--scale-sizes", help="table sizes of --scale (0,10000000,30000000; quick: 0,200000)"
    )
    options = parser.parse_args(argv)
    quick = options.quick
    options.duration = options.duration or (5.0 if quick else 30.0)
    options.sizes = [
        int(size)
        for size in (options.sizes or ("20000,100000" if quick else "1000000,10000000")).split(",")
    ]
    options.scale_sizes = [
        int(size)
        for size in (options.scale_sizes or ("0,200000" if quick else "0,10000000,30000000")).split(
            ","
        )
    ]
    options.repeat = options.repeat or (15 if quick else 50)
    options.budget = 5.0 if quick else 30.0
    # The consumers part: tasks of 100 events in the backlog, and the consumer counts in
    # turn (1, 2, 2, 1: neither count always comes first).
    options.backlog_tasks = 1_000 if quick else 5_000
    options.consumer_counts = (1, 2) if quick else (1, 2, 2, 1)
    options.skip = {part.strip() for part in options.skip.split(",") if part.strip()}
    return options


def meta_describe(options: argparse.Namespace, started: datetime) -> dict:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "started": started.isoformat(timespec="seconds"),
        "mode": "quick" if options.quick else "full",
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "machine": f"{psutil.cpu_count()} cores ({cpu}), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "options": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(options).items()},
        "eye_settings": {k: v for k, v in os.environ.items() if k.startswith("EYE_")},
    }


def django_setup(env: dict[str, str]) -> None:
    """The report reads a setting of the app itself."""
    os.environ.update({k: v for k, v in env.items() if k.startswith(("EYE_", "DJANGO_"))})
    import django

    django.setup()


def run(
    options: argparse.Namespace, result: dict, run_dir: Path, cleanup: contextlib.ExitStack
) -> None:
    setup_log = cleanup.enter_context(open(run_dir / "setup.log", "a"))
    result["meta"]["machine_before"] = resources.machine_quiet_wait(options.wait_quiet)
    result["meta"]["loadavg_before"] = [round(value, 2) for value in os.getloadavg()]
    unsafe = options.fast_unsafe
    database = services.database_start(setup_log, choice=options.database, unsafe=unsafe)
    cleanup.callback(services.database_stop, database, setup_log)
    services.database_recreate(database)
    data_dir = run_dir / "data"
    cleanup.callback(shutil.rmtree, data_dir, ignore_errors=True)
    queue = services.redis_start(setup_log, unsafe=unsafe)
    cleanup.callback(services.redis_stop, queue)
    result["queue"] = {
        "redis": queue.url,
        "name": services.QUEUE_NAME,
        "note": queue.note,
        "settings": queue.settings,
    }
    env = services.bench_env(database, queue, data_dir)
    log("migrating the scratch database eye_bench")
    services.manage(env, "migrate", "--noinput", log_file=setup_log)
    result["database"] = services.database_flavour(database)
    log(f"database: {result['database']['label']}")
    key = services.app_key_create(env, setup_log)
    cookie = services.login_cookie(env, setup_log)
    django_setup(env)
    from django.conf import settings

    result["queue_max_pending"] = getattr(settings, "EYE_QUEUE_MAX_PENDING", None)
    with database.connect() as connection:
        application_id = connection.execute(
            "SELECT id FROM events_application WHERE name = 'bench'"
        ).fetchone()[0]

    port = services.free_port()
    log(f"starting gunicorn ({options.web_workers} workers) on {port} and the consumer")
    stack = cleanup.enter_context(
        services.Stack(env, port=port, workers=options.web_workers, log_dir=run_dir)
    )
    stack.start()
    result["meta"]["stack"] = (
        f"gunicorn eye.wsgi, {len(stack.web_workers())} workers (as eye/serve.py); "
        f"manage.py run_huey, {len(stack.consumer_processes())} processes; "
        f"{queue.note}, queue {services.QUEUE_NAME}"
    )
    result["meta"]["load"] = (
        f"wrk 1 thread, {options.connections} connections, {options.duration:g} s per load; "
        "random UUIDv4 event and session ids, 5,000 live sessions of 3 to 30 events, "
        "demo-shaped data; live: timestamps in the last minute, backfill: over 30 days"
    )
    sampler = cleanup.enter_context(
        Sampler(stack, queue.client, env["EYE_QUEUE_NAME"], services.database_postmaster(database))
    )
    sampler.track("redis", queue.process.pid)

    if options.scale:
        result["scale"] = scale_all(
            options, stack, database, sampler, application_id, key, cookie, run_dir
        )
        return
    if "ingest" not in options.skip:
        result["ingest"] = ingest_all(options, stack, database, sampler, key, run_dir)
    if "consumers" not in options.skip:
        log(
            f"consumers: a backlog of {options.backlog_tasks:,} tasks of 100 events, stored by "
            + ", then ".join(map(str, options.consumer_counts))
            + " consumer(s)"
        )
        result["consumers"] = consumers.consumers_measure(
            stack=stack,
            database=database,
            sampler=sampler,
            application_id=application_id,
            tasks=options.backlog_tasks,
            counts=options.consumer_counts,
            log_dir=run_dir,
        )
    if "queries" not in options.skip:
        result["queries"] = queries_all(options, stack, database, application_id, key, cookie)
    if options.profile:
        result["profile"] = profile_run(options, stack, database, sampler, key, run_dir)


PHASES = ((1, "live"), (100, "live"), (100, "backfill"), (1000, "live"), (1000, "backfill"))


def phase_measure(
    options: argparse.Namespace,
    stack: services.Stack,
    database: services.Database,
    sampler: Sampler,
    key: str,
    run_dir: Path,
    *,
    batch: int,
    profile: str,
) -> dict:
    """One ingest load, then the COPY ceiling of the very rows it stored."""
    name = ("single" if batch == 1 else f"batch{batch}") + f"-{profile}"
    log(f"ingest {name}: wrk for {options.duration:g} s, then until every row is stored")
    since = datetime.now(UTC)
    figures = ingest.ingest_measure(
        stack=stack,
        database=database,
        sampler=sampler,
        key=key,
        batch=batch,
        duration=options.duration,
        connections=options.connections,
        log_dir=run_dir,
        profile=profile,
    )
    stack.check_alive()
    figures["ceiling"] = ceiling.ceiling_measure(database=database, since=since)
    log(
        f"ingest {name}: {figures['accepted_events_per_second']:,.0f} accepted/s, "
        f"{figures['stored_events_per_second']:,.0f} stored/s end to end; COPY of the same "
        f"rows {figures['ceiling']['events_per_second']:,.0f}/s"
    )
    return figures


def ingest_all(
    options: argparse.Namespace,
    stack: services.Stack,
    database: services.Database,
    sampler: Sampler,
    key: str,
    run_dir: Path,
) -> dict:
    results: dict[str, Any] = {}
    empty_seconds = max(3.0, options.duration / 3)
    log(f"empty view baseline, {empty_seconds:g} s")
    results["empty_view"] = ingest.empty_view_measure(
        stack=stack,
        duration=empty_seconds,
        connections=options.connections,
        log_dir=run_dir,
        sampler=sampler,
    )
    for batch, timestamps in PHASES:
        services.tables_truncate(database)
        name = ("single" if batch == 1 else f"batch{batch}") + f"-{timestamps}"
        results[name] = phase_measure(
            options, stack, database, sampler, key, run_dir, batch=batch, profile=timestamps
        )
    return results


def queries_all(
    options: argparse.Namespace,
    stack: services.Stack,
    database: services.Database,
    application_id: int,
    key: str,
    cookie: str,
) -> dict:
    results: dict[str, Any] = {}
    services.tables_truncate(database)
    for number, size in enumerate(options.sizes):
        load = query.load_to(
            database=database, application_id=application_id, size=size, seed=number + 1
        )
        log(f"queries at {load['events']:,} events")
        results[str(size)] = {
            "load": load,
            "queries": query.queries_measure(
                stack=stack,
                database=database,
                key=key,
                cookie=cookie,
                repeat=options.repeat,
                budget=options.budget,
            ),
            "insights": insights.insights_measure(
                stack=stack,
                database=database,
                key=key,
                cookie=cookie,
                repeat=options.repeat,
                budget=options.budget,
            ),
        }
    return results


def scale_all(
    options: argparse.Namespace,
    stack: services.Stack,
    database: services.Database,
    sampler: Sampler,
    application_id: int,
    key: str,
    cookie: str,
    run_dir: Path,
) -> dict:
    """make bench-scale: at each size, the table is filled up to it (server-side SQL),
    then 100-event bodies are ingested live and backfill (each with the COPY ceiling of
    its rows), then the queries are timed."""
    results: dict[str, Any] = {}
    services.tables_truncate(database)
    for number, size in enumerate(options.scale_sizes):
        load = query.load_to(
            database=database, application_id=application_id, size=size, seed=number + 1
        )
        at: dict[str, Any] = {"load": load if load.get("added") else {}, "ingest": {}}
        for timestamps in ("live", "backfill"):
            at["ingest"][f"batch100-{timestamps}"] = phase_measure(
                options, stack, database, sampler, key, run_dir, batch=100, profile=timestamps
            )
        with database.connect(autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE events")
        log(f"queries at {services.events_count(database):,} events")
        at["queries"] = query.queries_measure(
            stack=stack,
            database=database,
            key=key,
            cookie=cookie,
            repeat=options.repeat,
            budget=options.budget,
        )
        results[str(size)] = at
    return results


def profile_run(
    options: argparse.Namespace,
    stack: services.Stack,
    database: services.Database,
    sampler: Sampler,
    key: str,
    run_dir: Path,
) -> dict:
    if profile.py_spy() is None:
        return {"error": "py-spy is not installed: .venv/bin/pip install '.[bench]'"}
    services.tables_truncate(database)
    seconds = max(5.0, min(options.duration, 20.0))
    log(f"profile: py-spy on a web worker and on the consumer, {seconds:g} s of single events")
    # Each process twice: every thread that is not idle (where a request waits), and only
    # the thread holding the GIL (where the CPU goes; a thread waiting for the GIL after a
    # socket read counts as reading in the first).
    targets = {"web": stack.web_workers()[0].pid, "consumer": stack.consumer.pid}
    files = {
        f"{title}{suffix}": f"{name}{suffix}"
        for name, title in (("web", "web worker"), ("consumer", "consumer"))
        for suffix in ("", "-gil")
    }
    spies = {
        title: profile.profile_start(
            pid=targets[file.removesuffix("-gil")],
            name=file,
            seconds=seconds,
            out_dir=run_dir,
            gil=file.endswith("-gil"),
        )
        for title, file in files.items()
    }
    try:
        figures = ingest.ingest_measure(
            stack=stack,
            database=database,
            sampler=sampler,
            key=key,
            batch=1,
            duration=seconds,
            connections=options.connections,
            log_dir=run_dir,
        )
    finally:
        for spy in spies.values():
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
    return {
        "single_while_profiled": {
            k: figures[k] for k in ("accepted_events_per_second", "stored_events_per_second")
        },
        "summaries": {
            title: profile.profile_summary(run_dir / f"profile-{file}.txt")
            for title, file in files.items()
        },
    }


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    options = options_parse(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    # One run at a time: two would share (and drop) the same scratch database.
    lock = open(RESULTS / ".lock", "w")  # held, and so locked, until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("bench: another benchmark run is in progress", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    run_dir = RESULTS / stamp
    run_dir.mkdir(parents=True)
    result: dict[str, Any] = {"meta": meta_describe(options, started), "error": None}
    signal.signal(signal.SIGTERM, interrupt)
    began = time.monotonic()
    try:
        with contextlib.ExitStack() as cleanup:
            run(options, result, run_dir, cleanup)
    except KeyboardInterrupt:
        result["error"] = "interrupted"
    except Exception as exc:  # the report of what was measured is still worth printing
        traceback.print_exc()
        result["error"] = f"{exc.__class__.__name__}: {exc}"
    result["meta"]["wall_seconds"] = round(time.monotonic() - began, 1)
    result["meta"]["loadavg_after"] = [round(value, 2) for value in os.getloadavg()]
    result["targets"] = [
        {"target": label, "measured": shown, "passed": passed}
        for label, shown, passed in report.targets(result)
    ]
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(report.report_text(result))
    if "profile" in result and "summaries" in result["profile"]:
        print(profile.profile_text(result["profile"]["summaries"]))
    print(f"\nResults: {path.relative_to(ROOT)}; logs: {run_dir.relative_to(ROOT)}/")
    return 1 if result["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
