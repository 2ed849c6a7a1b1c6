"""What the staff pages show of each application: volume and last event, from rollups."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from events.models import Application


@dataclass(frozen=True)
class ApplicationSummary:
    application: Application
    events_24h: int
    events_30d: int
    last_event_at: datetime | None
    live_keys: int


def _volumes(application_ids: list[int], now: datetime) -> dict[int, tuple[int, int]]:
    """Events of the last 24 hours and 30 days per application, from the hour rollup: the
    current, partial hour included, so that a fresh event shows at once."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT application_id,
                   coalesce(sum(events) FILTER (WHERE bucket > %(day_ago)s), 0)::bigint,
                   coalesce(sum(events), 0)::bigint
            FROM event_counts_hour
            WHERE bucket > %(month_ago)s AND application_id = ANY(%(ids)s)
            GROUP BY application_id
            """,
            {
                "day_ago": hour - timedelta(hours=24),
                "month_ago": hour - timedelta(days=30),
                "ids": application_ids,
            },
        )
        return {app_id: (day, month) for app_id, day, month in cursor.fetchall()}


def _last_events(application_ids: list[int]) -> dict[int, datetime]:
    """The newest event's timestamp per application. The minute rollup finds its minute
    (there is no index on application in the raw table); the raw table, read within that
    one minute, gives the exact instant."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT r.application_id,
                   (SELECT max(e."timestamp") FROM events e
                    WHERE e.application_id = r.application_id
                      AND e."timestamp" >= r.last_minute
                      AND e."timestamp" < r.last_minute + interval '1 minute')
            FROM (SELECT application_id, max(bucket) AS last_minute
                  FROM event_counts_minute
                  WHERE application_id = ANY(%s) AND events > 0
                  GROUP BY application_id) AS r
            """,
            [application_ids],
        )
        return {app_id: last for app_id, last in cursor.fetchall() if last is not None}


def application_summaries(
    *, applications: list[Application] | None = None
) -> list[ApplicationSummary]:
    """Every application's summary, by name, or those of `applications`."""
    annotated = Application.objects.annotate(
        live_key_count=Count("keys", filter=Q(keys__revoked_at__isnull=True))
    ).order_by("name")
    if applications is not None:
        annotated = annotated.filter(pk__in=[application.pk for application in applications])
    found = list(annotated)
    ids = [application.pk for application in found]
    volumes = _volumes(ids, timezone.now())
    last_events = _last_events(ids)
    return [
        ApplicationSummary(
            application=application,
            events_24h=volumes.get(application.pk, (0, 0))[0],
            events_30d=volumes.get(application.pk, (0, 0))[1],
            last_event_at=last_events.get(application.pk),
            live_keys=application.live_key_count,
        )
        for application in found
    ]


def application_summary(*, application: Application) -> ApplicationSummary:
    [summary] = application_summaries(applications=[application])
    return summary


def application_daily_volume(*, application_id: int, days: int = 30) -> list[tuple[date, int]]:
    """Events per UTC day over the last `days` days, today included, every day present."""
    today = timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (bucket AT TIME ZONE 'UTC')::date, sum(events)::bigint
            FROM event_counts_hour
            WHERE application_id = %s AND bucket >= %s
            GROUP BY 1
            """,
            [application_id, datetime.combine(first, datetime.min.time(), tzinfo=UTC)],
        )
        counts = dict(cursor.fetchall())
    return [
        (first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)
    ]


def application_id_named(name: str) -> int | None:
    """The id of the application called `name`, or None when there is none."""
    return Application.objects.filter(name=name).values_list("pk", flat=True).first()
