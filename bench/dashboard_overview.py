"""How fast the dashboard answers over 10 million events: the 30-day overview, and the
other pages for comparison. Standalone; the test suite never runs it.

It creates a scratch database on a PostgreSQL server (TimescaleDB if the server has it),
runs The Eye's migrations there and fills the rollup tables as 10,000,000 events over 30
days from four apps, eight categories and twenty names would leave them (and as many again
in the 30 days before, which the overview compares against): hour and minute counts with
a daily rhythm, and session activity for some 400,000 sessions of about 25 events a month.
Those rows are generated in SQL with generate_series, which takes seconds where storing
10M events would take minutes; the overview reads only the rollups, so it cannot tell the
difference. A smaller raw sample (1,000,000 events by default) serves the Explore timings.
Then it requests each page through Django's test client, logged in, and prints p50/p95.

    .venv/bin/python bench/dashboard_overview.py
    .venv/bin/python bench/dashboard_overview.py --url postgres://postgres@127.0.0.1:5432/ --runs 50

The default server is the TimescaleDB cluster on 127.0.0.1:5433, then 127.0.0.1:5432.
The scratch database is dropped at the end unless --keep is given.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVERS = ["postgres://postgres@127.0.0.1:5433/", "postgres://postgres@127.0.0.1:5432/"]

APPS = [("web", 0.45), ("ios", 0.25), ("android", 0.22), ("backend", 0.08)]
# (category, name, share of all events): a long tail, as real products have.
KINDS = [
    ("page interaction", "pageview", 0.30),
    ("page interaction", "scroll", 0.14),
    ("page interaction", "cta click", 0.09),
    ("page interaction", "outbound link", 0.03),
    ("form interaction", "form start", 0.05),
    ("form interaction", "submit", 0.04),
    ("form interaction", "validation error", 0.02),
    ("account", "log in", 0.06),
    ("account", "sign up", 0.02),
    ("account", "log out", 0.02),
    ("commerce", "add to cart", 0.05),
    ("commerce", "checkout", 0.03),
    ("commerce", "purchase", 0.02),
    ("search", "query", 0.05),
    ("search", "result click", 0.03),
    ("media", "play", 0.02),
    ("media", "pause", 0.01),
    ("notifications", "open", 0.01),
    ("errors", "js error", 0.005),
    ("errors", "api error", 0.005),
]


def server_url(given: str | None) -> str:
    candidates = [given] if given else DEFAULT_SERVERS
    for url in candidates:
        try:
            with psycopg.connect(url + "postgres", connect_timeout=3):
                return url
        except psycopg.OperationalError as exc:
            print(f"bench: cannot use {url} ({str(exc).strip().splitlines()[0]})", file=sys.stderr)
    sys.exit("bench: no PostgreSQL server to run on")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def values_sql(rows: list[tuple]) -> str:
    def literal(value: object) -> str:
        return str(value) if isinstance(value, int | float) else "'" + str(value) + "'"

    return ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)


def fill(*, events: int, days: int, raw_events: int) -> None:
    """Rollup rows as `events` events over the last `days` days would leave them."""
    from django.contrib.auth.models import User
    from django.db import connection

    from events.models import Application

    app_ids = [(Application.objects.create(name=name).pk, share) for name, share in APPS]
    User.objects.create_user("bench", password="bench")
    kinds = values_sql(KINDS)
    apps = values_sql(app_ids)
    with connection.cursor() as cursor:
        step(
            "hour rollup",
            lambda: cursor.execute(
                HOURS_SQL.format(apps=apps, kinds=kinds), {"days": days, "events": events}
            ),
        )
        step("minute rollup", lambda: cursor.execute(MINUTES_SQL))
        step("session activity", lambda: cursor.execute(SESSIONS_SQL))
        step(
            f"{raw_events:,} raw events",
            lambda: cursor.execute(
                RAW_SQL,
                {
                    "count": raw_events,
                    "days": days,
                    "apps": [pk for pk, _ in app_ids],
                    "categories": [c for c, _, _ in KINDS],
                    "names": [n for _, n, _ in KINDS],
                    "kinds": len(KINDS),
                },
            ),
        )
        step("refusals", lambda: cursor.execute(REFUSALS_SQL, {"app": app_ids[0][0]}))
        step(
            "vacuum analyze",
            lambda: [
                cursor.execute(f"VACUUM ANALYZE {table}")
                for table in (
                    "event_counts_hour",
                    "event_counts_minute",
                    "session_activity_hour",
                    "events",
                    "events_refusal",
                )
            ],
        )
        cursor.execute("SELECT sum(events) FROM event_counts_hour")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM event_counts_hour")
        hour_rows = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM event_counts_minute")
        minute_rows = cursor.fetchone()[0]
        cursor.execute("SELECT count(*), count(DISTINCT session_id) FROM session_activity_hour")
        session_rows, sessions = cursor.fetchone()
    print(
        f"bench: rollups hold {total:,} events over {2 * days} days: {hour_rows:,} hour rows, "
        f"{minute_rows:,} minute rows, {session_rows:,} session-hour rows for {sessions:,} "
        "sessions"
    )


# Events per hour follow a daily rhythm (quiet nights, busy evenings) and a weekly one;
# the weights are normalised so that each period of `days` holds about the events asked
# for. Twice `days` are filled, so that the overview's comparison with the period before
# reads as many rows as a real deployment's would.
HOURS_SQL = """
WITH hours AS (
    SELECT h, (1.15 + sin(2 * pi() * (extract(hour FROM h) - 10) / 24))
              * CASE WHEN extract(isodow FROM h) >= 6 THEN 0.7 ELSE 1.0 END AS w
    FROM generate_series(
        date_trunc('hour', now()) - make_interval(days => 2 * %(days)s) + interval '1 hour',
        date_trunc('hour', now()), interval '1 hour') AS h
),
total AS (SELECT sum(w) AS w FROM hours)
INSERT INTO event_counts_hour (bucket, application_id, category, name, events)
SELECT h, app_id, category, name,
       round(2 * %(events)s * hours.w / total.w * app_share * kind_share)::bigint
