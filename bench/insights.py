"""Insight latency at each table size (issue 15's targets, measured, never asserted):

- a 3-step funnel over 30 days (the landing pageview at "/", form start, submit), through
  the selector the API and the page share (events.funnels.funnel_compute), in this
  process, on the bench database;
- a breakdown of one kind (page interaction / pageview) by `path` over 30 days, as
  GET /api/insights/trend/ to the running gunicorn with the read key: first with `path`
  untracked (raw events), then tracked (its hourly value counts, backfilled here first);
- a saved dashboard of six insights (two funnels, two breakdowns, the overview and an
  Explore filter), as GET /dashboards/<id>/ with a logged-in session: with Refresh (every
  card computed, the figure of the target), then as a second visit finds it (every card
  kept, insights/kept.py).

Each is run once to warm up, then timed `repeat` times (fewer past the time budget, at
least 3) for p50 and max. Funnels and untracked breakdowns read raw events, so their
figures grow with the table; the machine's other work shows in them too.
"""

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from bench.query import get
from bench.services import Database, Stack

WARMUP = 1
FUNNEL_QUERY = urlencode(
    {
        "range": "30d",
        "window": "86400",
        "step1": "page interaction\tpageview",
        "key1": "path",
        "value1": "/",
        "step2": "form interaction\tform start",
        "step3": "form interaction\tsubmit",
    }
)
BREAKDOWN_QUERY = urlencode(
    {"category": "page interaction", "name": "pageview", "range": "30d", "by": "path"}
)


def _timed(action: Callable[[], object], *, repeat: int, budget: float) -> dict:
    for _ in range(WARMUP):
        action()
    times: list[float] = []
    spent = time.monotonic()
    while len(times) < repeat and (len(times) < 3 or time.monotonic() - spent < budget):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "requests": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
    }


def _latest(database: Database) -> datetime:
    with database.connect(autocommit=True) as connection:
        latest = connection.execute('SELECT max("timestamp") FROM events').fetchone()[0]
    return latest or datetime.now(UTC)


def funnel_measure(*, database: Database, repeat: int, budget: float) -> dict:
    from events.funnels import FunnelStep, funnel_compute

    end = _latest(database) + timedelta(microseconds=1)
    steps = [
        FunnelStep("page interaction", "pageview", "path", "/"),
        FunnelStep("form interaction", "form start"),
        FunnelStep("form interaction", "submit"),
    ]
    sessions: list[int] = []

    def run() -> None:
        funnel = funnel_compute(steps=steps, start=end - timedelta(days=30), end=end)
        sessions[:] = [step.sessions for step in funnel.steps]

    figures = _timed(run, repeat=repeat, budget=budget)
    return {**figures, "sessions_per_step": sessions, "target_ms": 1000}


def breakdown_measure(
    *, stack: Stack, database: Database, key: str, repeat: int, budget: float
) -> dict:
    end = _latest(database) + timedelta(microseconds=1)
    params = {
        "category": "page interaction",
        "name": "pageview",
        "start": (end - timedelta(days=30)).isoformat(),
        "end": end.isoformat(),
        "interval": "day",
        "breakdown": "path",
    }
    path = f"/api/insights/trend/?{urlencode(params)}"
    headers = {"Authorization": f"Bearer {key}"}
    status, body, _ = get(stack.base_url, path, headers)
    if status != 200:
        return {"status": status, "error": body[:300].decode(errors="replace")}
    figures = _timed(lambda: get(stack.base_url, path, headers), repeat=repeat, budget=budget)
    return {
        **figures,
        "path": "/api/insights/trend/ (page interaction / pageview by path, 30 days)",
        "target_ms": 500,
    }


def path_tracking(*, tracked: bool) -> None:
    """Track `path` and count it in the events loaded so far (the worker's backfill, run
    here to its end), or stop tracking it, so that a breakdown by it reads its hourly
    value counts, or raw events."""
    from events.models import TrackedKey
    from events.tracked_keys import tracked_key_add, tracked_key_backfill, tracked_key_remove

    current = TrackedKey.objects.filter(key="path").first()
    if not tracked:
        if current is not None:
            tracked_key_remove(tracked_key=current)
        return
    if current is None:
        current = tracked_key_add(key="path")
    tracked_key_backfill(tracked_key_id=current.pk)


def dashboard_create() -> int:
    """The dashboard of six insights, owned by the bench's staff user."""
    from django.contrib.auth import get_user_model

    from insights.models import Dashboard
    from insights.services import dashboard_create as create
    from insights.services import insight_create

    owner, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    Dashboard.objects.filter(name="bench insights").delete()
    dashboard = create(owner=owner, name="bench insights")
    signup = FUNNEL_QUERY.replace("form+start", "validation+error")
    for kind, name, query in (
        ("funnel", "Landing to submit", FUNNEL_QUERY),
        ("funnel", "Landing, invalid, submit", signup),
        ("breakdown", "Pageviews by path", BREAKDOWN_QUERY),
        ("breakdown", "Pageviews by referrer", BREAKDOWN_QUERY.replace("by=path", "by=referrer")),
        ("overview", "Events by category", "range=30d"),
        ("explore", "Submits", "range=30d&category=form+interaction&name=submit"),
    ):
        insight_create(owner=owner, kind=kind, name=name, query=query, dashboard=dashboard)
    return dashboard.pk


