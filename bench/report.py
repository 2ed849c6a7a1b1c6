"""The printed report of a run, and the issue's targets with PASS/MISS beside each figure.

Each ingest rate is printed with its ratio to the raw COPY ceiling of its own rows (see
bench/ceiling.py). Nothing here asserts; a MISS is information for whoever improves the
code.
"""

import os
from collections.abc import Callable
from typing import Any

Result = dict[str, Any]
INGEST = (
    ("single-live", "single, live"),
    ("batch100-live", "100, live"),
    ("batch100-backfill", "100, backfill"),
    ("batch1000-live", "1,000, live"),
    ("batch1000-backfill", "1,000, backfill"),
)
QUERIES = (
    ("by_session", "GET by session"),
    ("by_category", "GET by category"),
    ("by_category_name_day", "GET by category + name + 1 day"),
    ("first_page", "GET first page (no filter)"),
    ("deep_page", "GET page 51 (50 next links)"),
    ("overview_30d", "dashboard overview, 30 days"),
)


def n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def ratio(value: float | None, ceiling: float | None) -> str:
    if value is None or not ceiling:
        return "n/a"
    return f"{value / ceiling:.3f}"


def ceiling_of(phase: dict) -> float | None:
    return _get(phase, "ceiling", "events_per_second")


def _get(result: Result, *path: str) -> Any:
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


def targets(result: Result) -> list[tuple[str, str, bool | None]]:
    """(target, measured, passed) for each target of issue 14; None when not measured."""
    ingest = result.get("ingest") or {}
    single = ingest.get("single-live") or {}
    rows: list[tuple[str, str, bool | None]] = []

    def add(label: str, value: Any, shown: Callable[[Any], str], ok: Callable[[Any], bool]) -> None:
        if value is None:
            rows.append((label, "not measured", None))
        else:
            rows.append((label, shown(value), bool(ok(value))))

    add(
        "single event stored end to end ≥ 2,000 events/s",
        single.get("stored_events_per_second"),
        lambda v: f"{n(v)} events/s ({ratio(v, ceiling_of(single))} of its ceiling)",
        lambda v: v >= 2000,
    )
    add(
        "single event p99 < 50 ms",
        _get(single, "latency_ms", "p99"),
        lambda v: f"{n(v, 1)} ms",
        lambda v: v < 50,
    )
    for key, share in (("batch100-live", 0.7), ("batch100-backfill", 0.6)):
        phase = ingest.get(key) or {}
        add(
            f"{key} stored ≥ {share:.0%} of the COPY of its rows",
            None if not ceiling_of(phase) else phase.get("stored_events_per_second"),
            lambda v, p=phase: f"{n(v)} events/s = {ratio(v, ceiling_of(p))} of {n(ceiling_of(p))}",
            lambda v, p=phase, s=share: v >= s * ceiling_of(p),
        )
    for key, phase in ingest.items():
        if key == "empty_view":
            continue
        add(
            f"{key}: nothing lost (accepted - stored = 0)",
            None if phase.get("interference") else phase.get("lost"),
            lambda v, p=phase: f"{v} ({p.get('lost_basis')})",
            lambda v: v == 0,
        )
    runs = _get(result, "consumers", "runs")
    add(
        "consumers: nothing lost or doubled (every run)",
        None if not runs else sum(abs(run["lost"]) + abs(run["doubled"]) for run in runs),
        lambda v, r=runs: (
            f"lost {sum(x['lost'] for x in r)}, "
            f"doubled {sum(x['doubled'] for x in r)} over {len(r)} runs"
        ),
        lambda v: v == 0,
    )
    scale = result.get("scale") or {}
    sizes = sorted(scale, key=int)
    if len(sizes) >= 2:
        first, last = scale[sizes[0]], scale[sizes[-1]]
        where = f"at {int(sizes[-1]):,} vs {int(sizes[0]):,}"
        for key in ("batch100-live", "batch100-backfill"):
            before = _get(first, "ingest", key, "stored_events_per_second")
            after = _get(last, "ingest", key, "stored_events_per_second")
            add(
                f"{key} sustained ≥ 80% of the empty table's ({where})",
                None if not before or after is None else after / before,
                lambda v, a=after, b=before: f"{v:.2f} ({n(a)} vs {n(b)} events/s)",
                lambda v: v >= 0.8,
            )
        for key, label in (
            ("by_session", "by session"),
            ("by_category_name_day", "by category + name"),
            ("deep_page", "deep page"),
        ):
            add(
                f"GET {label} p50 < 10 ms (at {int(sizes[-1]):,})",
                _get(last, "queries", key, "p50_ms"),
                lambda v: f"{n(v, 1)} ms",
                lambda v: v < 10,
            )
    return rows


