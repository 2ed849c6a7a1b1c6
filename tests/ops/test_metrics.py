"""GET /metrics: the counters move by exactly what was posted, refused and stored."""

import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support import SEED_EVENT


def sample(client, name: str, **labels: str) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200
    total = 0.0
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def test_it_counts_accepted_rejected_stored_and_duplicate_events(client, api, web_app, drain):
    before = {
        "accepted": sample(client, "eye_events_accepted_total"),
        "rejected": sample(client, "eye_requests_rejected_total", status="422", reason="timestamp"),
        "unknown_key": sample(client, "eye_requests_rejected_total", status="401", reason="key"),
        "stored": sample(client, "eye_events_stored_total"),
        "duplicate": sample(client, "eye_events_duplicate_total"),
        "batched": sample(client, "eye_insert_batch_size_sum"),
    }
    batch = [
        {**SEED_EVENT, "event_id": f"00000000-0000-4000-8000-00000000000{i}"} for i in range(3)
    ]
    api.post(batch, key=web_app.writer)
    api.post(SEED_EVENT, key=web_app.writer)
    api.post([SEED_EVENT, {**SEED_EVENT, "timestamp": "never"}], key=web_app.writer)
    api.post(SEED_EVENT, key="eye_unknown")
    api.post(batch[:2], key=web_app.writer)  # delivered again: duplicates
    drain()

    assert sample(client, "eye_events_accepted_total") - before["accepted"] == 6
    assert (
        sample(client, "eye_requests_rejected_total", status="422", reason="timestamp")
        - before["rejected"]
        == 1
    )
    assert (
        sample(client, "eye_requests_rejected_total", status="401", reason="key")
        - before["unknown_key"]
        == 1
    )
    assert sample(client, "eye_events_stored_total") - before["stored"] == 4
    assert sample(client, "eye_events_duplicate_total") - before["duplicate"] == 2
    # Every event offered to the store went through a batch, whichever way they were grouped.
    assert sample(client, "eye_insert_batch_size_sum") - before["batched"] == 6


def test_it_shows_the_queue_backlog(client, api, web_app):
    api.post(SEED_EVENT, key=web_app.writer)
    api.post(SEED_EVENT, key=web_app.writer)

    assert sample(client, "eye_queue_backlog") == 2


def test_it_observes_request_latency_by_endpoint(client, api, web_app):
    before = sample(client, "eye_request_seconds_count", endpoint="/api/event/", method="POST")

    api.post(SEED_EVENT, key=web_app.writer)

    after = sample(client, "eye_request_seconds_count", endpoint="/api/event/", method="POST")
    assert after - before == 1


def test_it_requires_the_token_when_one_is_set(client, settings):
    settings.EYE_METRICS_TOKEN = "s3cret"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_it_answers_while_a_process_is_creating_its_file(client, api, web_app):
    before = sample(client, "eye_events_accepted_total")
    # What a starting process leaves for a moment: its file created, not yet sized.
    starting = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"], "counter_4194303.db")
    starting.touch()
    try:
        api.post(SEED_EVENT, key=web_app.writer)

        assert sample(client, "eye_events_accepted_total") - before == 1
    finally:
        starting.unlink()
