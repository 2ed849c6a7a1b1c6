"""What `data` may hold: numbers inside 64 bits, at most 64 levels of nesting. What fits
comes back unchanged through the worker, GET and both exports; what does not is refused
with 422 naming the place; and rows stored before the limits never break a read."""

import csv
import io
import json
import uuid
from datetime import timedelta

import orjson
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events.payloads import DATA_INT_MAX, DATA_INT_MIN, DATA_MAX_DEPTH
from events.services import EventRow, event_bulk_create
from tests.support import SEED_EVENT, stored_events, wait_for

SESSION = "7d5f1c2e-1111-4e4e-80b5-f1ffddc25423"


def event(data: object, **overrides) -> dict:
    timestamp = (timezone.now() - timedelta(minutes=1)).isoformat()
    return {**SEED_EVENT, "session_id": SESSION, "timestamp": timestamp, "data": data, **overrides}


def nested(depth: int) -> dict:
    """`data` with `depth` levels of objects and arrays, `data` itself (an object) the
    first: objects at odd levels, arrays at even ones."""
    value: object = "leaf"
    for level in range(depth, 1, -1):
        value = {"k": value} if level % 2 else [value]
    return {"k": value}


def descend(value: object, levels: int) -> object:
    """What `levels` steps down from `data` hold, in a value made by nested()."""
    for level in range(1, levels + 1):
        value = value["k"] if level % 2 else value[0]  # type: ignore[index]
    return value


@pytest.fixture
def viewer(db) -> Client:
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.create_user("viewer", password="viewer-password-1"))
    return client


def read_back(api, reader: str, viewer: Client) -> dict:
    """The session's events as GET, the CSV export and the NDJSON export give them."""
    response = api.get({"session_id": SESSION, "limit": 1000}, key=reader)
    assert response.status_code == 200, response.content
    query = {"range": "24h", "session": SESSION}
    csv_response = viewer.get(reverse("dashboard:export_csv"), query)
    ndjson_response = viewer.get(reverse("dashboard:export_ndjson"), query)
    assert csv_response.status_code == ndjson_response.status_code == 200
    csv_text = b"".join(csv_response.streaming_content).decode()
    ndjson_text = b"".join(ndjson_response.streaming_content).decode()
    return {
        "get": [r["data"] for r in response.json()["results"]],
        "csv": [json.loads(r["data"]) for r in csv.DictReader(io.StringIO(csv_text))],
        "ndjson": [json.loads(line)["data"] for line in ndjson_text.splitlines()],
    }


def test_it_keeps_the_edges_of_the_limits_exactly(api, web_app, consumer, viewer):
    data = {
        "smallest": DATA_INT_MIN,
        "largest": DATA_INT_MAX,
        "float": 9.2e18,
        "tiny": 5e-324,
        "deep": nested(DATA_MAX_DEPTH - 1),
    }
    assert api.post(event(data), key=web_app.writer).status_code == 202
    # Stored by a real consumer process, from the real queue.
    assert wait_for(lambda: len(stored_events()) == 1, timeout=30)

    seen = read_back(api, web_app.reader, viewer)
    for where in ("get", "csv", "ndjson"):
        [got] = seen[where]
        assert got["smallest"] == DATA_INT_MIN and got["largest"] == DATA_INT_MAX, where
        assert got["float"] == 9.2e18 and got["tiny"] == 5e-324, where
        assert got["deep"] == data["deep"], where


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"big": 1e20}, "data.big"),
        ({"big": 2**63}, "data.big"),
        ({"small": -(2**63) - 1}, "data.small"),
        ({"list": [1, {"x": 1.5e300}]}, "data.list[1].x"),
        ({"huge": 10**30}, "data.huge"),
    ],
)
def test_it_refuses_numbers_that_would_not_come_back(api, web_app, data, field):
    # Written by the standard library, which writes integers of any size as integers.
    response = api.post(None, raw=json.dumps(event(data)).encode(), key=web_app.writer)

    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert "send larger numbers as strings" in error["message"]


@pytest.mark.parametrize(
    ("raw_data", "field"),
    [
        # Valid JSON past a double's range, which the API's parser refuses to read.
        ('{"big": 1e400}', "data.big"),
        ('{"items": [1, {"price": -1e999}]}', "data.items[1].price"),
        ('{"digits": ' + "9" * 5000 + "}", "data.digits"),
    ],
)
def test_it_names_numbers_past_any_double_in_a_batch(api, web_app, raw_data, field):
    raw = json.dumps([event({"fine": 1}), event("@")]).replace('"@"', raw_data).encode()

    response = api.post(None, raw=raw, key=web_app.writer)

    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, field)
    assert "send larger numbers as strings" in error["message"]


@pytest.mark.parametrize(
    ("raw_event", "field"),
    [
        ('"data": {"note": "\\ud800"}', "data.note"),
        ('"data": {"a": [{"\\udfff": 1}]}', "data.a[0].\\udfff"),
        ('"name": "cta \\ud83d"', "name"),
    ],
)
def test_it_names_a_lone_surrogate(api, web_app, raw_event, field):
    raw = json.dumps(event({"x": 1})).replace('"data": {"x": 1}', raw_event).encode()

    response = api.post(None, raw=raw, key=web_app.writer)

    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert "lone surrogate" in error["message"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"note": "a\x00b"}, "data.note"),
        ({"a": [1, {"b": ["ok", "\x00"]}]}, "data.a[1].b[1]"),
        ({"a": [{"k\x00": 1}]}, "data.a[0].k\x00"),
    ],
)
def test_it_names_a_nul_in_data_by_its_place_in_a_batch(api, web_app, data, field):
    response = api.post([event({"fine": 1}), event(data)], key=web_app.writer)

    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, field)
    assert "NUL" in error["message"]