FROM hours, total,
     (VALUES {apps}) AS apps(app_id, app_share),
     (VALUES {kinds}) AS kinds(category, name, kind_share)
WHERE round(2 * %(events)s * hours.w / total.w * app_share * kind_share) > 0
"""

# Each hour's count spread over its minutes, so that minutes sum to the hour exactly.
MINUTES_SQL = """
INSERT INTO event_counts_minute (bucket, application_id, category, name, events)
SELECT bucket + make_interval(mins => m), application_id, category, name,
       events / 60 + CASE WHEN m < events % 60 THEN 1 ELSE 0 END
FROM event_counts_hour, generate_series(0, 59) AS m
WHERE events / 60 + CASE WHEN m < events % 60 THEN 1 ELSE 0 END > 0
"""

# Sessions of about 25 events spanning two hours: the sessions of one two-hour block
# appear in both of its hours, with the same ids.
SESSIONS_SQL = """
WITH per_hour AS (
    SELECT bucket, application_id, sum(events) AS events,
           floor(extract(epoch FROM bucket) / 7200)::bigint AS block
    FROM event_counts_hour GROUP BY 1, 2
)
INSERT INTO session_activity_hour (bucket, application_id, session_id, events)
SELECT bucket, application_id,
       md5(application_id || ':' || block || ':' || i)::uuid,
       greatest(1, round(events / greatest(1, round(events / 12.5))))::bigint
FROM per_hour, generate_series(0, greatest(0, round(events / 12.5)::int - 1)) AS i
"""

RAW_SQL = """
INSERT INTO events (event_id, "timestamp", session_id, category, name, data, application_id,
                    received_at)
SELECT md5('event:' || i)::uuid,
       now() - make_interval(secs => (i::float8 / %(count)s) * %(days)s * 86400),
       md5('session:' || (i / 25))::uuid,
       (%(categories)s::text[])[1 + (i * 7919) %% %(kinds)s],
       (%(names)s::text[])[1 + (i * 7919) %% %(kinds)s],
       jsonb_build_object('path', '/page/' || (i %% 40), 'browser',
                          (ARRAY['Chrome', 'Safari', 'Firefox', 'Edge'])[1 + i %% 4]),
       (%(apps)s::bigint[])[1 + i %% 4],
       now()
FROM generate_series(0::bigint, %(count)s - 1) AS i
"""

REFUSALS_SQL = """
INSERT INTO events_refusal (created_at, application_id, status, errors, body, body_size,
                            request_id)
SELECT now() - make_interval(mins => i * 4), CASE WHEN i %% 5 = 0 THEN NULL ELSE %(app)s END,
       422, '[{"field": "timestamp", "message": "is more than 300 seconds in the future"}]',
       '{"category": "page interaction"}', 33, ''
