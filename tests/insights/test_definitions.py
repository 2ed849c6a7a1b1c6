"""What a saved insight's query reads as: the range given in place of its own, a breakdown's
page, a funnel's steps, and the problems a query no longer valid is shown with."""

from datetime import timedelta

import pytest
from django.http import QueryDict

from events.funnels import FunnelStep
from insights.definitions import (
    INVALID,
    NO_STEPS,
    BreakdownDefinition,
    InvalidDefinition,
    funnel_definition,
    funnel_form,
    insight_definition,
    insight_query,
)
from insights.models import Insight

UNSTORED_FUNNEL = "range=7d&step1=nothing%09here&step2=nothing%09there&key2=plan&value2=pro"


def test_it_replaces_the_saved_range_custom_bounds_included():
    insight = Insight(kind="explore", query="range=custom&start=2026-01-01&end=2026-01-02&name=a")

    query = insight_query(insight=insight, range_params={"range": "7d"})

    assert query.urlencode() == "name=a&range=7d"
    assert insight_query(insight=insight).urlencode() == insight.query


@pytest.mark.django_db
def test_it_reads_a_breakdown_by_the_key_its_page_carries():
    query = QueryDict("category=page+interaction&name=pageview&by=+path+&range=24h")

    definition = insight_definition(kind="breakdown", query=query)

    assert isinstance(definition, BreakdownDefinition)
    assert (definition.key, definition.category, definition.name) == (
        "path",
        "page interaction",
        "pageview",
    )
    assert definition.time_range.preset == "24h"


@pytest.mark.django_db
def test_it_says_a_query_its_page_no_longer_accepts_is_invalid():
    with pytest.raises(InvalidDefinition, match=INVALID):
        insight_definition(kind="breakdown", query=QueryDict("range=24h"))


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["pa%00th", "k" * 256])
def test_it_says_a_breakdown_by_a_key_no_event_can_have_is_invalid(by):
    # Saved before `by` was checked, such a key reached the database and broke the card.
    query = QueryDict(f"category=page+interaction&by={by}&range=24h")

    with pytest.raises(InvalidDefinition, match=INVALID):
        insight_definition(kind="breakdown", query=query)


@pytest.mark.django_db
def test_it_says_a_funnel_without_steps_has_none():
    with pytest.raises(InvalidDefinition, match=NO_STEPS):
        insight_definition(kind="funnel", query=QueryDict("range=7d"))


@pytest.mark.django_db
def test_a_funnel_naming_kinds_not_stored_reads_only_with_any_kind():
    query = QueryDict(UNSTORED_FUNNEL)
    with pytest.raises(InvalidDefinition, match=INVALID):
        insight_definition(kind="funnel", query=query)

    definition = funnel_definition(form=funnel_form(query=query, any_kind=True))

    assert definition.steps == [
        FunnelStep("nothing", "here"),
        FunnelStep("nothing", "there", "plan", "pro"),
    ]
    assert definition.window == timedelta(days=1)
