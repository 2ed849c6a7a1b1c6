"""A dashboard's evaluations, kept for a few minutes in the shared cache.

A funnel or a breakdown of an untracked key reads a month of raw events, seconds at ten
million of them, and a dashboard of six such cards would compute them all on every visit,
each visitor's views competing for the same two cores. So a dashboard shows each card as
computed at most EYE_INSIGHT_KEEP_SECONDS ago (the page says when), and its Refresh
computes them all again. A result is kept under its kind, its query (the range given in
place of its own included) and the state of deletions: events removed by a deletion
request stop counting at once, and while a deletion runs nothing is kept or reused.
Digests and alerts always compute afresh (insights.evaluation).

A dashboard opened within EYE_INSIGHT_KEEP_FRESH_SECONDS is kept fresh by the worker: each
minute it computes again the cards that would expire before its next round, so that the
people who keep a dashboard open, or come back to it, find every card kept. The worker
computes one dashboard after another, never two rounds at once.
"""

import hashlib
import logging
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache

from events.erasure import deletions_version
from events.insight_sql import SlotPool
from eye.redis_connections import STORE_ERRORS
from insights.definitions import insight_query
from insights.evaluation import Evaluation, insights_evaluate
from insights.models import Dashboard, Insight
from insights.selectors import dashboard_insight_list

logger = logging.getLogger("eye.insights")

# Part of every key: a change to what an Evaluation holds changes it, so that no process
# reads a result pickled by another version of the code.
KEPT_FORMAT = 1


# The worker's round comes each minute and may take one to compute a dashboard: a card
# is computed again when it would expire within two.
FRESH_MARGIN = timedelta(minutes=2)
# One round at a time: a round that outlasts a minute makes the next one wait, and a
# worker that died in a round holds it back no longer than the lock lasts. A round starts
# no other dashboard after its budget: those opened longest ago wait for the next round.
FRESH_ROUND_LOCK = "insight-evaluation:fresh-round"
FRESH_ROUND_LOCK_SECONDS = 600
FRESH_ROUND_BUDGET = timedelta(minutes=5)


def insights_evaluate_kept(
    *,
    insights: list[Insight],
    range_params: dict[str, str] | None,
    stale_before: datetime | None = None,
    slots: SlotPool | None = None,
) -> list[Evaluation]:
    """insights_evaluate, reusing what was computed within EYE_INSIGHT_KEEP_SECONDS and
    not before `stale_before` (Refresh gives now: every insight is computed again). What
    is computed is kept. `slots` is a web request's pool: those that must be computed
    hold one of its slots if they may read raw events (InsightsBusy when none is free),
    while kept ones need none."""
    keep_for = settings.EYE_INSIGHT_KEEP_SECONDS
    version = deletions_version() if keep_for else None
    if version is None:
        return insights_evaluate(insights=insights, range_params=range_params, slots=slots)
    keys = [_key(insight, range_params, version) for insight in insights]
    kept = {
        key: evaluation
        for key, evaluation in _kept_get(keys).items()
        if stale_before is None
        or (evaluation.computed_at is not None and evaluation.computed_at >= stale_before)
    }
    missing = [position for position, key in enumerate(keys) if key not in kept]
    computed = dict(
        zip(
            missing,
            insights_evaluate(
                insights=[insights[position] for position in missing],
                range_params=range_params,
                slots=slots,
            ),
            strict=True,
        )
    )
    _keep({keys[position]: e for position, e in computed.items() if not e.problem}, keep_for)
    # A kept result carries the insight as it was; its name or description may have changed.
    return [
        computed[position] if position in computed else replace(kept[key], insight=insight)
        for position, (insight, key) in enumerate(zip(insights, keys, strict=True))
    ]


def kept_dashboards_refresh(*, now: datetime) -> int:
    """Compute again the cards of the dashboards opened within
    EYE_INSIGHT_KEEP_FRESH_SECONDS that would expire before the next round, most recently
    opened first. Returns how many dashboards were looked at (none while another round
    runs, or while a deletion runs: nothing would be kept)."""
    keep_for = settings.EYE_INSIGHT_KEEP_SECONDS
    fresh_for = settings.EYE_INSIGHT_KEEP_FRESH_SECONDS
    if not keep_for or not fresh_for or deletions_version() is None:
        return 0
    # The round's own token: a round that outlasted the lock must not, when it ends, let
    # go of the lock of the round that took it over meanwhile.
    token = uuid.uuid4().hex
    try:
        if not cache.add(FRESH_ROUND_LOCK, token, timeout=FRESH_ROUND_LOCK_SECONDS):
            return 0
    except STORE_ERRORS:
        logger.warning("kept dashboards not refreshed: the cache is unreachable", exc_info=True)
        return 0
    try:
        dashboards = Dashboard.objects.filter(
            viewed_at__gte=now - timedelta(seconds=fresh_for)
        ).order_by("-viewed_at", "-id")
        looked_at = 0
        started = time.monotonic()
        for dashboard in dashboards:
            elapsed = timedelta(seconds=time.monotonic() - started)
            if looked_at and elapsed > FRESH_ROUND_BUDGET:
                break
            insights_evaluate_kept(
                insights=list(dashboard_insight_list(dashboard=dashboard)),
                range_params=None,
                stale_before=now + elapsed - timedelta(seconds=keep_for) + FRESH_MARGIN,
            )
            looked_at += 1
        return looked_at
    finally:
        if cache.get(FRESH_ROUND_LOCK) == token:
            cache.delete(FRESH_ROUND_LOCK)


def _key(insight: Insight, range_params: dict[str, str] | None, version: str) -> str:
    query = insight_query(insight=insight, range_params=range_params).urlencode()
    text = "\0".join([str(KEPT_FORMAT), insight.kind, query, version])
    return "insight-evaluation:" + hashlib.sha256(text.encode()).hexdigest()


def _kept_get(keys: list[str]) -> dict[str, Evaluation]:
    try:
        return cache.get_many(keys)
    except Exception:
        # Whatever kept the results from being read (the cache is down, a result written by
        # other code cannot be unpickled), the dashboard computes them.
        logger.warning("kept insight results could not be read; computing them", exc_info=True)
        return {}


def _keep(evaluations: dict[str, Evaluation], seconds: int) -> None:
    if not evaluations:
        return
    try:
        cache.set_many(evaluations, timeout=seconds)
    except STORE_ERRORS:
        logger.warning("insight results could not be kept", exc_info=True)