def dashboard_measure(*, stack: Stack, cookie: str, repeat: int, budget: float) -> dict:
    """The dashboard computed afresh (Refresh: every card computed), then as a second
    visit finds it (every card kept from the visit before)."""
    path = f"/dashboards/{dashboard_create()}/"
    headers = {"Cookie": cookie}
    results = {}
    for name, query, what in (
        ("dashboard_six_insights", "?refresh=1", "every card computed"),
        (
            "dashboard_six_insights_kept",
            "",
            "every card kept from the visit before, as the worker keeps it while it is opened",
        ),
    ):
        status, body, _ = get(stack.base_url, path + query, headers)
        if status != 200:
            results[name] = {"status": status, "error": body[:300].decode(errors="replace")}
            continue
        figures = _timed(
            lambda query=query: get(stack.base_url, path + query, headers),
            repeat=repeat,
            budget=budget,
        )
        results[name] = {
            **figures,
            "path": f"/dashboards/<id>/{query} (six insights, 30 days; {what})",
            "target_ms": 2000,
        }
    return results


def insights_measure(
    *, stack: Stack, database: Database, key: str, cookie: str, repeat: int, budget: float
) -> dict:
    # Fewer runs than the API queries: each of these reads a month of raw events.
    repeat = max(3, min(repeat, 10))
    results = {
        "funnel_3_steps_30d": funnel_measure(database=database, repeat=repeat, budget=budget),
    }
    for tracked, name in ((False, "breakdown_path_30d"), (True, "breakdown_path_30d_tracked")):
        path_tracking(tracked=tracked)
        results[name] = breakdown_measure(
            stack=stack, database=database, key=key, repeat=repeat, budget=budget
        )
    results.update(dashboard_measure(stack=stack, cookie=cookie, repeat=repeat, budget=budget))
    return results


def _worker_round(*, repeat: int) -> dict:
    """What keeping the dashboard fresh costs the worker: a round in which every card of
    the one dashboard just opened is about to expire (each round comes a keep time less
    the margin after the one before: 3 minutes with the defaults)."""
    from django.conf import settings
    from django.utils import timezone

    from insights.kept import FRESH_MARGIN, kept_dashboards_refresh

    def run() -> None:
        later = timezone.now() + timedelta(seconds=settings.EYE_INSIGHT_KEEP_SECONDS)
        assert kept_dashboards_refresh(now=later - FRESH_MARGIN / 2) == 1

    return {
        **_timed(run, repeat=repeat, budget=60),
        "every_seconds": settings.EYE_INSIGHT_KEEP_SECONDS - FRESH_MARGIN.total_seconds(),
    }


class ScratchDatabase(Database):
    """The database named by EYE_DATABASE_URL, whatever name the loader asks for: the
    standalone run fills and measures a scratch database of its own, not `eye_bench`."""

    def __init__(self, url: str) -> None:
        super().__init__(port=0, note="EYE_DATABASE_URL")
        self._url = url

    def url(self, name: str = "") -> str:
        return self._url


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.insights --size N`: fill the scratch database named by
    EYE_DATABASE_URL (it is migrated, and events are added up to N) and time the three
    insights in this process: the funnel and the breakdown (by `path` untracked, then
    tracked) through their selectors, the dashboard through Django's test client, and a
    round of the worker keeping that dashboard fresh. Nothing else runs, so it takes
    minutes, not the half hour of `make bench`."""
    import argparse
    import json
    import os

    parser = argparse.ArgumentParser(prog="python -m bench.insights", description=main.__doc__)
    parser.add_argument("--size", type=int, default=1_000_000, help="events in the table")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (5)")
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eye.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from bench.query import load_to
    from events.breakdowns import breakdown_series
    from events.models import Application
    from events.rollups import Granularity

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    database = ScratchDatabase(os.environ["EYE_DATABASE_URL"])
    application, _ = Application.objects.get_or_create(name="bench")
    load = load_to(database=database, application_id=application.pk, size=options.size, seed=1)
    end = _latest(database) + timedelta(microseconds=1)
    results: dict = {"events": load["events"]}
    results["funnel_3_steps_30d"] = funnel_measure(
        database=database, repeat=options.repeat, budget=60
    )
    for tracked, name in ((False, "breakdown_path_30d"), (True, "breakdown_path_30d_tracked")):
        path_tracking(tracked=tracked)
        results[name] = {
            **_timed(
                lambda: breakdown_series(
                    key="path",
                    start=end - timedelta(days=30),
                    end_exclusive=end,
                    granularity=Granularity.DAY,
                    category="page interaction",
                    name="pageview",
                ),
                repeat=options.repeat,
                budget=60,
            ),
            "target_ms": 500,
        }
    client = Client()
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get_or_create(username="bench")[0])
    path = f"/dashboards/{dashboard_create()}/"
    for name, query in (
        ("dashboard_six_insights", "?refresh=1"),
        ("dashboard_six_insights_kept", ""),
    ):
        assert client.get(path + query).status_code == 200
        results[name] = {
            **_timed(
                lambda query=query: client.get(path + query), repeat=options.repeat, budget=60
            ),
            "target_ms": 2000,
        }
    results["worker_round_six_insights"] = _worker_round(repeat=options.repeat)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
