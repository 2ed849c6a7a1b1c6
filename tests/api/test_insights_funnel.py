"""POST /api/insights/funnel/: read keys, the key's application only, 422 naming the field."""

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.insights.support import Stored, events_store

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def post(api, body, *, key):
    return api.client.post(
        "/api/insights/funnel/",
        data=orjson.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )


def body(**overrides):
    return {
        "steps": [
            {"category": "page", "name": "view", "where": {"key": "path", "value": "/"}},
            {"category": "page", "name": "view", "where": {"key": "path", "value": "/pricing"}},
            {"category": "account", "name": "sign up"},
        ],
        "start": "2026-05-04T00:00:00Z",
        "end": "2026-05-05T00:00:00Z",
        "window_seconds": 3600,
        **overrides,
    }


@pytest.fixture
def sessions(web_app, mobile_app):
    def session(app, *steps: tuple[str, str, dict, int]) -> None:
        sid = str(uuid.uuid4())
        events_store(
            app.application.pk,
            [Stored(sid, START + timedelta(seconds=s), c, n, d) for c, n, d, s in steps],
        )

    landing = ("page", "view", {"path": "/"}, 0)
    pricing = ("page", "view", {"path": "/pricing"}, 30)
    signup = ("account", "sign up", {"plan": "pro"}, 90)
    session(web_app, landing, pricing, signup)
    session(web_app, landing, pricing)
    session(web_app, landing)
    session(web_app, landing, ("page", "view", {"path": "/pricing"}, 60))
    session(mobile_app, landing, pricing, signup)


def test_it_answers_each_step_for_the_keys_application(api, web_app, sessions):
    response = post(api, body(), key=web_app.reader)

    assert response.status_code == 200, response.content
    steps = response.json()["steps"]
    assert [(s["category"], s["name"], s["sessions"]) for s in steps] == [
        ("page", "view", 4),
        ("page", "view", 3),
        ("account", "sign up", 1),
    ]
    assert steps[0]["conversion"] == 1.0
    assert steps[1]["conversion"] == 0.75
    assert steps[2]["conversion_from_previous"] == pytest.approx(1 / 3)
    assert steps[1]["median_seconds_from_previous"] == 30.0
    assert steps[2]["p90_seconds_from_previous"] == 60.0
    assert response.json()["trend"] == [
        {"day": "2026-05-04T00:00:00Z", "sessions": 4, "converted": 1, "conversion": 0.25}
    ]


def test_it_takes_the_window_into_account(api, web_app, sessions):
    response = post(api, body(window_seconds=45), key=web_app.reader)

    assert [s["sessions"] for s in response.json()["steps"]] == [4, 2, 0]


def test_it_refuses_a_key_without_read_rights(api, web_app, sessions):
    response = post(api, body(), key=web_app.writer)

    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "Authorization"


def test_it_refuses_a_request_without_a_key(api, web_app):
    response = api.client.post(
        "/api/insights/funnel/", data=orjson.dumps(body()), content_type="application/json"
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"steps": [{"category": "page", "name": "view"}]}, "steps"),
        ({"steps": [{"category": "page", "name": "view"}] * 11}, "steps"),
        ({"steps": [{"category": "", "name": "view"}] * 2}, "steps.0.category"),
        # The step at fault is named by its index, from 0.
        ({"steps": [{"category": "page", "name": "view"}, {"category": "page"}]}, "steps.1.name"),
        (
            {"steps": [{"category": "a", "name": "b", "where": {"key": "path"}}] * 2},
            "steps.1.where.value",
        ),
        (
            {
                "steps": [
                    {"category": "a", "name": "b", "where": {"key": "path", "value": "/\x00"}},
                    {"category": "a", "name": "c"},
                ]
            },
            "steps.0.where.value",
        ),
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-05-03T00:00:00Z"}, "end"),
        ({"window_seconds": 0}, "window_seconds"),
        ({"window_seconds": 91 * 86400}, "window_seconds"),
        ({"window_seconds": True}, "window_seconds"),
        ({"window_seconds": "86400"}, "window_seconds"),
        ({"window_seconds": 2**63}, "window_seconds"),
        # A window past the end of year 9999 is off Python's calendar.
        ({"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:00:00Z"}, "end"),
        ({"start": "0001-01-01T00:00:00Z"}, "start"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_it_names_the_field_at_fault(api, web_app, overrides, field):
    response = post(api, body(**overrides), key=web_app.reader)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        # Valid JSON that no double holds, and a lone surrogate: the API's parser refuses
        # to read either, and the place is named as validation would name it.
        ("1e400", "steps.1.where.value", "must be a finite number"),
        ('"\\ud800"', "steps.1.where.value", "lone surrogate"),
    ],
)
def test_it_names_a_value_past_the_parser_in_its_step(api, web_app, value, field, message):
    raw = orjson.dumps(body()).decode().replace('"/pricing"', value)

    response = api.client.post(
        "/api/insights/funnel/",
        data=raw.encode(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {web_app.reader}"},
    )

    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == field and message in error["message"]


def test_it_refuses_a_body_that_is_not_an_object(api, web_app):
    response = post(api, [body()], key=web_app.reader)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
