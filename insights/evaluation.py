"""What number a saved insight gives: its definition computed afresh by the selectors of the
page it came from, over its own range or one given in its place. A dashboard's cards and a
digest's numbers are both these, so that a digest and the dashboard its link opens agree.
"""

from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from datetime import datetime
from typing import assert_never

from django.db import connection, connections
from django.http import QueryDict
from django.utils import timezone

from events.breakdowns import Breakdown, breakdown_series, may_use_kept_counts
from events.funnels import DroppedSession, Funnel, funnel_compute, funnel_with_dropoff
from events.insight_sql import InsightTooSlow, SlotPool, insight_slot
from events.rollups import Series, event_counts_series
from events.stats import event_count
from insights.definitions import (
    BreakdownDefinition,
    Definition,
    ExploreDefinition,
    FunnelDefinition,
    InvalidDefinition,
    OverviewDefinition,
    insight_definition,
    insight_query,
)
from insights.models import Insight

# Insights computed at once, each on a connection of its own, so that a dashboard waits on
# its slowest insight rather than on the sum of them all.
EVALUATION_THREADS = 6
TOO_SLOW = (
    "Took longer than {seconds} seconds to compute, so it was stopped (a shorter range costs "
    "less). On a dashboard opened lately, the worker computes it in the background, without "
    "that limit, for a later visit."
)


@dataclass(frozen=True)
class Evaluation:
    """An insight's headline number over a range, with what it was computed from (a chart
    can be drawn from `result`), or the problem that kept it from being computed."""

    insight: Insight
    # The query computed: the insight's own, with the range given in place of its own.
    query: QueryDict
    definition: Definition | None = None
    number: int | None = None
    number_label: str = ""
    problem: str = ""
    # The events per bucket (overview), the funnel, or the breakdown; None for Explore.
    result: Series | Funnel | Breakdown | None = None
    # When the computation started: the numbers are those of the data at that moment.
    computed_at: datetime | None = None


def _funnel_arguments(definition: FunnelDefinition) -> dict:
    time_range = definition.time_range
    assert time_range.start is not None and time_range.end is not None
    return {
        "steps": definition.steps,
        "start": time_range.start,
        "end": time_range.end,
        "window": definition.window,
        "application_id": definition.application_id,
    }


def funnel_of(definition: FunnelDefinition) -> Funnel:
    return funnel_compute(**_funnel_arguments(definition))


def funnel_before_of(definition: FunnelDefinition) -> Funnel:
    """The same funnel over the period of the same length just before its range: step-1
    events in [previous start, start), later steps up to a window after that."""
    arguments = _funnel_arguments(definition)
    arguments.update(start=definition.time_range.previous_start, end=arguments["start"])
    return funnel_compute(**arguments)


def funnel_with_dropoff_of(
    definition: FunnelDefinition, *, step: int
) -> tuple[Funnel, list[DroppedSession]]:
    """The funnel and the sessions that stopped at `step`, from one computation."""
    return funnel_with_dropoff(**_funnel_arguments(definition), step=step)


def insight_evaluate(
    *,
    insight: Insight,
    range_params: dict[str, str] | None = None,
    slots: SlotPool | None = None,
) -> Evaluation:
    """`range_params` ({"range": "7d"}, or "custom" with its "start" and "end") replaces
    the range saved with the insight. With `slots`, a breakdown that falls back on the raw
    events holds one of its slots while it reads them (breakdown_series)."""
    computed_at = timezone.now()
    query = insight_query(insight=insight, range_params=range_params)
    try:
        definition = insight_definition(kind=insight.kind, query=query)
    except InvalidDefinition as invalid:
        return Evaluation(insight=insight, query=query, problem=str(invalid))
    try:
        match definition:
            case OverviewDefinition():
                number, label, result = _overview(definition)
            case ExploreDefinition():
                number, label, result = _explore(definition)
            case FunnelDefinition():
                number, label, result = _funnel(definition)
            case BreakdownDefinition():
                number, label, result = _breakdown(definition, slots=slots)
            case _:
                assert_never(definition)
    except InsightTooSlow as slow:
        # One card past a web request's time limit must not cost the others theirs: it
        # says so, and is not kept (insights/kept.py keeps no problem), so the worker's
        # rounds, which have no limit, compute it for the next visit.
        return Evaluation(
            insight=insight,
            query=query,
            definition=definition,
            problem=TOO_SLOW.format(seconds=f"{slow.seconds:g}"),
        )
    return Evaluation(
        insight=insight,
        query=query,
        definition=definition,
        number=number,
        number_label=label,
        result=result,
        computed_at=computed_at,
    )


