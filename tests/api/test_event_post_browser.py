"""POST /api/event/ from web pages: publishable keys, ?key=, CORS, text/plain and gzip
bodies, and the client's clock corrected by sent_at."""

import gzip
import threading
import tracemalloc
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import orjson
import pytest
from django.test import Client, override_settings

from api.inflate import MAX_MEMBERS
from events.keys import api_key_create
from events.origins import origins_normalize
from tests.support import SEED_EVENT

SHOP = "https://shop.example.com"
URL = "/api/event/"


@pytest.fixture
def publishable(web_app) -> str:
    _, raw_key = api_key_create(
        application=web_app.application,
        can_read=False,
        can_write=True,
        origins=origins_normalize([SHOP, "https://*.example.org", "http://localhost:8123"]),
    )
    return raw_key


@pytest.fixture
def browser() -> Client:
    return Client()


def now_event(**overrides) -> dict:
    return {**SEED_EVENT, "timestamp": datetime.now(UTC).isoformat(), **overrides}


def post(
    client: Client,
    body: bytes,
    *,
    key: str | None = None,
    origin: str | None = SHOP,
    content_type: str = "text/plain",
    query: str = "",
    **headers,
):
    url = URL + (f"?key={key}" if key else "") + query
    extra = {"REMOTE_ADDR": headers.pop("REMOTE_ADDR")} if "REMOTE_ADDR" in headers else {}
    if origin is not None:
        headers["Origin"] = origin
    return client.post(url, data=body, content_type=content_type, headers=headers, **extra)


def preflight(client: Client, *, key: str | None, origin: str):
    url = URL + (f"?key={key}" if key else "")
    return client.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def cors_headers(response) -> dict:
    return {
        name: value for name, value in response.items() if name.lower().startswith("access-control")
    }


# --- Preflight --------------------------------------------------------------------------


def test_it_answers_a_preflight_from_an_allowed_origin(browser, publishable):
    response = preflight(browser, key=publishable, origin=SHOP)

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "content-type" in response["Access-Control-Allow-Headers"].lower()
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "Origin" in response["Vary"]


def test_it_answers_a_preflight_from_a_subdomain_of_a_wildcard_origin(browser, publishable):
    for origin in ("https://blog.example.org", "https://a.b.example.org"):
        response = preflight(browser, key=publishable, origin=origin)
        assert response.status_code == 204, origin
        assert response["Access-Control-Allow-Origin"] == origin


def test_it_refuses_a_preflight_from_another_origin_naming_it(browser, publishable):
    for origin in ("https://evil.example.net", "https://example.org", "http://shop.example.com"):
        response = preflight(browser, key=publishable, origin=origin)
        assert response.status_code == 403, origin
        assert origin in response.json()["errors"][0]["message"]
        assert cors_headers(response) == {}


def test_it_refuses_a_preflight_with_a_secret_key_or_none(browser, web_app):
    for key in (web_app.writer, None, "eye_pk_unknown"):
        response = preflight(browser, key=key, origin=SHOP)
        assert response.status_code == 401
        assert cors_headers(response) == {}


# --- POST with a publishable key ----------------------------------------------------------


def test_it_accepts_text_plain_with_the_key_in_the_query_and_answers_with_cors(
    browser, publishable, huey
):
    response = post(browser, orjson.dumps([now_event(), now_event(name="b")]), key=publishable)

    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 2
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response["Vary"]


def test_it_puts_cors_headers_on_errors_too_so_that_the_page_can_read_them(browser, publishable):
    response = post(browser, orjson.dumps(now_event(category="")), key=publishable)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "category"
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_it_refuses_an_origin_the_key_does_not_allow_without_cors(browser, publishable, huey):
    response = post(
        browser, orjson.dumps(now_event()), key=publishable, origin="https://evil.example.net"
    )

    assert response.status_code == 403
    assert "https://evil.example.net" in response.json()["errors"][0]["message"]
    assert cors_headers(response) == {}
    assert huey.pending_count() == 1  # the refusal log entry, and no events


