"""What a saved insight's query means: its kind and query string read, by the same forms as
the page it was saved from, into typed and validated values. The dashboard's cards, the
digests and the alert rules on a funnel all read insights through here, so that an insight
means the same thing wherever it is shown.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.http import QueryDict

from events.funnels import FunnelStep
from events.stats import category_name_list
from insights import ranges
from insights.forms import (
    KIND_SEPARATOR,
    BreakdownKeyForm,
    CategoryForm,
    ExploreForm,
    FunnelForm,
    NameForm,
    OverviewForm,
)
from insights.models import Insight
from insights.ranges import TimeRange

# The kinds stored change only when a new category or name first appears; a minute's
# staleness costs nothing and spares every page a scan of the hour rollup.
SUGGESTIONS_CACHE_SECONDS = 60
SUGGESTIONS_CACHE_KEY = "dashboard:category-names"
# Long enough to cover every range a person usually looks at; the read stays a scan of a
# bounded slice of the hour rollup however long the history kept.
SUGGESTIONS_DAYS = 400

INVALID = "This insight's settings are no longer valid; open it to fix them."
NO_STEPS = "This funnel has no steps."


def category_names() -> list[tuple[str, str]]:
    """The (category, name) pairs of the last SUGGESTIONS_DAYS days: the kinds a funnel's
    steps may name, and the pages' suggestions."""
    pairs = cache.get(SUGGESTIONS_CACHE_KEY)
    if pairs is None:
        pairs = category_name_list(since=ranges.utc_now() - timedelta(days=SUGGESTIONS_DAYS))
        cache.set(SUGGESTIONS_CACHE_KEY, pairs, SUGGESTIONS_CACHE_SECONDS)
    return pairs


class InvalidDefinition(ValueError):
    """The query no longer reads as its kind of insight; the message says so to a viewer."""


@dataclass(frozen=True)
class OverviewDefinition:
    time_range: TimeRange
    application_id: int | None


@dataclass(frozen=True)
class ExploreDefinition:
    time_range: TimeRange
    # Keyword arguments of events.selectors.event_list (and events.stats.event_count).
    filters: dict[str, Any]


@dataclass(frozen=True)
class FunnelDefinition:
    time_range: TimeRange
    steps: list[FunnelStep]
    window: timedelta
    application_id: int | None


@dataclass(frozen=True)
class BreakdownDefinition:
    time_range: TimeRange
    # None: the kind's events as one series.
    key: str | None
    application_id: int | None
    category: str | None
    name: str | None


Definition = OverviewDefinition | ExploreDefinition | FunnelDefinition | BreakdownDefinition


def insight_query(*, insight: Insight, range_params: dict[str, str] | None = None) -> QueryDict:
    """The insight's query string; `range_params` ({"range": "7d"}, or "custom" with its
    "start" and "end") replaces the range saved with it, custom bounds included."""
    query = QueryDict(insight.query, mutable=True)
    if range_params:
        for param in ("range", "start", "end"):
            query.pop(param, None)
        query.update(range_params)
    return query


def insight_definition(*, kind: str, query: QueryDict) -> Definition:
    """What an insight of this kind with this query asks for; InvalidDefinition when its
    page's form no longer accepts it."""
    readers = {
        Insight.Kind.OVERVIEW: _overview,
        Insight.Kind.EXPLORE: _explore,
        Insight.Kind.FUNNEL: _funnel,
        Insight.Kind.BREAKDOWN: _breakdown,
    }
    return readers[Insight.Kind(kind)](query)


def _require_valid(form: Any) -> None:
    if not form.is_valid():
        raise InvalidDefinition(INVALID)


def _overview(query: QueryDict) -> OverviewDefinition:
    form = OverviewForm(query)
    _require_valid(form)
    return OverviewDefinition(time_range=form.time_range, application_id=form.application_id)


def explore_filters(form: ExploreForm) -> dict[str, Any]:
    """A valid Explore form as keyword arguments of events.selectors.event_list."""
    time_range = form.time_range
    return {
        **form.event_filters(),
        "application_id": form.application_id,
        "start": time_range.start,
        "end_exclusive": time_range.end,
    }


def _explore(query: QueryDict) -> ExploreDefinition:
    form = ExploreForm(query)
    _require_valid(form)
    return ExploreDefinition(time_range=form.time_range, filters=explore_filters(form))


def funnel_form(*, query: QueryDict, any_kind: bool = False) -> FunnelForm:
    """The funnel builder over `query`. Its steps may name the kinds stored lately, as the
    Funnels page offers them; with `any_kind`, whatever kinds they name, so that a funnel
    whose events stopped still reads instead of turning invalid."""
    if not any_kind:
        return FunnelForm(query, kinds=category_names())
    named = [
        tuple(value.split(KIND_SEPARATOR, 1))
        for key, value in query.items()
        if key.startswith("step") and KIND_SEPARATOR in value
    ]
    return FunnelForm(query, kinds=named)


def funnel_definition(*, form: FunnelForm) -> FunnelDefinition:
    """The funnel a builder asks for; InvalidDefinition when it is invalid or has no steps."""
    _require_valid(form)
    if not form.steps:
        raise InvalidDefinition(NO_STEPS)
    return FunnelDefinition(
        time_range=form.time_range,
        steps=form.steps,
        window=form.window_delta,
        application_id=form.application_id,
    )


def _funnel(query: QueryDict) -> FunnelDefinition:
    return funnel_definition(form=funnel_form(query=query))


def _breakdown(query: QueryDict) -> BreakdownDefinition:
    # Saved from the name page when it names a name, from the category page otherwise.
    form: CategoryForm | NameForm = NameForm(query) if query.get("name") else CategoryForm(query)
    by = BreakdownKeyForm(query)
    _require_valid(form)
    _require_valid(by)
    return BreakdownDefinition(
        time_range=form.time_range,
        key=by.key,
        application_id=form.application_id,
        category=form.cleaned_data.get("category") or None,
        name=form.cleaned_data.get("name") or None,
    )