def test_text_that_spells_a_backslash_and_u0000_is_kept(api, web_app, consumer, viewer):
    # A Windows path, a regex, a JSON snippet: a backslash then "u0000" is six characters
    # of text, not a NUL, though orjson writes it as \\u0000, which holds a NUL's escape.
    data = {"path": "C:\\u0000dir", "snippet": '{"nul": "\\u0000"}', "at_end": "x\\"}
    assert api.post(event(data), key=web_app.writer).status_code == 202
    assert wait_for(lambda: len(stored_events()) == 1, timeout=30)

    seen = read_back(api, web_app.reader, viewer)
    for where in ("get", "csv", "ndjson"):
        assert seen[where] == [data], where


def deep_data_text(depth: int) -> str:
    """nested(depth) as JSON text, written out by hand: no JSON library here writes
    1,000 levels."""
    inner = '{"k":' + '[{"k":' * ((depth - 1) // 2) + "[" * ((depth - 1) % 2)
    return inner + '"leaf"' + "]" * ((depth - 1) % 2) + "}]" * ((depth - 1) // 2) + "}"


# Past about 1,000 levels neither orjson nor the standard library reads a body at all.
@pytest.mark.parametrize("depth", [DATA_MAX_DEPTH + 1, 251, 253, 254, 255, 1000, 1100, 100_000])
def test_it_refuses_nesting_past_the_limit_in_a_batch_by_index(api, web_app, depth):
    raw = json.dumps([event({"fine": 1}), event("@"), event({"fine": 2})])
    raw = raw.replace('"@"', deep_data_text(depth)).encode()

    response = api.post(None, raw=raw, key=web_app.writer)

    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["index"] == 1
    # The container at level 65, as the walk over a parsed body names it.
    assert error["field"] == "data" + ".k[0]" * (DATA_MAX_DEPTH // 2) + ".k" * (DATA_MAX_DEPTH % 2)
    assert f"more than {DATA_MAX_DEPTH} levels" in error["message"]


def test_it_names_nesting_past_any_parser_in_another_field_or_one_event(api, web_app):
    raw = json.dumps(event({"fine": 1}, name="@")).replace('"@"', "[" * 2000 + "]" * 2000)

    response = api.post(None, raw=raw.encode(), key=web_app.writer)

    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == "name" and "index" not in error


def test_it_reads_back_rows_stored_before_the_limits(api, web_app, store, viewer):
    """Rows as the API used to accept them: big floats, which jsonb gives back as
    integers past 64 bits, and nesting just under orjson's own limit."""
    deep = nested(253)
    legacy = [{"big": 1e20, "huge": 1.5e300}, deep, {"fine": "after"}]
    now = timezone.now()
    rows = [
        EventRow(
            str(uuid.uuid4()),
            now - timedelta(minutes=3 - i),
            SESSION,
            "legacy",
            "row",
            orjson.dumps(data).decode(),
        )
        for i, data in enumerate(legacy)
    ]
    event_bulk_create(rows=rows, application_id=web_app.application.pk, received_at=now)

    seen = read_back(api, web_app.reader, viewer)
    for where in ("get", "csv", "ndjson"):
        fine, deep_read, big = seen[where]  # newest first
        assert fine == {"fine": "after"}, where
        assert big == {"big": 1e20, "huge": 1.5e300}, where
        # Down to the limit as stored; below it, the stored JSON as text.
        below = descend(deep_read, DATA_MAX_DEPTH)
        assert isinstance(below, str), where
        assert json.loads(below) == descend(deep, DATA_MAX_DEPTH), where

    explore = viewer.get(reverse("dashboard:explore"), {"range": "24h", "session": SESSION})
    assert explore.status_code == 200
    assert b"1e+20" in explore.content
    session = viewer.get(reverse("dashboard:session", args=[SESSION]))
    assert session.status_code == 200


def test_it_names_every_event_that_holds_a_value_past_the_parser(api, web_app):
    events = [event({"fine": 1}), event("@1"), event({"fine": 2}), event("@2"), event("@3")]
    raw = json.dumps(events)
    raw = raw.replace('"@1"', '{"x": 1e400}').replace('"@2"', '{"y": "\\ud800"}')
    raw = raw.replace('"@3"', '{"z": [-1e999]}')

    response = api.post(None, raw=raw.encode(), key=web_app.writer)

    assert response.status_code == 422, response.content
    named = [(e["index"], e["field"]) for e in response.json()["errors"]]
    assert named == [(1, "data.x"), (3, "data.y"), (4, "data.z[0]")]


@pytest.mark.parametrize("raw", [b'[{"a":' * 100_000, b"[" * 1_000_000, b'{"data":' * 5000 + b"1"])
def test_a_deep_body_cut_short_is_not_json(api, web_app, raw):
    response = api.post(None, raw=raw, key=web_app.writer)

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "body"


def test_it_names_a_number_past_any_double_outside_data_by_its_field(api, web_app):
    raw = json.dumps(event({"fine": 1}, timestamp="@")).replace('"@"', "1e400")

    response = api.post(None, raw=raw.encode(), key=web_app.writer)

    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == "timestamp" and "must be a finite number" in error["message"]