def test_it_refuses_a_publishable_key_without_an_origin(browser, publishable):
    response = post(browser, orjson.dumps(now_event()), key=publishable, origin=None)

    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "Origin"


def test_it_takes_a_publishable_key_in_the_authorization_header_too(browser, publishable):
    response = post(
        browser, orjson.dumps(now_event()), origin=SHOP, Authorization=f"Bearer {publishable}"
    )

    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_a_publishable_key_cannot_read(browser, publishable):
    for headers, url in (
        ({"Origin": SHOP}, f"{URL}?key={publishable}"),
        ({"Origin": SHOP, "Authorization": f"Bearer {publishable}"}, URL),
    ):
        response = browser.get(url, headers=headers)
        assert response.status_code == 403, url
        assert response.json()["success"] is False


def test_it_refuses_a_secret_key_in_the_query_string_saying_why(browser, web_app, huey):
    response = post(browser, orjson.dumps(now_event()), key=web_app.writer)

    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["field"] == "key"
    assert "URL" in error["message"] and "logs" in error["message"]
    assert cors_headers(response) == {}
    response = Client().get(f"{URL}?key={web_app.both}")
    assert response.status_code == 401


def test_a_key_in_the_url_is_refused_even_beside_a_valid_authorization_header(
    browser, web_app, publishable, huey
):
    bearer = {"Authorization": f"Bearer {web_app.both}"}
    body = orjson.dumps(now_event())

    secret_get = Client().get(f"{URL}?key={web_app.both}&limit=1", headers=bearer)
    secret_post = post(browser, body, key=web_app.writer, content_type="application/json", **bearer)
    other_get = Client().get(f"{URL}?key=not-a-key&limit=1", headers=bearer)
    other_post = post(browser, body, key=publishable, **bearer)
    empty_post = post(browser, body, query="?key=", content_type="application/json", **bearer)

    for response in (secret_get, secret_post):
        assert response.status_code == 401
        [error] = response.json()["errors"]
        assert error["field"] == "key" and "URL" in error["message"]
    for response in (other_get, other_post, empty_post):
        assert response.status_code == 401
        assert response.json()["errors"] == [
            {
                "field": "key",
                "message": "a key in the URL and another in the Authorization header: send one",
            }
        ]
    queued = [huey.deserialize_task(raw).name for raw in huey.storage.enqueued_items()]
    assert not [name for name in queued if name.endswith("store_events")]  # refusals only
    # The header alone still reads.
    assert Client().get(f"{URL}?limit=1", headers=bearer).status_code == 200


def test_secret_keys_never_get_cors_headers(browser, web_app):
    response = post(
        browser,
        orjson.dumps(now_event()),
        content_type="application/json",
        Authorization=f"Bearer {web_app.writer}",
    )

    assert response.status_code == 202
    assert cors_headers(response) == {}


def test_a_revoked_publishable_key_is_refused(browser, publishable):
    from events.keys import api_key_revoke
    from events.models import ApiKey

    api_key_revoke(api_key=ApiKey.objects.get(prefix=publishable[:12]))

    assert post(browser, orjson.dumps(now_event()), key=publishable).status_code == 401


@override_settings(EYE_PUBLISHABLE_IP_RATE_LIMIT=3)
def test_each_client_address_has_its_own_limit_per_publishable_key(browser, publishable):
    statuses = [
        post(browser, orjson.dumps(now_event()), key=publishable).status_code for _ in range(4)
    ]
    other = post(browser, orjson.dumps(now_event()), key=publishable, REMOTE_ADDR="10.1.2.3")

    assert statuses == [202, 202, 202, 429]
    assert other.status_code == 202


# --- Bodies -------------------------------------------------------------------------------


def test_it_accepts_a_gzip_body_for_any_key(api, web_app, huey):
    body = gzip.compress(orjson.dumps([now_event(name=f"n{i}") for i in range(50)]))

    response = api.post(None, key=web_app.writer, raw=body, headers={"Content-Encoding": "gzip"})

    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 50


