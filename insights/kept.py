"""A dashboard's evaluations, kept for a few minutes in the shared cache.

A funnel or a breakdown of an untracked key reads a month of raw events, seconds at ten
million of them, and a dashboard of six such cards would compute them all on every visit,
each visitor's views competing for the same two cores. So a dashboard shows each card as
computed at most EYE_INSIGHT_KEEP_SECONDS ago (the page says when), and its Refresh
computes them all again. A result is kept under its kind, its query (the range given in
place of its own included) and the state of deletions: events removed by a deletion
request stop counting at once, and while a deletion runs nothing is kept or reused.
Digests and alerts always compute afresh (insights.evaluation).
"""

import hashlib
import logging
from dataclasses import replace

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from events.erasure import deletions_version
from insights.definitions import insight_query
from insights.evaluation import Evaluation, insights_evaluate
from insights.models import Insight

logger = logging.getLogger("eye.insights")

# Part of every key: a change to what an Evaluation holds changes it, so that no process
# reads a result pickled by another version of the code.
KEPT_FORMAT = 1


def insights_evaluate_kept(
    *, insights: list[Insight], range_params: dict[str, str] | None, refresh: bool = False
) -> list[Evaluation]:
    """insights_evaluate, reusing what was computed within EYE_INSIGHT_KEEP_SECONDS;
    `refresh` computes every insight again (and keeps the new results)."""
    keep_for = settings.EYE_INSIGHT_KEEP_SECONDS
    version = deletions_version() if keep_for else None
    if version is None:
        return insights_evaluate(insights=insights, range_params=range_params)
    keys = [_key(insight, range_params, version) for insight in insights]
    kept = {} if refresh else _kept_get(keys)
    missing = [position for position, key in enumerate(keys) if key not in kept]
    computed = dict(
        zip(
            missing,
            insights_evaluate(
                insights=[insights[position] for position in missing], range_params=range_params
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
    except (RedisError, OSError):
        logger.warning("insight results could not be kept", exc_info=True)