def _overview(definition: OverviewDefinition) -> tuple[int, str, Series]:
    time_range = definition.time_range
    assert time_range.start is not None and time_range.end is not None
    series = event_counts_series(
        start=time_range.start,
        end=time_range.end,
        granularity=time_range.granularity,
        group_by="category",
        application_id=definition.application_id,
    )
    return series.total(), "events", series


def _explore(definition: ExploreDefinition) -> tuple[int | None, str, None]:
    count = event_count(**definition.filters)
    return count.value, "events" if count.exact else "events or more", None


def _funnel(definition: FunnelDefinition) -> tuple[int, str, Funnel]:
    funnel = funnel_of(definition)
    last = funnel.steps[-1]
    return funnel.steps[0].sessions, f"sessions entered, {last.conversion:.0%} converted", funnel


def _breakdown_arguments(definition: BreakdownDefinition) -> dict:
    """What breakdown_series is asked, but the range's bounds."""
    return {
        "key": definition.key,
        "granularity": definition.time_range.granularity,
        "application_id": definition.application_id,
        "category": definition.category,
        "name": definition.name,
    }


def _breakdown(
    definition: BreakdownDefinition, *, slots: SlotPool | None
) -> tuple[int, str, Breakdown]:
    time_range = definition.time_range
    assert time_range.start is not None and time_range.end is not None
    breakdown = breakdown_series(
        start=time_range.start,
        end_exclusive=time_range.end,
        slots=slots,
        **_breakdown_arguments(definition),
    )
    return breakdown.total, "events", breakdown


def insights_read_raw(*, insights: list[Insight], range_params: dict[str, str] | None) -> bool:
    """Whether computing any of the insights may read the raw events (a funnel, or a
    breakdown that its key's value counts cannot answer), and so needs an insight slot on
    a web thread."""
    for insight in insights:
        query = insight_query(insight=insight, range_params=range_params)
        try:
            definition = insight_definition(kind=insight.kind, query=query)
        except InvalidDefinition:
            continue
        match definition:
            case FunnelDefinition():
                return True
            case BreakdownDefinition() if not may_use_kept_counts(
                **_breakdown_arguments(definition)
            ):
                return True
    return False


def insights_evaluate(
    *,
    insights: list[Insight],
    range_params: dict[str, str] | None,
    slots: SlotPool | None = None,
) -> list[Evaluation]:
    """Every insight, in order. With `slots` (a web request's pool), one of its slots is
    held while they are computed if any of them may read the raw events, or InsightsBusy
    raised at once. Other threads see only committed data, so a caller inside a
    transaction (a test's, say) gets its insights one after another."""
    reads_raw = slots is not None and insights_read_raw(
        insights=insights, range_params=range_params
    )
    # Without the set's slot, a breakdown whose tracked counts turn out to hold a value
    # too long to count takes one of its own to read the raw events.
    fallback = None if reads_raw else slots
    with insight_slot(slots, needed=reads_raw):
        if len(insights) < 2 or connection.in_atomic_block:
            return [
                insight_evaluate(insight=i, range_params=range_params, slots=fallback)
                for i in insights
            ]
        with ThreadPoolExecutor(max_workers=min(EVALUATION_THREADS, len(insights))) as pool:
            # Each card in a copy of this context, which holds the slot's time limit.
            cards = [
                pool.submit(copy_context().run, _evaluate_in_thread, i, range_params, fallback)
                for i in insights
            ]
            return [card.result() for card in cards]


def _evaluate_in_thread(
    insight: Insight, range_params: dict[str, str] | None, slots: SlotPool | None
) -> Evaluation:
    try:
        return insight_evaluate(insight=insight, range_params=range_params, slots=slots)
    finally:
        # The thread's own connection ends with it rather than lingering until the server
        # closes it.
        connections.close_all()