def load_text(size: int, load: dict) -> str:
    """How the table was filled to `size`, at what rate, and whether the rollups agree."""
    rate = (load.get("added") or 0) / (load.get("load_seconds") or 1)
    text = (
        f"   {size:,} events: {n(load.get('added'))} added in {load.get('load_seconds')} s = "
        f"{n(rate)} events/s (server-side SQL, not the ingest path)"
    )
    check = load.get("rollup_check")
    if check is None and load.get("added"):  # earlier runs filled it with load_demo_events
        text += ", through load_demo_events"
    elif check is not None:
        agree = (
            "equal to the raw counts"
            if check["equal"]
            else f"DIFFERENT FROM THE RAW COUNTS (keys that differ: {check['mismatched_keys']})"
        )
        text += (
            f"\n      {load['method']}: rows {load['insert_seconds']:.1f} s, rollups "
            f"{load['rollup_seconds']:.1f} s, checked in {check['seconds']:.1f} s: {agree}"
        )
    return text + f"; VACUUM ANALYZE {load.get('vacuum_analyze_seconds')} s"


def settings_text(result: Result) -> str:
    """The durability of both stores, as they reported it: every figure depends on it."""
    database = _get(result, "database", "settings") or {}
    queue = _get(result, "queue", "settings") or {}
    mode = (
        "FAST-UNSAFE (not what users run)"
        if _get(result, "meta", "options", "fast_unsafe")
        else "durable"
    )
    return (
        f"{mode}; PostgreSQL "
        + ", ".join(f"{k}={v}" for k, v in database.items())
        + "; Redis "
        + (", ".join(f"{k} {v}" for k, v in queue.items()) or "n/a")
    )


def ingest_table(ingest: dict) -> str:
    lines = [
        f"   {'':19}{'accepted ev/s':>14}{'stored ev/s':>13}{'ceiling ev/s':>14}{'/ceil':>7}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>9}{'lost':>6}{'drain s':>9}"
    ]
    for key, phase in ingest.items():
        if key == "empty_view" or not phase:
            continue
        lat, ceiling = phase["latency_ms"], ceiling_of(phase)
        lines.append(
            f"   {key:19}{n(phase['accepted_events_per_second']):>14}"
            f"{n(phase['stored_events_per_second']):>13}{n(ceiling):>14}"
            f"{ratio(phase['stored_events_per_second'], ceiling):>7}"
            f"{lat['p50']:>8.1f}{lat['p99']:>8.1f}{n(phase['non_2xx']):>9}{phase['lost']:>6}"
            f"{phase['drain_seconds']:>9.2f}"
        )
    return "\n".join(lines)


def scale_text(scale: dict) -> str:
    """Sustained ingest and query latency at each table size, and how each grows against
    the smallest size (ratio > 1: costs more)."""
    sizes = sorted(scale, key=int)
    base = scale[sizes[0]]
    lines = ["5. Growth (make bench-scale): the same loads and queries as the table grows"]
    for size in sizes:
        at = scale[size]
        lines.append(f"   table before the loads: {int(size):,} events")
        if at.get("load"):
            lines.append("   " + load_text(int(size), at["load"]).strip())
        lines.append(ingest_table(at.get("ingest") or {}))
    lines.append("   query p50 / p95 ms at each size:")
    for key, label in QUERIES:
        cells = []
        for size in sizes:
            q = _get(scale[size], "queries", key) or {}
            cells.append(f"{q['p50_ms']:.1f} / {q['p95_ms']:.1f}" if "p50_ms" in q else "n/a")
        lines.append(f"   {label[:28]:28}" + "".join(f"{c:>16}" for c in cells))
    lines.append("   cost at each size / cost at the smallest (time per event, or p50 latency):")
    lines.append(f"   {'':28}" + "".join(f"{int(s):>16,}" for s in sizes))
    rows: list[tuple[str, tuple[str, ...], bool]] = [
        (f"ingest {key}", ("ingest", key, "stored_events_per_second"), True)
        for key in ("batch100-live", "batch100-backfill")
    ] + [
        (f"COPY {key}", ("ingest", key, "ceiling", "events_per_second"), True)
        for key in ("batch100-live", "batch100-backfill")
    ]
    rows += [(label, ("queries", key, "p50_ms"), False) for key, label in QUERIES]
    for label, path, is_rate in rows:
        first = _get(base, *path)
        cells = []
        for size in sizes:
            value = _get(scale[size], *path)
            if value is None or not first:
                cells.append("n/a")
            else:
                cells.append(f"{(first / value if is_rate else value / first):.2f}")
        lines.append(f"   {label[:28]:28}" + "".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)


