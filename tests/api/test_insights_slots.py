"""The insights API computes a bounded number of funnels and breakdowns at once, across
every web process: past the bound a client gets 503 with Retry-After, at once, rather
than a web thread that ingest needs.

Slots held by another connection are what other web processes computing look like: the
slots are advisory locks on the database, which every process shares.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from events.funnels import FunnelStep, funnel_compute
from events.insight_sql import API_SLOTS
from events.tracked_keys import tracked_key_add, tracked_key_backfill
from tests.api.test_insights_funnel import body, post
from tests.support import another_connection, slot_release, slots_hold, table_held


def trend(api, *, key, **params):
    query = {
        "category": "page",
        "name": "view",
        "start": "2026-05-04T00:00:00Z",
        "end": "2026-05-05T00:00:00Z",
        "interval": "hour",
        **params,
    }
    return api.client.get("/api/insights/trend/", query, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def other_process() -> Iterator[psycopg.Connection]:
    with another_connection() as other:
        yield other


def hold(other: psycopg.Connection, *slots: int) -> None:
    slots_hold(other, API_SLOTS, *slots)


def release(other: psycopg.Connection, slot: int) -> None:
    slot_release(other, API_SLOTS, slot)


def test_when_every_slot_is_taken_funnels_and_breakdowns_get_503(
    api, web_app, other_process, settings
):
    settings.EYE_INSIGHT_API_CONCURRENCY = 2
    hold(other_process, 0, 1)

    funnel = post(api, body(), key=web_app.reader)
    breakdown = trend(api, key=web_app.reader, breakdown="path")

    for response in (funnel, breakdown):
        assert response.status_code == 503, response.content
        assert response.headers["Retry-After"] == "5"
        [error] = response.json()["errors"]
        assert "2 funnels or breakdowns are being computed" in error["message"]
    # A trend without a breakdown reads the rollups and needs no slot.
    assert trend(api, key=web_app.reader).status_code == 200

    release(other_process, 1)
    assert post(api, body(), key=web_app.reader).status_code == 200
    assert trend(api, key=web_app.reader, breakdown="path").status_code == 200


def test_a_breakdown_by_a_tracked_key_needs_no_slot(api, web_app, other_process, settings):
    settings.EYE_INSIGHT_API_CONCURRENCY = 1
    hold(other_process, 0)
    assert trend(api, key=web_app.reader, breakdown="path").status_code == 503

    tracked_key_backfill(tracked_key_id=tracked_key_add(key="path").pk)

    # Read from the key's counts per hour; by a key that is not tracked, still raw.
    assert trend(api, key=web_app.reader, breakdown="path").status_code == 200
    assert trend(api, key=web_app.reader, breakdown="plan").status_code == 503


def test_a_slot_is_given_back_after_each_answer(api, web_app, other_process, settings):
    settings.EYE_INSIGHT_API_CONCURRENCY = 1
    statuses = [post(api, body(), key=web_app.reader).status_code for _ in range(3)]
    statuses.append(trend(api, key=web_app.reader, breakdown="path").status_code)
    # A request refused before computing (a bad body) holds none either.
    statuses.append(post(api, body(window_seconds=0), key=web_app.reader).status_code)

    assert statuses == [200, 200, 200, 200, 422]
    # Free for another process: this process holds no slot between requests.
    assert other_process.execute(
        "SELECT pg_try_advisory_lock(%s, 0)", [API_SLOTS.lock_class]
    ).fetchone() == (True,)


def test_no_bound_when_set_to_zero(api, web_app, other_process, settings):
    settings.EYE_INSIGHT_API_CONCURRENCY = 0
    hold(other_process, 0, 1)

    assert post(api, body(), key=web_app.reader).status_code == 200


def test_a_funnel_that_runs_past_the_time_limit_is_stopped_and_its_slot_freed(
    api, web_app, other_process, settings
):
    settings.EYE_INSIGHT_API_CONCURRENCY = 2
    settings.EYE_INSIGHT_TIMEOUT_SECONDS = 0.2
    with table_held(other_process, "events", for_seconds=1.5):
        stopped = post(api, body(), key=web_app.reader)

    assert stopped.status_code == 503, stopped.content
    [error] = stopped.json()["errors"]
    assert "longer than 0.2 s" in error["message"]
    # Asking again the same way would not help.
    assert "Retry-After" not in stopped.headers
    assert post(api, body(), key=web_app.reader).status_code == 200
    # The slots were given back.
    hold(other_process, 0, 1)


def test_what_the_worker_computes_has_no_time_limit(web_app, other_process, settings):
    settings.EYE_INSIGHT_TIMEOUT_SECONDS = 0.2
    with table_held(other_process, "events", for_seconds=1.0):
        funnel = funnel_compute(
            steps=[FunnelStep("page", "view"), FunnelStep("account", "sign up")],
            start=datetime(2026, 5, 4, tzinfo=UTC),
            end=datetime(2026, 5, 5, tzinfo=UTC),
        )

    assert [step.sessions for step in funnel.steps] == [0, 0]
