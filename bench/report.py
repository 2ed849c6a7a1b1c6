"""The printed report of a run, and the issue's targets with PASS/MISS beside each figure.

Rates are printed with their ratio to the raw COPY ceiling of the same run. Nothing here
asserts; a MISS is information for whoever improves the code.
"""

from collections.abc import Callable
from typing import Any

Result = dict[str, Any]
INGEST = (("single", "single event"), ("batch100", "batch of 100"), ("batch1000", "batch of 1,000"))
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


def _get(result: Result, *path: str) -> Any:
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


def targets(result: Result) -> list[tuple[str, str, bool | None]]:
    """(target, measured, passed) for each target of the issue; None when not measured."""
    ceiling = _get(result, "ceiling", "events_per_second")
    single = _get(result, "ingest", "single") or {}
    b100 = _get(result, "ingest", "batch100") or {}
    b1000 = _get(result, "ingest", "batch1000") or {}
    sizes = result.get("queries") or {}
    largest = max(sizes, key=int, default=None)
    at = (sizes.get(largest) or {}) if largest else {}
    where = f"at {int(largest):,}" if largest else ""
    rows: list[tuple[str, str, bool | None]] = []

    def add(label: str, value: Any, shown: Callable[[Any], str], ok: Callable[[Any], bool]) -> None:
        if value is None:
            rows.append((label, "not measured", None))
        else:
            rows.append((label, shown(value), bool(ok(value))))

    add(
        "single event accepted ≥ 1,200 events/s",
        single.get("accepted_events_per_second"),
        lambda v: f"{n(v)} events/s ({ratio(v, ceiling)} of the ceiling)",
        lambda v: v >= 1200,
    )
    add(
        "single event stored end to end ≥ 1,200 events/s",
        single.get("stored_events_per_second"),
        lambda v: f"{n(v)} events/s ({ratio(v, ceiling)} of the ceiling)",
        lambda v: v >= 1200,
    )
    add(
        "single event p99 < 100 ms",
        _get(single, "latency_ms", "p99"),
        lambda v: f"{n(v, 1)} ms",
        lambda v: v < 100,
    )
    for label, phase in (("single", single), ("batch100", b100), ("batch1000", b1000)):
        add(
            f"{label}: nothing lost (accepted - stored = 0)",
            None if phase.get("interference") else phase.get("lost"),
            lambda v, p=phase: f"{v} ({p.get('lost_basis')})",
            lambda v: v == 0,
        )
    add(
        "batch of 100 stored ≥ 60% of the ceiling",
        b100.get("stored_events_per_second"),
        lambda v: f"{n(v)} events/s = {ratio(v, ceiling)} of the ceiling",
        lambda v: bool(ceiling) and v >= 0.6 * ceiling,
    )
    add(
        "batch of 1,000 stored above batch of 100 (and ≥ 60%)",
        b1000.get("stored_events_per_second"),
        lambda v: f"{n(v)} events/s = {ratio(v, ceiling)} of the ceiling",
        lambda v: (
            bool(ceiling) and v >= 0.6 * ceiling and v > (b100.get("stored_events_per_second") or 0)
        ),
    )
    for key, label in (("by_session", "session"), ("by_category_name_day", "category + name")):
        add(
            f"GET by {label} p50 < 10 ms at 10M ({where})",
            _get(at, "queries", key, "p50_ms"),
            lambda v: f"{n(v, 1)} ms",
            lambda v: v < 10,
        )
    first, deep = (
        _get(at, "queries", "first_page", "p50_ms"),
        _get(at, "queries", "deep_page", "p50_ms"),
    )
    add(
        f"deep page ≈ first page: p50 within 25% + 1 ms ({where})",
        None if first is None or deep is None else (deep, first),
        lambda v: f"page 51 {n(v[0], 1)} ms vs first {n(v[1], 1)} ms",
        lambda v: v[0] <= 1.25 * v[1] + 1,
    )
    add(
        f"30-day overview p50 < 150 ms ({where})",
        _get(at, "queries", "overview_30d", "p50_ms"),
        lambda v: f"{n(v, 1)} ms",
        lambda v: v < 150,
    )
    peaks = [_get(phase, "under_load", "web_worker_rss_peak_mb") for phase in (single, b100, b1000)]
    peaks = [p for p in peaks if p is not None]
    add(
        "web worker peak RSS < 150 MB",
        max(peaks) if peaks else None,
        lambda v: f"{n(v, 1)} MB",
        lambda v: v < 150,
    )
    load = single.get("under_load") or {}
    first_rss, last_rss = (
        load.get("consumer_total_rss_first_mb"),
        load.get("consumer_total_rss_last_mb"),
    )
    add(
        "consumer memory flat under sustained load (growth < 10%)",
        None if not first_rss or last_rss is None else (first_rss, last_rss),
        lambda v: f"all consumer processes {n(v[0], 1)} → {n(v[1], 1)} MB",
        lambda v: v[1] <= 1.1 * v[0],
    )
    bound = result.get("queue_max_pending")
    add(
        "backlog bounded (max ≤ EYE_QUEUE_MAX_PENDING, drained after)",
        None if "queue_max" not in load else (load["queue_max"], single.get("after_drain_queue")),
        lambda v: (
            f"max {n(v[0])} tasks (bound {n(bound)}), {v[1]} after drain"
            + (
                "; the consumer kept up, so the bound (503) was not exercised"
                if bound and v[0] < bound / 100
                else ""
            )
        ),
        lambda v: (bound is None or v[0] <= bound) and v[1] == 0,
    )
    return rows


