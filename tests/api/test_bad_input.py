"""Hostile and odd input: never a 500, always a 4xx that names its cause, and whatever is
accepted comes back exactly as sent."""

import string

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import SEED_EVENT, stored_events


def event(**overrides) -> dict:
    return {**SEED_EVENT, **overrides}


def assert_named_refusal(response, status: int | None = None) -> list[dict]:
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    if status is not None:
        assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    assert body["errors"] and all(e["message"] for e in body["errors"])
    return body["errors"]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"\xff\xfe{}", 400),  # invalid UTF-8
        # Valid JSON that the parser cannot read: refused, with the field named.
        (b'{"session_id": "\\ud800"}', 422),  # a lone surrogate
        (b'{"data": {"n": 1e400}}', 422),  # beyond float range
        (b'{"data": {"n": NaN}}', 422),
        (b"[" * 2000 + b"]" * 2000, 400),  # nesting deeper than the parser allows
        (b'{"a": NaN}', 400),
    ],
)
def test_it_refuses_bodies_it_cannot_read(api, web_app, raw, status):
    assert_named_refusal(api.post(None, key=web_app.writer, raw=raw), status)


def test_it_takes_the_last_of_duplicate_keys(api, web_app, drain):
    raw = orjson.dumps(SEED_EVENT)[:-1] + b', "name": "second"}'
    raw = raw.replace(b'"name": "cta click"', b'"name": "first"')

    assert api.post(None, key=web_app.writer, raw=raw).status_code == 202
    drain()
    assert [e["name"] for e in stored_events()] == ["second"]


def test_it_refuses_a_payload_of_10000_keys_over_the_size_limit(api, web_app):
    data = {f"key{i}": i for i in range(10_000)}

    [error] = assert_named_refusal(api.post(event(data=data), key=web_app.writer), 422)
    assert error["field"] == "data"


def test_it_stores_deeply_nested_data_verbatim(api, web_app, drain):
    # As deep as data may go (events.payloads.DATA_MAX_DEPTH): 64 levels.
    data: dict = {"leaf": "x"}
    for depth in range(63):
        data = {f"level{depth}": data, "list": [1, 2.5, None, True]}

    assert api.post(event(data=data), key=web_app.writer).status_code == 202
    drain()
    assert stored_events()[0]["data"] == data


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        ("0001-01-01T00:00:00Z", True),
        ("0001-01-01T00:00:00+14:00", False),  # before year 1 once in UTC
        ("2021-12-31T23:59:60Z", False),  # a leap second: Python and PostgreSQL have none
        ("2021-06-30T12:00:00+14:00", True),
        ("2021-06-30T12:00:00-12:00", True),
        ("9999-12-31T23:59:59Z", False),  # far in the future
        ("2021-06-30T12:00:00+24:00", False),
    ],
)
def test_it_judges_timestamps_at_the_edges(api, web_app, timestamp, accepted):
    response = api.post(event(timestamp=timestamp), key=web_app.writer)

    if accepted:
        assert response.status_code == 202, response.content
    else:
        [error] = assert_named_refusal(response, 422)
        assert error["field"] == "timestamp"


HOSTILE = [
    "'; DROP TABLE events; --",
    '<script>alert("x")</script>',
    "Robert'); DELETE FROM events_application;--",
    "\u202eevil\u202c",
    "emoji 🦉 and ünïcødé",
    "%s %(name)s {0} {{}}",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_it_stores_sql_and_html_verbatim(api, web_app, drain, text):
    sent = event(category=text, name=text, data={text: text, "nested": [text]})

    assert api.post(sent, key=web_app.writer).status_code == 202
    drain()
    [result] = api.get({"category": text}, key=web_app.reader).json()["results"]
    assert (result["category"], result["name"], result["data"]) == (text, text, sent["data"])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
field_values = st.one_of(
    json_values,
    st.text(alphabet=string.printable, max_size=40),
    st.sampled_from([SEED_EVENT["session_id"], SEED_EVENT["timestamp"], "", " ", "\x00"]),
)
events_maybe_broken = st.fixed_dictionaries(
    {},
    optional={
        "session_id": field_values,
        "category": field_values,
        "name": field_values,
        "data": json_values,
        "timestamp": field_values,
        "event_id": field_values,
        "extra": field_values,
    },
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.one_of(events_maybe_broken, st.lists(events_maybe_broken, max_size=5), json_values))
def test_it_never_answers_500_to_any_json(api, web_app, body):
    response = api.post(body, key=web_app.writer)

    assert response.status_code in {202, 400, 413, 422}, response.content
    if response.status_code != 202:
        errors = assert_named_refusal(response)
        if response.status_code == 422 and isinstance(body, list):
            assert all("index" in e or e["field"] == "body" for e in errors)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "session_id",
                "category",
                "name",
                "timestamp_start",
                "timestamp_end",
                "timestamp_after",
                "timestamp_before",
                "limit",
                "cursor",
                "other",
            ]
        ),
        st.text(max_size=30),
        max_size=4,
    )
)
def test_it_never_answers_500_to_any_query(api, web_app, params):
    response = api.get(params, key=web_app.reader)

    assert response.status_code in {200, 422}, response.content
    if response.status_code == 422:
        errors = assert_named_refusal(response, 422)
        assert all(e["field"] for e in errors)
