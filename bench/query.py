"""Query latency at growing table sizes.

The table is emptied, then filled with demo-shaped events up to each size in turn by a
server-side SQL load (bench/bulk_load.py: the rows made by INSERT … SELECT, the rollups
rebuilt from them and checked), then VACUUM ANALYZE (what autovacuum reaches on its own
after a bulk load). At each size one client sends GETs one after another to the running
gunicorn, with the read key, and times each from connect to the last byte:

- /api/event/ by session, by category, by category + name + one day, unfiltered (first
  page), and a deep page: the URL reached by following `next` 50 times from the first;
- the dashboard's 30-day overview (`/?range=30d`, else `/`), with a logged-in staff
  session, if the app serves one.

Each query is warmed up 3 times, then timed `repeat` times (fewer if it takes longer than
the time budget, at least 5) for p50 and p95.
"""

import http.client
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from bench.bulk_load import events_load
from bench.services import Database, Stack, events_count, log

WARMUP = 3
DEEP_PAGES = 50
OVERVIEW_PATHS = ("/?range=30d", "/")


def get(base_url: str, path: str, headers: dict[str, str]) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one GET on a fresh connection (gunicorn's sync workers
    close every connection anyway)."""
    address = urlsplit(base_url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        # gunicorn kills a worker whose request passes its timeout (30 s): the query is
        # reported as failed rather than ending the run.
        status, body = 0, f"no answer: {exc.__class__.__name__}: {exc}".encode()
    finally:
        connection.close()
    return status, body, time.perf_counter() - started


def timed(
    base_url: str, paths: list[str], headers: dict[str, str], *, repeat: int, budget: float
) -> dict:
    """p50/p95 of GETs taking `paths` in turn, after a warm-up; stops at the first non-200."""
    for path in (paths * WARMUP)[:WARMUP]:
        status, body, _ = get(base_url, path, headers)
        if status != 200:
            return {"path": path, "status": status, "error": body[:300].decode(errors="replace")}
    times: list[float] = []
    spent = time.monotonic()
    while len(times) < repeat and (len(times) < 5 or time.monotonic() - spent < budget):
        path = paths[len(times) % len(paths)]
        status, _, seconds = get(base_url, path, headers)
        if status != 200:
            return {"path": path, "status": status, "error": body[:300].decode(errors="replace")}
        times.append(seconds * 1000)
    return {
        "path": paths[0] if len(paths) == 1 else f"{paths[0]} (and {len(paths) - 1} more, in turn)",
        "status": 200,
        "requests": len(times),
        "p50_ms": round(_percentile(times, 50), 2),
        "p95_ms": round(_percentile(times, 95), 2),
        "max_ms": round(max(times), 2),
    }


def _percentile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def load_to(*, database: Database, application_id: int, size: int, seed: int) -> dict:
    """Add demo-shaped events until the table holds `size` (a server-side SQL load that
    rebuilds and checks the rollups); then VACUUM ANALYZE, timed apart."""
    have = events_count(database)
    load: dict = {}
    started = time.perf_counter()
    if size > have:
        log(f"loading {size - have:,} events with a server-side SQL load (to {size:,})")
        load = events_load(
            database=database, application_id=application_id, count=size - have, seed=seed
        )
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    with database.connect(autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return {
        **load,
        "events": events_count(database),
        "added": max(0, size - have),
        "load_seconds": round(loaded, 2),
        "vacuum_analyze_seconds": round(time.perf_counter() - started, 1),
    }


def _sessions(database: Database, how_many: int = 20) -> list[str]:
    with database.connect(autocommit=True) as connection:
        rows = connection.execute(
            "SELECT DISTINCT session_id FROM (SELECT session_id FROM events LIMIT 2000) s LIMIT %s",
            [how_many],
        )
        return [str(session) for (session,) in rows]


def _deep_path(base_url: str, headers: dict[str, str]) -> tuple[str | None, int]:
    """The URL DEEP_PAGES `next` links away from the first unfiltered page."""
    path, followed = "/api/event/", 0
    while followed < DEEP_PAGES:
        status, body, _ = get(base_url, path, headers)
        if status != 200:
            return None, followed
        link = json.loads(body)["next"]
        if link is None:
            break
        parts = urlsplit(link)
        path = f"{parts.path}?{parts.query}"
        followed += 1
    return path, followed


def queries_measure(
    *,
    stack: Stack,
    database: Database,
    key: str,
    cookie: str,
    repeat: int,
    budget: float,
) -> dict:
    base, auth = stack.base_url, {"Authorization": f"Bearer {key}"}
    sessions = _sessions(database)
    day = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    results: dict[str, dict] = {}

    # By session: a different session on every request, round robin over 20 of them.
    by_session = [f"/api/event/?{urlencode({'session_id': s})}" for s in sessions]
    results["by_session"] = (
        timed(base, by_session, auth, repeat=repeat, budget=budget)
        if by_session
        else {"error": "no sessions in the table"}
    )
    plain = {
        "by_category": {"category": "page interaction"},
        "by_category_name_day": {
            "category": "page interaction",
            "name": "cta click",
            "timestamp_start": day,
            "timestamp_end": day,
        },
        "first_page": {},
    }
    for label, params in plain.items():
        path = "/api/event/" + (f"?{urlencode(params)}" if params else "")
        results[label] = timed(base, [path], auth, repeat=repeat, budget=budget)
    deep, followed = _deep_path(base, auth)
    if deep is None:
        results["deep_page"] = {"error": f"paging failed after {followed} pages"}
    else:
        results["deep_page"] = {
            **timed(base, [deep], auth, repeat=repeat, budget=budget),
            "pages_followed": followed,
        }
    results["overview_30d"] = overview_measure(base, cookie, repeat=repeat, budget=budget)
    return results


def overview_measure(base_url: str, cookie: str, *, repeat: int, budget: float) -> dict:
    """The dashboard's overview if the app has one that renders for a logged-in user."""
    headers = {"Cookie": cookie}
    answers = []
    for path in OVERVIEW_PATHS:
        status, _, _ = get(base_url, path, headers)
        answers.append(f"GET {path} -> {status}")
        if status == 200:
            return timed(base_url, [path], headers, repeat=repeat, budget=budget)
    return {"available": False, "error": "not available (" + "; ".join(answers) + ")"}