def consumers_text(part: dict) -> str:
    """Each run of the backlog, then the rate of each consumer count and their ratio."""
    lines = [
        f"4. Consumers: a backlog of {n(part['tasks'])} tasks x {part['events_per_task']} events "
        f"({n(part['events'])}, the same rows each time) pushed at once to idle consumers",
        f"   ({part['workers_per_consumer']} worker processes each); stored/s = events / "
        "(push to the last row visible)",
    ]
    for number, run in enumerate(part["runs"], 1):
        cpu = _get(run, "under_load", "cpu_percent_of_machine") or {}
        shares = ", ".join(f"{role} {share:.0f}%" for role, share in cpu.items())
        lines.append(
            f"   run {number}: {run['consumers']} consumer(s), {run['consumer_processes']} "
            f"processes: {n(run['stored_events'])} stored in {run['seconds']:.2f} s = "
            f"{n(run['stored_events_per_second'])} events/s, lost {run['lost']}, doubled "
            f"{run['doubled']}" + (" — STALLED" if run["stalled"] else "")
        )
        if shares:
            lines.append(f"      CPU (% of all cores): {shares}")
    rates = part["stored_events_per_second"]
    lines.append(
        f"   stored/s: one consumer {n(rates.get('1'))}, two consumers {n(rates.get('2'))}; "
        f"two / one = {n(part['ratio_two_over_one'], 2)}"
    )
    lines.append(
        f"   On {os.cpu_count()} cores the consumers share the CPU with PostgreSQL and Redis: the"
        "\n   ratio is what a second consumer adds on this machine, not on a host of its own."
    )
    return "\n".join(lines)


