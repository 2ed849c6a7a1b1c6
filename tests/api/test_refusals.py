"""Refused POSTs land in a bounded log with their reason, application and body."""

import gzip
import time
import tracemalloc
import zlib
from datetime import UTC, datetime

import orjson

from events.models import Refusal
from events.services import refusal_create
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


def test_it_logs_a_publishable_key_refused_for_its_origin_under_its_application(web_app, drain):
    from django.test import Client

    from events.keys import api_key_create

    _, publishable = api_key_create(
        application=web_app.application,
        can_read=False,
        can_write=True,
        origins=["https://shop.example.com"],
    )
    body = orjson.dumps(SEED_EVENT)
    for headers in ({"Origin": "https://evil.example.net"}, {}):
        response = Client().post(
            f"/api/event/?key={publishable}", data=body, content_type="text/plain", headers=headers
        )
        assert response.status_code == 403
    response = Client().post(
        "/api/event/",
        data=body,
        content_type="text/plain",
        headers={"Origin": "https://evil.example.net", "Authorization": f"Bearer {publishable}"},
    )
    assert response.status_code == 403
    drain()

    refusals = Refusal.objects.order_by("id")
    assert [(r.status, r.application_id) for r in refusals] == [(403, web_app.application.pk)] * 3
    assert {r.errors[0]["field"] for r in refusals} == {"Origin"}
    assert all(r.body == body.decode() for r in refusals)


def test_it_logs_a_secret_key_refused_in_the_url_under_its_application(web_app, drain):
    from django.test import Client

    response = Client().post(
        f"/api/event/?key={web_app.writer}",
        data=orjson.dumps(SEED_EVENT),
        content_type="text/plain",
    )
    assert response.status_code == 401
    drain()

    [refusal] = Refusal.objects.all()
    assert (refusal.status, refusal.application_id) == (401, web_app.application.pk)


