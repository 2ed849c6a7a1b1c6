"""GET /api/insights/trend/: counts per bucket and value of a data key, the rest as other."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.insights.support import Stored, events_store

START = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)
URL = "/api/insights/trend/"


@pytest.fixture
def pageviews(web_app, mobile_app):
    events = []
    for day in range(3):
        for i in range(20 + day):
            path = "/" if i < 6 else f"/p{i}"
            at = START + timedelta(days=day, minutes=i)
            events.append(Stored(str(uuid.uuid4()), at, "page", "view", {"path": path}))
    events.append(Stored(str(uuid.uuid4()), START, "page", "view", {}))
    events_store(web_app.application.pk, events)
    events_store(
        mobile_app.application.pk, [Stored(str(uuid.uuid4()), START, "page", "view", {"path": "/"})]
    )


def params(**overrides):
    return {
        "category": "page",
        "name": "view",
        "start": "2026-05-04T00:00:00Z",
        "end": "2026-05-07T00:00:00Z",
        "interval": "day",
        "breakdown": "path",
        **overrides,
    }


def test_it_breaks_the_kind_down_by_the_key(api, web_app, pageviews):
    response = api.get(params(), key=web_app.reader, url=URL)

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["interval"] == "day"
    assert answer["buckets"] == [
        "2026-05-04T00:00:00Z",
        "2026-05-05T00:00:00Z",
        "2026-05-06T00:00:00Z",
    ]
    assert answer["series"][0] == {"value": "/", "counts": [6, 6, 6], "total": 18}
    assert len(answer["series"]) == 10
    # 63 pageviews with a path, 1 without: the top ten and other add up to all of them.
    assert sum(s["total"] for s in answer["series"]) + answer["other"]["total"] == 64
    assert answer["total"] == 64
    assert answer["other"]["total"] > 0


def test_it_gives_one_series_without_a_breakdown(api, web_app, pageviews):
    query = {k: v for k, v in params(interval="week").items() if k != "breakdown"}
    response = api.get(query, key=web_app.reader, url=URL)

    answer = response.json()
    assert answer["buckets"] == ["2026-05-04T00:00:00Z"]
    assert answer["series"] == [{"value": None, "counts": [64], "total": 64}]


def test_it_refuses_a_key_without_read_rights(api, web_app):
    response = api.get(params(), key=web_app.writer, url=URL)

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"category": None}, "category"),
        ({"start": "soon"}, "start"),
        ({"end": "2026-05-01T00:00:00Z"}, "end"),
        ({"interval": "month"}, "interval"),
        ({"interval": "hour", "end": "2027-05-07T00:00:00Z"}, "interval"),
        # The bucket after the last of year 9999 is off Python's calendar.
        ({"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:59:59Z"}, "end"),
        ({"start": "1899-12-31T23:59:59+00:00"}, "start"),
        ({"colour": "red"}, "colour"),
        ({"breakdown": ["path", "plan"]}, "breakdown"),
    ],
)
def test_it_names_the_field_at_fault(api, web_app, overrides, field):
    query = {k: v for k, v in params(**overrides).items() if v is not None}
    response = api.get(query, key=web_app.reader, url=URL)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