def load_text(size: int, load: dict, ceiling: float | None) -> str:
    """How the table was filled to `size`, at what rate, and whether the rollups agree."""
    rate = (load.get("added") or 0) / (load.get("load_seconds") or 1)
    text = (
        f"   {size:,} events: {n(load.get('added'))} added in {load.get('load_seconds')} s = "
        f"{n(rate)} events/s ({ratio(rate, ceiling)} of the ceiling)"
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


def report_text(result: Result) -> str:
    lines: list[str] = []
    out = lines.append
    meta = result.get("meta", {})
    ceiling = _get(result, "ceiling", "events_per_second")
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
    out(f"  stack:    {meta.get('stack')}")
    out(f"  load:     {meta.get('load')}")

    out("")
    out("1. Raw ceiling (the reference every rate is divided by)")
    c = result.get("ceiling")
    if c:
        out(
            f"   COPY of {n(c['events'])} events in {c['seconds']:.2f} s = "
            f"{n(ceiling)} events/s  (ratio 1.000)"
        )

    out("")
    out(
        "2-3. Ingest (wrk; accepted = 202s seen by wrk; stored = rows visible, "
        "first request to last row)"
    )
    header = (
        f"   {'':16}{'accepted ev/s':>14}{'/ceil':>8}{'stored ev/s':>13}{'/ceil':>8}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>9}{'lost':>6}{'drain s':>9}"
    )
    out(header)
    empty = _get(result, "ingest", "empty_view")
    for key, label in INGEST:
        p = _get(result, "ingest", key)
        if not p:
            continue
        lat = p["latency_ms"]
        out(
            f"   {label:16}{n(p['accepted_events_per_second']):>14}"
            f"{ratio(p['accepted_events_per_second'], ceiling):>8}"
            f"{n(p['stored_events_per_second']):>13}"
            f"{ratio(p['stored_events_per_second'], ceiling):>8}"
            f"{lat['p50']:>8.1f}{lat['p99']:>8.1f}{n(p['non_2xx']):>9}{p['lost']:>6}"
            f"{p['drain_seconds']:>9.2f}"
        )
    if empty:
        out(
            f"   empty view: {n(empty['requests_per_second'])} req/s ({empty['what']}; "
            f"p50 {empty['latency_ms']['p50']:.1f} ms, p99 {empty['latency_ms']['p99']:.1f} ms)"
        )
        cpu = _get(empty, "under_load", "cpu_percent_of_machine") or {}
        if cpu:
            shares = ", ".join(f"{role} {share:.0f}%" for role, share in cpu.items())
            out(f"      CPU under load (% of all cores): {shares}")
        single = _get(result, "ingest", "single")
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
        out("4. Queries (one client, one request at a time; p50 / p95 ms)")
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
            out(load_text(int(size), queries[size].get("load", {}), ceiling))
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

    single = _get(result, "ingest", "single")
    if single:
        load = single.get("under_load") or {}
        out("")
        out("5. Resources")
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

    out("")
    out("Targets (issue 6; reported, never asserted)")
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