def test_it_logs_a_gzip_body_inflated(api, web_app, drain):
    raw = orjson.dumps([SEED_EVENT, {**SEED_EVENT, "timestamp": "soon"}])

    response = api.post(
        None, raw=gzip.compress(raw), key=web_app.writer, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 422
    drain()

    [refusal] = Refusal.objects.all()
    assert refusal.body == raw.decode()
    assert refusal.body_size == len(gzip.compress(raw))


def test_it_logs_the_start_of_a_truncated_gzip_body_and_describes_one_that_is_not_gzip(
    api, web_app, drain
):
    raw = orjson.dumps(SEED_EVENT)
    for body in (gzip.compress(raw)[:-12], b"not gzip at all"):
        response = api.post(
            None, raw=body, key=web_app.writer, headers={"Content-Encoding": "gzip"}
        )
        assert response.status_code == 400
    drain()

    truncated, not_gzip = Refusal.objects.order_by("id")
    assert raw.decode().startswith(truncated.body) and truncated.body
    assert not_gzip.body == "(gzip body, 15 bytes)"


def test_it_logs_a_body_in_an_encoding_not_taken_without_its_bytes(api, web_app, drain):
    body = b"\x1b\x00\xf8\xff compressed by brotli, say"

    response = api.post(None, raw=body, key=web_app.writer, headers={"Content-Encoding": "br"})
    assert response.status_code == 415
    drain()

    [refusal] = Refusal.objects.all()
    assert (refusal.status, refusal.application_id) == (415, web_app.application.pk)
    assert refusal.body == f"(br body, {len(body)} bytes)"


def zero_bomb(mebibytes: int) -> bytes:
    """A gzip body inflating to `mebibytes` MiB of zeros, made in pieces so that the bomb
    is made without holding what it inflates to."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(16 * 1024 * 1024)
    return b"".join(deflater.compress(chunk) for _ in range(mebibytes // 16)) + deflater.flush()


def test_a_gzip_bomb_is_logged_with_a_bounded_sample(api, web_app, drain, settings):
    bomb = zero_bomb(64)
    settings.EYE_MAX_BODY_BYTES = len(bomb) + 1
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(bomb) + 2
    settings.EYE_REFUSAL_BODY_BYTES = 100

    response = api.post(None, raw=bomb, key=web_app.writer, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    drain()

    [refusal] = Refusal.objects.all()
    # Zeros are NUL characters, which the log shows as ␀.
    assert refusal.body == "\u2400" * 100
    assert refusal.body_size == len(bomb)


def test_a_gzip_bomb_costs_no_more_memory_than_the_sample(rf, settings):
    from api.refusals import body_sample

    settings.EYE_REFUSAL_BODY_BYTES = 4096
    bomb = zero_bomb(64)
    request = rf.post("/api/event/", data=bomb, content_type="text/plain")
    request.META["HTTP_CONTENT_ENCODING"] = "gzip"
    body = request.body

    tracemalloc.start()
    try:
        sample = body_sample(request, body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert sample == "\x00" * 4096
    assert peak < 1024 * 1024


def test_it_does_not_read_a_body_refused_for_its_size(api, web_app, drain, settings):
    settings.EYE_MAX_BODY_BYTES = 100

    api.post([SEED_EVENT] * 3, key=web_app.writer)
    drain()

    [refusal] = Refusal.objects.all()
    assert refusal.status == 413
    assert refusal.body == ""
    assert refusal.body_size > 100


def test_it_logs_a_body_declared_larger_than_an_int_holds(api, web_app, drain):
    # Over 2 GiB the task storing the entry failed (integer out of range), and the
    # refusal never reached the Errors page.
    for declared in ("3000000000", "99999999999999999999999"):
        response = api.post(SEED_EVENT, key=web_app.writer, CONTENT_LENGTH=declared)
        assert response.status_code == 413
    drain()

    sizes = sorted(Refusal.objects.values_list("body_size", flat=True))
    assert sizes == [3_000_000_000, 2**63 - 1]


def test_it_keeps_the_log_bounded_with_every_entry(web_app, db):
    from datetime import UTC, datetime, timedelta

    start = datetime(2021, 1, 1, tzinfo=UTC)
    for i in range(12):
        refusal_create(
            created_at=start + timedelta(minutes=i),
            application_id=None,
            status=422,
            errors=[{"message": str(i)}],
            body="",
            body_size=0,
            request_id="",
            keep=5,
        )
        assert Refusal.objects.count() <= 5

    assert [r.errors[0]["message"] for r in Refusal.objects.all()] == ["11", "10", "9", "8", "7"]


def test_a_flood_of_keyless_posts_leaves_the_log_bounded(api, web_app, drain, settings):
    settings.EYE_KEYLESS_REFUSALS_PER_MINUTE = 3
    settings.EYE_REFUSALS_KEPT = 50
    flood = [f"127.0.0.{n}" for n in range(1, 5) for _ in range(40)]
    # The budget is per clock minute: a flood that straddles one gets a second budget.
    # Start it where the minute has time enough left for all of it.
    if (second := datetime.now(UTC).second) > 30:
        time.sleep(61 - second)
    for address in flood:
        response = api.post(SEED_EVENT, key=None, REMOTE_ADDR=address)
        assert response.status_code == 401

    assert drain() == 4 * 3, "past the budget, a refusal costs no queue task"
    refusals = Refusal.objects.all()
    assert len(refusals) == 4 * 3
    assert {(r.status, r.application_id, r.body) for r in refusals} == {(401, None, "")}
    assert all(r.body_size == len(orjson.dumps(SEED_EVENT)) for r in refusals)

    # Keyed refusals are kept with their bodies, and the log stays within its bound.
    for n in range(80):
        api.post({**SEED_EVENT, "timestamp": f"bad {n}"}, key=web_app.writer)
    drain()
    assert Refusal.objects.count() == 50
    assert '"bad 79"' in Refusal.objects.first().body


def test_it_logs_a_refused_body_holding_nul_with_it_shown_as_a_symbol(api, web_app, drain):
    raw = b'{"session_id": "\x00\x00", "category": "a\x00b"'
    api.post(None, raw=raw, key=web_app.writer)
    api.post({**SEED_EVENT, "na\u0000me": 1}, key=web_app.writer)
    drain()

    bad_json, unknown_field = Refusal.objects.order_by("id")
    assert bad_json.status == 400
    assert bad_json.body == raw.decode().replace("\x00", "\u2400")
    assert unknown_field.status == 422
    assert unknown_field.errors[0]["field"] == "na\u2400me"


def test_it_does_not_log_accepted_events(api, web_app, drain):
    api.post(SEED_EVENT, key=web_app.writer)
    drain()

    assert Refusal.objects.count() == 0


def test_it_logs_refused_events_and_not_a_refused_question(api, web_app, drain):
    # A funnel asked wrongly lost no event: its answer says what is wrong, and a client
    # asking in a loop must not fill the log that shows lost events.
    for key in (web_app.reader, "eye_wrong"):
        answer = api.client.post(
            "/api/insights/funnel/",
            data=b'{"steps": []}',
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code in (401, 422)
    api.post({**SEED_EVENT, "timestamp": "soon"}, key=web_app.writer)
    drain()

    [refusal] = Refusal.objects.all()
    assert refusal.errors[0]["field"] == "timestamp"
