"""bench/insights.py times the breakdown by `path` untracked, then tracked: its switch
leaves the key ready with its counts, or gone with them."""

import uuid
from datetime import UTC, datetime, timedelta

from bench.insights import path_tracking
from events.breakdowns import breakdown_series
from events.models import TrackedKey
from events.rollups import Granularity
from tests.insights.support import Stored, events_store

START = datetime(2026, 2, 2, tzinfo=UTC)


def test_it_tracks_path_and_backfills_it_then_untracks_it(store, web_app):
    events_store(
        web_app.application.pk,
        [
            Stored(
                str(uuid.uuid4()),
                START + timedelta(hours=i),
                "page interaction",
                "pageview",
                {"path": f"/{i % 3}"},
            )
            for i in range(72)
        ],
    )
    query = dict(
        key="path",
        start=START,
        end_exclusive=START + timedelta(days=3),
        granularity=Granularity.DAY,
        category="page interaction",
        name="pageview",
    )
    untracked = breakdown_series(**query)

    path_tracking(tracked=True)
    path_tracking(tracked=True)

    assert TrackedKey.objects.get(key="path").is_ready
    assert breakdown_series(**query) == untracked
    path_tracking(tracked=False)
    assert not TrackedKey.objects.exists()
    assert breakdown_series(**query) == untracked
