"""What the Eye refuses for good is reported and counted, never retried; the good events of
a refused batch are still stored."""

from datetime import UTC, datetime, timedelta

from eye_client import Failure

from tests.client.support import SESSION, stored_names
from tests.support import wait_for


def test_it_refuses_only_the_bad_events_of_a_batch_and_stores_the_rest(
    proxy, make_eye, web_app, consumer
):
    failures: list[Failure] = []
    eye = make_eye(proxy.url, web_app.writer, batch_size=100, on_failure=failures.append)
    bad = {
        3: {"category": "   "},
        11: {"timestamp": datetime.now(UTC) + timedelta(days=1)},
        15: {"session_id": "not-a-session"},
    }
    for i in range(20):
        event = {"session_id": SESSION, "category": "refusals", "name": f"event {i}"}
        event.update(bad.get(i, {}))
        eye.track(**event)

    assert eye.flush(timeout=30)

    assert (eye.stats.sent, eye.stats.refused, eye.stats.retried) == (17, 3, 0)
    refused = {f.events[0]["name"]: f for f in failures}
    assert sorted(refused) == ["event 11", "event 15", "event 3"]
    assert all(f.kind == "refused" and f.status == 422 for f in failures)
    assert refused["event 3"].errors[0]["field"] == "category"
    assert refused["event 11"].errors[0]["field"] == "timestamp"
    assert "future" in refused["event 11"].reason
    assert refused["event 15"].errors[0]["field"] == "session_id"
    # The first answer refused the batch; the resend carried only the good events.
    first, second = proxy.requests("POST")
    assert (first.status, len(first.events)) == (422, 20)
    assert (second.status, len(second.events)) == (202, 17)
    good = sorted(f"event {i}" for i in range(20) if i not in bad)
    assert wait_for(lambda: len(stored_names()) >= 17, timeout=30)
    assert stored_names() == good


def test_it_does_not_retry_a_key_without_write_rights(proxy, make_eye, web_app):
    failures: list[Failure] = []
    eye = make_eye(proxy.url, web_app.reader, on_failure=failures.append)

    eye.track(SESSION, "rights", "one")
    eye.track(SESSION, "rights", "two")

    assert eye.flush(timeout=30)
    assert (eye.stats.sent, eye.stats.refused, eye.stats.retried) == (0, 2, 0)
    assert [s.status for s in proxy.requests("POST")] == [403]
    [failure] = failures
    assert failure.status == 403
    assert "write rights" in failure.reason


def test_it_does_not_retry_an_unknown_key(proxy, make_eye, web_app):
    failures: list[Failure] = []
    eye = make_eye(proxy.url, "eye_not-a-key", on_failure=failures.append)

    eye.track(SESSION, "rights", "one")

    assert eye.flush(timeout=30)
    assert (eye.stats.refused, eye.stats.retried) == (1, 0)
    assert [s.status for s in proxy.requests("POST")] == [401]
    assert failures[0].status == 401


def test_it_splits_a_batch_the_eye_finds_too_large(proxy, make_eye, web_app, settings):
    # The Eye's limit is lower than the client was told: the batch is halved until it fits.
    settings.EYE_MAX_BODY_BYTES = 4000
    eye = make_eye(proxy.url, web_app.writer, batch_size=50, flush_interval=60)
    for i in range(50):
        eye.track(SESSION, "split", f"event {i:02}", {"padding": "x" * 100})

    assert eye.flush(timeout=30)

    assert (eye.stats.sent, eye.stats.refused, eye.stats.dropped) == (50, 0, 0)
    posts = proxy.requests("POST")
    assert posts[0].status == 413
    accepted = [s for s in posts if s.status == 202]
    assert all(len(s.body) <= 4000 for s in accepted)
    names = [event["name"] for s in accepted for event in s.events]
    assert names == [f"event {i:02}" for i in range(50)]


def test_it_refuses_a_lone_event_too_large_for_the_eye(proxy, make_eye, web_app, settings):
    settings.EYE_MAX_BODY_BYTES = 500
    failures: list[Failure] = []
    eye = make_eye(proxy.url, web_app.writer, on_failure=failures.append)

    eye.track(SESSION, "split", "big", {"padding": "x" * 1000})

    assert eye.flush(timeout=30)
    assert (eye.stats.refused, eye.stats.retried) == (1, 0)
    assert failures[0].status == 413


def test_it_reports_refusals_in_the_log_without_a_callback(proxy, make_eye, web_app, caplog):
    eye = make_eye(proxy.url, web_app.writer)

    eye.track(SESSION, "   ", "blank category")

    assert eye.flush(timeout=30)
    assert eye.stats.refused == 1
    [record] = [r for r in caplog.records if r.name == "eye_client" and r.levelname == "WARNING"]
    assert "1 event(s) refused (HTTP 422)" in record.getMessage()
    assert "category" in record.getMessage()