def report_text(result: Result) -> str:
    lines: list[str] = []
    out = lines.append
    meta = result.get("meta", {})
    out("")
    out(
        f"The Eye benchmark: {meta.get('started')} "
        f"({meta.get('mode')} run, {meta.get('wall_seconds', 0):.0f} s)"
    )
    out(
        f"  code:     commit {meta.get('commit')}"
        + (" with uncommitted changes" if meta.get("dirty") else "")
    )
    out(f"  machine:  {meta.get('machine')}")
    out(f"  database: {_get(result, 'database', 'label')}")
    if _get(result, "database", "note") and not _get(result, "database", "hypertable"):
        out(f"            ({_get(result, 'database', 'note')})")
    before = meta.get("machine_before") or {}
    if before:
        others = f": {', '.join(before['top'])}" if before.get("top") else ""
        warning = (
            "  OTHER WORK ON THE MACHINE LOWERS EVERY FIGURE"
            if before["busy_percent"] >= 10
            else ""
        )
        out(f"  before:   machine {before['busy_percent']:.0f}% busy{others}{warning}")
    if meta.get("loadavg_before"):
        out(
            f"  load avg: {' / '.join(map(str, meta['loadavg_before']))} (1/5/15 min) before, "
            f"{' / '.join(map(str, meta.get('loadavg_after') or []))} after, on "
            f"{os.cpu_count()} cores"
        )
    out(f"  stack:    {meta.get('stack')}")
    out(f"  load:     {meta.get('load')}")
    out(f"  settings: {settings_text(result)}")

    if result.get("ingest"):
        out("")
        out(
            "1. Ingest (wrk; accepted = 202s seen by wrk; stored = rows visible, first request "
            "to last row; ceiling = COPY of the same rows into the same table)"
        )
        out(ingest_table(result["ingest"]))
    empty = _get(result, "ingest", "empty_view")
    if empty:
        out(
            f"   empty view: {n(empty['requests_per_second'])} req/s ({empty['what']}; "
            f"p50 {empty['latency_ms']['p50']:.1f} ms, p99 {empty['latency_ms']['p99']:.1f} ms)"
        )
        cpu = _get(empty, "under_load", "cpu_percent_of_machine") or {}
        if cpu:
            shares = ", ".join(f"{role} {share:.0f}%" for role, share in cpu.items())
            out(f"      CPU under load (% of all cores): {shares}")
        single = _get(result, "ingest", "single-live")
        if single:
            share = single["requests_per_second"] / empty["requests_per_second"]
            out(
                f"   single-event POST: {n(single['requests_per_second'])} req/s = "
                f"{share:.0%} of the empty view on the same server"
            )
    for key, label in INGEST:
        p = _get(result, "ingest", key)
        if not p:
            continue
        statuses = ", ".join(f"{s}: {n(c)}" for s, c in sorted(p["statuses"].items()))
        errors = ", ".join(f"{k} {v}" for k, v in p["socket_errors"].items() if v)
        out(
            f"   {label}: {n(p['requests'])} requests in {p['seconds']:.1f} s ({statuses}"
            f"{'; socket errors: ' + errors if errors else ''}); accepted by the server "
            f"{n(p['accepted_events_server'])} events ({n(p['in_flight_at_stop'])} in flight at "
            f"stop), stored {n(p['stored_events'])} in {p['end_to_end_seconds']:.1f} s"
            + (" — STALLED" if p["stalled"] else "")
            + (
                " — ANOTHER PROGRAM FLUSHED THE QUEUE'S REDIS DB DURING THIS RUN: "
                "stored and lost are void"
                if p.get("interference")
                else ""
            )
            + (f" (consumer stacks: {p['stuck_dump']})" if p.get("stuck_dump") else "")
        )
        cpu = _get(p, "under_load", "cpu_percent_of_machine") or {}
        if cpu:
            shares = ", ".join(f"{role} {share:.0f}%" for role, share in cpu.items())
            out(f"      CPU under load (% of all cores): {shares}")

    queries = result.get("queries") or {}
    if queries:
        out("")
        out("2. Queries (one client, one request at a time; p50 / p95 ms)")
        sizes = sorted(queries, key=int)
        out(f"   {'':34}" + "".join(f"{int(s):>26,}" for s in sizes))
        for key, label in QUERIES:
            cells = []
            for size in sizes:
                q = _get(queries, size, "queries", key) or {}
                if "p50_ms" in q:
                    cells.append(f"{q['p50_ms']:.1f} / {q['p95_ms']:.1f} (n={q['requests']})")
                else:
                    cells.append("not available" if key == "overview_30d" else "error")
            out(f"   {label:34}" + "".join(f"{c:>26}" for c in cells))
        for size in sizes:
            out(load_text(int(size), queries[size].get("load", {})))
            for key, _ in QUERIES:
                q = _get(queries, size, "queries", key) or {}
                if "error" in q:
                    out(f"      {key}: {q['error'][:160]}")
        for size in sizes:
            for key, q in (_get(queries, size, "insights") or {}).items():
                shown = (
                    f"p50 {q['p50_ms']:.0f} ms (target < {q['target_ms']} ms)"
                    if "p50_ms" in q
                    else q.get("error", "error")[:160]
                )
                out(f"   insights at {int(size):,}, {key}: {shown}")

    single = _get(result, "ingest", "single-live")
    if single:
        load = single.get("under_load") or {}
        out("")
        out("3. Resources")
        for key, label in INGEST:
            p = _get(result, "ingest", key)
            if not p or not p.get("under_load"):
                continue
            u = p["under_load"]
            out(
                f"   {label:16} web worker peak {u['web_worker_rss_peak_mb']:.1f} MB; consumer: "
                f"largest process {u['consumer_process_rss_peak_mb']:.1f} MB, all "
                f"{u['consumer_total_rss_first_mb']:.1f} → "
                f"{u['consumer_total_rss_last_mb']:.1f} MB "
                f"(peak {u['consumer_total_rss_peak_mb']:.1f}); queue max {n(u['queue_max'])}, "
                f"at load end {n(u['queue_last'])}, after drain {p['after_drain_queue']}"
            )
        timeline = load.get("queue_timeline") or []
        if timeline:
            out(
                "   single-event queue length over time (s: tasks): "
                + ", ".join(f"{t:g}: {q}" for t, q in timeline[:: max(1, len(timeline) // 12)])
            )

    if result.get("consumers"):
        out("")
        out(consumers_text(result["consumers"]))
    if result.get("scale"):
        out("")
        out(scale_text(result["scale"]))
    out("")
    out("Targets (issue 14; reported, never asserted)")
    for label, shown, passed in targets(result):
        verdict = "n/a " if passed is None else ("PASS" if passed else "MISS")
        out(f"   {verdict}  {label:58} {shown}")
    profiled = _get(result, "profile", "single_while_profiled")
    if profiled:
        out("")
        out(
            "Profiled single-event load (py-spy running; not the figures above): "
            f"{n(profiled['accepted_events_per_second'])} accepted/s, "
            f"{n(profiled['stored_events_per_second'])} stored/s"
        )
    if result.get("error"):
        out("")
        out(f"The run stopped early: {result['error']}")
    out("")
    return "\n".join(lines)


if __name__ == "__main__":
    # Print the report of an earlier run again: python -m bench.report bench/results/X.json
    import json
    import sys

    from bench.profile import profile_text

    stored = json.loads(open(sys.argv[1]).read())
    print(report_text(stored))
    if "summaries" in (stored.get("profile") or {}):
        print(profile_text(stored["profile"]["summaries"]))