FROM generate_series(1, 10000) AS i
"""


def step(label: str, action: Callable[[], object]) -> None:
    started = time.perf_counter()
    action()
    print(f"bench: {label}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def time_pages(runs: int) -> list[tuple[str, list[float], list[float]]]:
    from django.core.cache import cache
    from django.db import connection
    from django.http import HttpRequest
    from django.test import Client
    from django.test.utils import setup_test_environment

    from events.paging import encode_cursor

    setup_test_environment()
    client = Client()
    # The login throttle (django-axes) needs the request that a login comes with.
    assert client.login(request=HttpRequest(), username="bench", password="bench")
    with connection.cursor() as cursor:
        # The cursor of page 1,000 of Explore (50 events a page).
        cursor.execute(
            'SELECT "timestamp", event_id, application_id FROM events '
            'ORDER BY "timestamp" DESC, event_id DESC, application_id DESC OFFSET 49950 LIMIT 1'
        )
        timestamp, event_id, application_id = cursor.fetchone()
        cursor.execute("SELECT session_id FROM events ORDER BY timestamp DESC LIMIT 1")
        session_id = cursor.fetchone()[0]
    deep = encode_cursor(
        timestamp=timestamp, event_id=event_id, application_id=application_id, backwards=False
    )
    pages = [
        ("overview, 30 days", "/?range=30d"),
        ("overview, 30 days, one app", "/?range=30d&app=web"),
        ("overview, 7 days", "/?range=7d"),
        ("overview, 24 hours", "/?range=24h"),
        ("overview, 1 hour", "/?range=1h"),
        ("explore, page 1", "/explore/?range=30d"),
        ("explore, page 1,000", f"/explore/?range=30d&cursor={deep}"),
        ("explore, category + count", "/explore/?range=30d&category=commerce"),
        ("explore, data key = value", "/explore/?range=30d&key=path&value=/page/7"),
        ("session timeline", f"/sessions/{session_id}/"),
        ("sessions, 24 hours", "/sessions/?range=24h"),
        ("category, 30 days", "/category/?range=30d&category=page+interaction"),
        ("name, 30 days", "/name/?range=30d&category=page+interaction&name=cta+click&key=path"),
        ("errors, 7 days", "/errors/?range=7d"),
    ]
    results = []
    for label, url in pages:
        assert client.get(url).status_code == 200, url
        # Cold: nothing in Django's cache (the overview keeps long-range session counts
        # for a while), as when a person opens a range afresh. Warm: the same page again.
        cold, warm = [], []
        for samples, clear in ((cold, True), (warm, False)):
            for _ in range(runs):
                if clear:
                    cache.clear()
                started = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        results.append((label, cold, warm))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="server URL without a database name (default: 5433, 5432)")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--raw-events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    server = server_url(args.url)
    name = f"eye_bench_dashboard_{os.getpid()}"
    with psycopg.connect(server + "postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    print(f"bench: scratch database {name} on {server}", file=sys.stderr)

    data_dir = tempfile.mkdtemp(prefix="eye-bench-")
    os.environ.update(
        EYE_DATABASE_URL=with_database(server, name),
        EYE_DATA_DIR=data_dir,
        DJANGO_SETTINGS_MODULE="eye.settings",
        EYE_LOG_LEVEL="WARNING",
    )
    os.environ.pop("EYE_REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    try:
        step("migrate", lambda: call_command("migrate", verbosity=0))
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            row = cursor.fetchone()
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        store = f"TimescaleDB {row[0]} hypertable" if row else "plain PostgreSQL table"
        print(f"bench: PostgreSQL {version}, events in a {store}")
        fill(events=args.events, days=args.days, raw_events=args.raw_events)
        results = time_pages(args.runs)
    finally:
        connections.close_all()
        if not args.keep:
            with psycopg.connect(server + "postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(
        f"\n{'page':<30} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} {'warm p95':>9}"
        f"   (ms, {args.runs} runs each)"
    )
    for label, cold, warm in results:
        print(
            f"{label:<30} {statistics.median(cold):>9.1f} {percentile(cold, 0.95):>9.1f} "
            f"{statistics.median(warm):>9.1f} {percentile(warm, 0.95):>9.1f}"
        )
    _, cold, warm = results[0]
    print(
        f"\n30-day overview over {args.events:,} events: p50 {statistics.median(cold):.0f} ms, "
        f"p95 {percentile(cold, 0.95):.0f} ms with nothing cached; p50 "
        f"{statistics.median(warm):.0f} ms, p95 {percentile(warm, 0.95):.0f} ms warm"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
