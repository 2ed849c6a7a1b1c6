"""Refused POSTs land in a bounded log with their reason, application and body."""

from events.models import Refusal
from events.services import refusals_prune
from tests.support import SEED_EVENT


def test_it_logs_a_refused_batch_with_its_reasons(api, web_app, drain):
    batch = [SEED_EVENT, {**SEED_EVENT, "timestamp": "soon"}]

    api.post(batch, key=web_app.writer, headers={"X-Request-ID": "req-refused-1"})
    drain()

    [refusal] = Refusal.objects.all()
    assert refusal.status == 422
    assert refusal.application_id == web_app.application.pk
    assert refusal.errors[0]["index"] == 1
    assert refusal.errors[0]["field"] == "timestamp"
    assert refusal.request_id == "req-refused-1"
    assert '"timestamp":"soon"' in refusal.body.replace(" ", "")
    assert refusal.reasons == [f"timestamp: {refusal.errors[0]['message']}"]


def test_it_logs_an_unknown_key_without_an_application(api, web_app, drain):
    api.post(SEED_EVENT, key="eye_wrong")
    drain()

    [refusal] = Refusal.objects.all()
    assert (refusal.status, refusal.application_id) == (401, None)


def test_it_does_not_read_a_body_refused_for_its_size(api, web_app, drain, settings):
    settings.EYE_MAX_BODY_BYTES = 100

    api.post([SEED_EVENT] * 3, key=web_app.writer)
    drain()

    [refusal] = Refusal.objects.all()
    assert refusal.status == 413
    assert refusal.body == ""
    assert refusal.body_size > 100


def test_it_keeps_the_log_bounded(web_app, drain):
    from datetime import UTC, datetime, timedelta

    start = datetime(2021, 1, 1, tzinfo=UTC)
    for i in range(12):
        Refusal.objects.create(
            created_at=start + timedelta(minutes=i), status=422, errors=[{"message": str(i)}]
        )

    assert refusals_prune(keep=5) == 7
    assert [r.errors[0]["message"] for r in Refusal.objects.all()] == ["11", "10", "9", "8", "7"]


def test_it_does_not_log_accepted_events(api, web_app, drain):
    api.post(SEED_EVENT, key=web_app.writer)
    drain()

    assert Refusal.objects.count() == 0