def test_it_takes_a_gzip_body_of_several_members_but_not_of_thousands(api, web_app, huey):
    text = orjson.dumps([now_event(name=f"n{i}") for i in range(3)])
    members = [gzip.compress(text[i : i + 40]) for i in range(0, len(text), 40)]
    assert 1 < len(members) <= MAX_MEMBERS
    empty = gzip.compress(b"")

    taken = api.post(
        None, key=web_app.writer, raw=b"".join(members), headers={"Content-Encoding": "gzip"}
    )
    # Each empty member made the inflating copy the rest of the body: fifty thousand of
    # them, a 1 MiB body, held a thread for 0.6 s.
    refused = api.post(
        None,
        key=web_app.writer,
        raw=b"".join(members[:1]) + empty * 50_000 + b"".join(members[1:]),
        headers={"Content-Encoding": "gzip"},
    )

    assert taken.status_code == 202, taken.content
    assert taken.json()["accepted"] == 3
    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert error["field"] == "body" and f"more than {MAX_MEMBERS} gzip members" in error["message"]


def test_the_size_limit_applies_to_the_inflated_body(api, web_app, settings):
    payload = orjson.dumps([now_event(data={"pad": "x" * 5000}) for _ in range(10)])
    settings.EYE_MAX_BODY_BYTES = len(payload) - 1
    body = gzip.compress(payload)
    assert len(body) < settings.EYE_MAX_BODY_BYTES

    response = api.post(None, key=web_app.writer, raw=body, headers={"Content-Encoding": "gzip"})

    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "body"


