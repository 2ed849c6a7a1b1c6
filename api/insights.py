"""POST /api/insights/funnel/ and GET /api/insights/trend/: thin handlers over the funnel and
breakdown selectors, for read keys, over the key's application only."""

from collections.abc import Iterator
from contextlib import contextmanager

import pydantic
from django.http import HttpRequest
from ninja import Query, Router
from pydantic import TypeAdapter

from api.auth import ApiKeyAuth, reading_admit
from api.errors import ApiError, api_error, pydantic_errors
from api.insight_schemas import FunnelIn, FunnelOut, TrendOut, TrendQuery
from api.query_parameters import query_parameters_check
from api.views import ERROR_RESPONSES, read_json_body
from events.breakdowns import breakdown_series
from events.funnels import funnel_compute
from events.insight_sql import API_SLOTS, InsightsBusy, InsightTooSlow, insight_slot
from events.rollups import Granularity

router = Router(tags=["insights"], auth=ApiKeyAuth(admit=reading_admit))
RETRY_AFTER_SECONDS = 5


@contextmanager
def _refused_when_busy() -> Iterator[None]:
    """A computation that found every slot taken, or ran past its time limit, answers
    503 naming why."""
    try:
        yield
    except InsightTooSlow as slow:
        raise ApiError(
            503,
            [
                {
                    "message": f"computing this took longer than {slow.seconds:g} s, the "
                    "longest a request may compute, and was stopped; ask for a shorter range "
                    "(or, for a breakdown, track its key)"
                }
            ],
        ) from None
    except InsightsBusy as busy:
        raise ApiError(
            503,
            [
                {
                    "message": f"{busy.slots} funnels or breakdowns are being computed, the most "
                    "at once; nothing was computed for this request, retry in a few seconds"
                }
            ],
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None


_funnel = TypeAdapter(FunnelIn)


@router.post(
    "/insights/funnel/",
    response={200: FunnelOut, **ERROR_RESPONSES},
    summary="Compute a funnel",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": FunnelIn.model_json_schema()}},
        }
    },
)
def funnel_query(request: HttpRequest) -> dict:
    """Sessions per step, conversions and step times, and the conversion per day.

    A session reaches step k when it has events of steps 1 … k in that order, all within
    the window after its step-1 event, and that step-1 event lies in [start, end); each
    session counts once, at the furthest step it reaches.
    """
    payload = read_json_body(request)
    if not isinstance(payload, dict):
        raise api_error(422, "must be a JSON object", field="body")
    try:
        funnel_in = _funnel.validate_python(payload)
    except pydantic.ValidationError as exc:
        raise ApiError(422, pydantic_errors(exc, batch=False)) from None
    with _refused_when_busy(), insight_slot(API_SLOTS):
        funnel = funnel_compute(
            steps=[step.step() for step in funnel_in.steps],
            start=funnel_in.start,
            end=funnel_in.end,
            window=funnel_in.window,
            application_id=request.auth.application_id,
        )
    return {
        "steps": funnel.steps,
        "trend": [
            {
                "day": day.day,
                "sessions": day.started,
                "converted": day.converted,
                "conversion": day.conversion,
            }
            for day in funnel.trend
        ],
    }


@router.get(
    "/insights/trend/",
    response={200: TrendOut, **ERROR_RESPONSES},
    summary="Events of one kind per bucket, broken down by a data key",
)
def trend_query(request: HttpRequest, filters: Query[TrendQuery]) -> dict:
    """The 10 most frequent values of the `breakdown` key, the rest (and the events
    without the key) as `other`; without `breakdown`, one series of the whole kind."""
    known = set(TrendQuery.model_fields)
    query_parameters_check(request, known=known)
    arguments = {
        "key": filters.breakdown,
        "granularity": Granularity(filters.interval),
        "application_id": request.auth.application_id,
        "category": filters.category,
        "name": filters.name,
    }
    # Without a breakdown the counts come from the rollups, and a tracked key's from its
    # value counts: only a breakdown that reads the raw events takes a slot.
    with _refused_when_busy():
        breakdown = breakdown_series(
            start=filters.start_at, end_exclusive=filters.end_at, slots=API_SLOTS, **arguments
        )
    return {
        "interval": filters.interval,
        "buckets": breakdown.buckets,
        "series": [
            {"value": s.value, "counts": s.counts, "total": s.total} for s in breakdown.series
        ],
        "other": {"counts": breakdown.other, "total": breakdown.other_total},
        "total": breakdown.total,
    }
