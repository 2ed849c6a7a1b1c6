"""Funnels: how many sessions get from one kind of event to the next, computed per session
in SQL.

The definition (the README states it for users): a session reaches step k when it has
events of steps 1 … k in that order, each at or after the previous step's (events with the
same timestamp are taken in event_id order, and one event counts for one step only), all
within the window after its step-1 event, and that step-1 event lies in [start, end). Each
session counts once, at the furthest step it reaches. When several step-1 events could start
it, the one that gets furthest counts (the earliest of those), and each later step is the
first matching event after the previous one: the times between steps are measured along
that path.

Each step's events are read with events.selectors.event_list, so that a step's kind, its
data condition and the application mean what they mean in Explore and the API, and each
read is a range of the (category, name, timestamp) index. No event is loaded into Python:
the database walks each session's step events in order with window functions and returns
one row per step (and per day of the trend).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from events.insight_sql import insight_fetchall
from events.rollups import Granularity
from events.selectors import event_list

MIN_STEPS = 2
MAX_STEPS = 10
DEFAULT_WINDOW = timedelta(days=1)
MAX_WINDOW = timedelta(days=90)
DROPOFF_LIMIT = 100


@dataclass(frozen=True)
class FunnelStep:
    category: str
    name: str
    # A data condition as Explore's: `data_key` holding `data_value`.
    data_key: str | None = None
    data_value: str | None = None


@dataclass(frozen=True)
class FunnelStepResult:
    category: str
    name: str
    sessions: int
    conversion: float
    conversion_from_previous: float
    median_seconds_from_previous: float | None
    p90_seconds_from_previous: float | None


@dataclass(frozen=True)
class FunnelDay:
    day: datetime
    started: int
    converted: int

    @property
    def conversion(self) -> float:
        return self.converted / self.started if self.started else 0.0


@dataclass(frozen=True)
class Funnel:
    steps: list[FunnelStepResult]
    # Per UTC day of the step-1 event: sessions that started, and those that reached the end.
    trend: list[FunnelDay]

    def dropoffs(self) -> list[int]:
        """Sessions lost between each step and the next."""
        return [a.sessions - b.sessions for a, b in zip(self.steps, self.steps[1:], strict=False)]


def _steps_sql(
    *,
    steps: Sequence[FunnelStep],
    start: datetime,
    end: datetime,
    window: timedelta,
    application_id: int | None,
) -> tuple[str, list[object]]:
    """The per-anchor CTEs: `anchors` holds every step-1 event in [start, end) with the time
    of each later step on the greedy path from it (t2 … tK) and how far it reaches."""
    parts, params = [], []
    for number, step in enumerate(steps, start=1):
        # Step 1 starts in [start, end); later steps may happen up to a window after end.
        events = event_list(
            application_id=application_id,
            category=step.category,
            name=step.name,
            start=start,
            end_exclusive=end if number == 1 else end + window,
            data_key=step.data_key,
            data_value=step.data_value,
        )
        sql, step_params = (
            events.order_by().values_list("session_id", "timestamp", "event_id").query
        ).sql_with_params()
        parts.append(
            f'SELECT session_id, "timestamp" AS ts, event_id, {number} AS step FROM ({sql}) s'
        )
        params += step_params
    count = len(steps)
    # Each pass walks every session's step events newest first, so that "the rows after
    # this one" are the rows before it in the frame, which starts at the partition's head:
    # min() then grows one row at a time instead of being recomputed for every row (it has
    # no inverse). Ties on timestamp go by event_id, and an event matching several steps
    # lists its higher steps first, so that a path never uses one event twice.
    window_sql = (
        "WINDOW w AS (PARTITION BY session_id ORDER BY ts DESC, event_id DESC, step "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    # Pass m gives every row, for each step j >= m, the time of step j on the greedy path
    # through the first step-m event after it: the minimum over the later step-m rows,
    # because a path from a later row is never earlier.
    query = " UNION ALL ".join(parts)
    carried: list[str] = []
    for m in range(count, 1, -1):
        columns = [f"min(ts) FILTER (WHERE step = {m}) OVER w AS x{m}_{m}"]
        columns += [
            f"min(x{m + 1}_{j}) FILTER (WHERE step = {m}) OVER w AS x{m}_{j}"
            for j in range(m + 1, count + 1)
        ]
        keep = "".join(f", {c}" for c in carried)
        query = (
            f"SELECT session_id, ts, event_id, step{keep}, {', '.join(columns)} "
            f"FROM ({query}) p{m} {window_sql}"
        )
        carried = [f"x{m}_{j}" for j in range(m, count + 1)]
    times = ", ".join(f"x2_{j} AS t{j}" for j in range(2, count + 1))
    reach = " + ".join(
        f"(x2_{j} IS NOT NULL AND x2_{j} <= ts + %s)::int" for j in range(2, count + 1)
    )
    # The reach's placeholders come before the step queries' in the text.
    params = [window] * (count - 1) + params
    cte = f"""
    anchors AS (
        SELECT session_id, ts AS t1, event_id, {times}, 1 + {reach} AS reach
        FROM ({query}) walked
        WHERE step = 1
    ),
    chosen AS (
        SELECT DISTINCT ON (session_id) *
        FROM anchors
        ORDER BY session_id, reach DESC, t1, event_id
    )
    """
    return cte, params


def _validate(
    *, steps: Sequence[FunnelStep], start: datetime, end: datetime, window: timedelta
) -> None:
    if not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise ValueError(f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps")
    if end <= start:
        raise ValueError("the range must end after it starts")
    if not timedelta(0) < window <= MAX_WINDOW:
        raise ValueError("the window must be positive and at most 90 days")


@dataclass(frozen=True)
class DroppedSession:
    session_id: str
    # When it did the last step it reached.
    last_step_at: datetime


def funnel_compute(
    *,
    steps: Sequence[FunnelStep],
    start: datetime,
    end: datetime,
    window: timedelta = DEFAULT_WINDOW,
    application_id: int | None = None,
) -> Funnel:
    """Sessions per step, conversions and step times, and the conversion per day."""
    funnel, _ = _funnel_walk(
        steps=steps, start=start, end=end, window=window, application_id=application_id
    )
    return funnel


def funnel_with_dropoff(
    *,
    steps: Sequence[FunnelStep],
    start: datetime,
    end: datetime,
    step: int,
    window: timedelta = DEFAULT_WINDOW,
    application_id: int | None = None,
    limit: int = DROPOFF_LIMIT,
) -> tuple[Funnel, list[DroppedSession]]:
    """The funnel, and the sessions that reached step `step` (1-based) and no further,
    newest first: one walk of the events for both, so that a click on a drop-off costs
    what the funnel costs, not twice."""
    if not 1 <= step < len(steps):
        raise ValueError("a drop-off follows a step before the last")
    return _funnel_walk(
        steps=steps,
        start=start,
        end=end,
        window=window,
        application_id=application_id,
        dropoff=(step, limit),
    )


def _funnel_walk(
    *,
    steps: Sequence[FunnelStep],
    start: datetime,
    end: datetime,
    window: timedelta,
    application_id: int | None,
    dropoff: tuple[int, int] | None = None,
) -> tuple[Funnel, list[DroppedSession]]:
    _validate(steps=steps, start=start, end=end, window=window)
    cte, params = _steps_sql(
        steps=steps, start=start, end=end, window=window, application_id=application_id
    )
    count = len(steps)
    columns = [f"count(*) FILTER (WHERE reach >= {k})" for k in range(1, count + 1)]
    for k in range(2, count + 1):
        previous = "t1" if k == 2 else f"t{k - 1}"
        seconds = f"extract(epoch FROM t{k} - {previous})::float8"
        for share in (0.5, 0.9):
            columns.append(
                f"percentile_cont({share}) WITHIN GROUP (ORDER BY {seconds}) "
                f"FILTER (WHERE reach >= {k})"
            )
    dropped_cte = ""
    if dropoff is not None:
        stopped_at, limit = dropoff
        last = "t1" if stopped_at == 1 else f"t{stopped_at}"
        # Beside the counts, from the same walk: `chosen`, read twice, is computed once.
        dropped_cte = f""",
    dropped AS (
        SELECT session_id, {last} AS at FROM chosen WHERE reach = %s
        ORDER BY {last} DESC, session_id LIMIT %s
    )"""
        params = [*params, stopped_at, limit]
        columns += [
            "ARRAY(SELECT session_id FROM dropped ORDER BY at DESC, session_id)",
            "ARRAY(SELECT at FROM dropped ORDER BY at DESC, session_id)",
        ]
    day = Granularity.DAY.truncate_sql("t1")
    sql = f"""
    WITH {cte}{dropped_cte}
    SELECT GROUPING({day}) AS whole, {day} AS day,
           {", ".join(columns)}
    FROM chosen
    GROUP BY GROUPING SETS ((), ({day}))
    """
    rows = insight_fetchall(sql=sql, params=params)
    whole = next((row for row in rows if row[0] == 1), None)
    reached = list(whole[2 : 2 + count]) if whole else [0] * count
    times = (
        list(whole[2 + count : 2 + count + 2 * (count - 1)])
        if whole
        else [None] * (2 * (count - 1))
    )
    results = []
    for k, step in enumerate(steps):
        sessions = reached[k]
        previous = reached[k - 1] if k else sessions
        results.append(
            FunnelStepResult(
                category=step.category,
                name=step.name,
                sessions=sessions,
                conversion=sessions / reached[0] if reached[0] else 0.0,
                conversion_from_previous=sessions / previous if previous else 0.0,
                median_seconds_from_previous=times[2 * (k - 1)] if k else None,
                p90_seconds_from_previous=times[2 * (k - 1) + 1] if k else None,
            )
        )
    trend = sorted(
        (
            FunnelDay(day=row[1], started=row[2], converted=row[1 + count])
            for row in rows
            if not row[0]
        ),
        key=lambda day: day.day,
    )
    dropped = (
        [DroppedSession(str(session), at) for session, at in zip(*whole[-2:], strict=True)]
        if whole and dropoff is not None
        else []
    )
    return Funnel(steps=results, trend=trend), dropped