def test_a_gzip_bomb_gets_413_without_being_inflated(api, web_app):
    # 1 GiB of zeros, about 1 MB compressed, made in pieces so that the bomb itself is
    # made without holding 1 GiB here. The body limit (1 MiB) is raised to take the
    # compressed body, not the inflated one.
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(64 * 1024 * 1024)
    bomb = b"".join(deflater.compress(chunk) for _ in range(16)) + deflater.flush()
    del chunk
    with override_settings(
        EYE_MAX_BODY_BYTES=len(bomb) + 1, DATA_UPLOAD_MAX_MEMORY_SIZE=len(bomb) + 2
    ):
        tracemalloc.start()
        try:
            response = api.post(
                None, key=web_app.writer, raw=bomb, headers={"Content-Encoding": "gzip"}
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert response.status_code == 413
    assert "inflates" in response.json()["errors"][0]["message"]
    # The request holds a few copies of the 1 MB body and of what it inflated up to the
    # limit, never the gigabyte.
    assert peak < 32 * 1024 * 1024


def test_it_refuses_a_broken_gzip_body_with_400(api, web_app):
    response = api.post(
        None, key=web_app.writer, raw=b"not gzip at all", headers={"Content-Encoding": "gzip"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"


# --- sent_at ------------------------------------------------------------------------------


def test_sent_at_corrects_a_clock_an_hour_fast(browser, publishable, huey):
    fast = datetime.now(UTC) + timedelta(hours=1)
    event = now_event(timestamp=(fast - timedelta(seconds=30)).isoformat())

    refused = post(browser, orjson.dumps(event), key=publishable)
    response = post(
        browser, orjson.dumps(event), key=publishable, query=f"&sent_at={quote(fast.isoformat())}"
    )

    assert refused.status_code == 422
    assert response.status_code == 202, response.content
    [task] = [
        t
        for t in (huey.deserialize_task(raw) for raw in huey.storage.enqueued_items())
        if t.name.endswith("store_events")
    ]
    stored = task.args[0][0][1]
    expected = datetime.now(UTC) - timedelta(seconds=30)
    assert abs((stored - expected).total_seconds()) < 5


def test_sent_at_may_come_as_a_header(api, web_app, huey):
    fast = datetime.now(UTC) + timedelta(hours=1)
    event = now_event(timestamp=fast.isoformat())

    response = api.post(event, key=web_app.writer, headers={"X-Eye-Sent-At": fast.isoformat()})

    assert response.status_code == 202


def test_a_malformed_sent_at_is_422_naming_it(browser, publishable):
    response = post(browser, orjson.dumps(now_event()), key=publishable, query="&sent_at=soon")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sent_at"


@pytest.mark.parametrize(
    ("query", "headers", "field"),
    [
        ("&sent_at={at}&sent_at={at}", {}, "sent_at"),
        ("&sent_at={at}", {"X-Eye-Sent-At": "{at}"}, "X-Eye-Sent-At"),
    ],
)
def test_a_send_time_given_twice_is_422_naming_it(
    browser, publishable, huey, query, headers, field
):
    at = datetime.now(UTC).isoformat()
    response = post(
        browser,
        orjson.dumps(now_event()),
        key=publishable,
        query=query.format(at=quote(at)),
        **{name: value.format(at=at) for name, value in headers.items()},
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert stored_timestamps(huey) == []


def test_a_resent_event_gets_the_same_corrected_timestamp(browser, publishable, huey):
    # Sends of one event by a clock an hour fast, with different times on the network (and
    # one that makes the clock look right): the correction must not tell them apart, or
    # the event would be stored twice.
    fast = datetime.now(UTC) + timedelta(hours=1)
    event = now_event(timestamp=fast.isoformat(), event_id="6c3b2a0e-7a51-4c1b-9d54-3a8f0d2b1c11")
    for sent_at in (fast, fast - timedelta(milliseconds=700), fast - timedelta(minutes=5)):
        response = post(
            browser,
            orjson.dumps(event),
            key=publishable,
            query=f"&sent_at={quote(sent_at.isoformat())}",
        )
        assert response.status_code == 202

    tasks = [
        t
        for t in (huey.deserialize_task(raw) for raw in huey.storage.enqueued_items())
        if t.name.endswith("store_events")
    ]
    assert len({task.args[0][0][1] for task in tasks}) == 1


def stored_timestamps(huey) -> list[dict[str, datetime]]:
    """Each queued store task's timestamps, by event_id, in the order they were queued."""
    return [
        {row[0]: row[1] for row in task.args[0]}
        for task in (huey.deserialize_task(raw) for raw in huey.storage.enqueued_items())
        if task.name.endswith("store_events")
    ]


def test_events_first_sent_apart_keep_their_own_corrections_when_resent_together(
    browser, publishable, huey
):
    # A retry sends the events of two earlier sends in one batch (the tracker's queue is
    # cut afresh), measured with another network delay again.
    now = datetime.now(UTC)
    first = now_event(timestamp=now.isoformat(), event_id="0d0e1f5a-1111-4c1b-9d54-3a8f0d2b1c11")
    second = now_event(timestamp=now.isoformat(), event_id="0d0e1f5a-2222-4c1b-9d54-3a8f0d2b1c11")
    for body, behind in (([first], 100), ([second], 200), ([first, second], 300)):
        sent_at = quote((datetime.now(UTC) - timedelta(seconds=behind)).isoformat())
        response = post(browser, orjson.dumps(body), key=publishable, query=f"&sent_at={sent_at}")
        assert response.status_code == 202

    alone_first, alone_second, together = stored_timestamps(huey)
    assert together == {**alone_first, **alone_second}


def test_a_resent_event_spelt_in_capitals_gets_the_same_correction(browser, publishable, huey):
    event_id = "0d0e1f5a-3333-4c1b-9d54-3a8f0d2b1c11"
    event = now_event(event_id=event_id)
    for spelling, behind in ((event_id, 100), (event_id.upper(), 200)):
        event = {**event, "event_id": spelling}
        sent_at = quote((datetime.now(UTC) - timedelta(seconds=behind)).isoformat())
        response = post(browser, orjson.dumps(event), key=publishable, query=f"&sent_at={sent_at}")
        assert response.status_code == 202

    first, again = stored_timestamps(huey)
    assert first == again


def test_a_resend_slowed_past_the_tolerance_keeps_the_first_sends_timestamp(
    browser, publishable, huey
):
    # The first send measures the clocks as agreeing (left alone); the retry spends 12 s on
    # the network, which alone would make it look 12 s behind and shift it.
    event = now_event(event_id="0d0e1f5a-4444-4c1b-9d54-3a8f0d2b1c11")
    for behind in (1, 12):
        sent_at = quote((datetime.now(UTC) - timedelta(seconds=behind)).isoformat())
        response = post(browser, orjson.dumps(event), key=publishable, query=f"&sent_at={sent_at}")
        assert response.status_code == 202

    first, again = stored_timestamps(huey)
    assert first == again


def test_racing_sends_of_one_event_all_get_the_first_pins_correction(
    transactional_db, publishable, huey
):
    # A beacon racing a fetch, many times over: sends of one event at once, each measured
    # a different number of seconds behind. Whichever pins first decides for them all.
    from django.db import connection

    event = now_event(event_id="0d0e1f5a-5555-4c1b-9d54-3a8f0d2b1c11")
    start = threading.Barrier(12)

    def send(behind: int) -> int:
        sent_at = quote((datetime.now(UTC) - timedelta(seconds=behind)).isoformat())
        start.wait()
        try:
            response = post(
                Client(), orjson.dumps(event), key=publishable, query=f"&sent_at={sent_at}"
            )
        finally:
            connection.close()
        return response.status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(send, range(100, 112)))

    assert statuses == [202] * 12
    assert len({tuple(sent.values()) for sent in stored_timestamps(huey)}) == 1


@pytest.mark.parametrize("backend", ["redis", "sqlite"])
def test_a_pin_is_kept_by_the_first_send_on_either_cache(backend, tmp_path, settings):
    from api.browser import _pins_first

    if backend == "sqlite":
        # The cache of a self-contained run (eye/settings.py).
        settings.CACHES = {
            "default": {
                "BACKEND": "eye.sqlite_cache.SqliteCache",
                "LOCATION": str(tmp_path / "cache.sqlite3"),
            }
        }

    assert _pins_first(["clock.1.a", "clock.1.b"], 5) == {"clock.1.a": 5, "clock.1.b": 5}
    assert _pins_first(["clock.1.a", "clock.1.c"], -9) == {"clock.1.a": 5, "clock.1.c": -9}
    assert _pins_first(["clock.2.a"], 7) == {"clock.2.a": 7}


def test_a_clock_within_seconds_of_ours_is_left_alone(browser, publishable, huey):
    stamp = datetime.now(UTC) - timedelta(minutes=5)
    response = post(
        browser,
        orjson.dumps(now_event(timestamp=stamp.isoformat())),
        key=publishable,
        query=f"&sent_at={quote((datetime.now(UTC) + timedelta(seconds=3)).isoformat())}",
    )

    assert response.status_code == 202
    [task] = [
        t
        for t in (huey.deserialize_task(raw) for raw in huey.storage.enqueued_items())
        if t.name.endswith("store_events")
    ]
    assert task.args[0][0][1] == stamp


def test_endpoints_not_written_for_publishable_keys_refuse_them(publishable, web_app):
    from django.test import RequestFactory

    from api.auth import ApiKeyAuth
    from api.errors import ApiError

    request = RequestFactory().get(
        "/api/insights/trend/", headers={"Authorization": f"Bearer {publishable}", "Origin": SHOP}
    )
    with pytest.raises(ApiError) as refused:
        ApiKeyAuth()(request)
    assert refused.value.status_code == 403
    assert "publishable" in refused.value.errors[0]["message"]
    secret = RequestFactory().get(
        "/api/insights/trend/", headers={"Authorization": f"Bearer {web_app.reader}"}
    )
    assert ApiKeyAuth()(secret).can_read
