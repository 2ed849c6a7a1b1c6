"""The funnel page: steps picked from the kinds stored, sessions per step and the drop-off
between them, the sessions that stopped at a step, and the conversion per day."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from tests.dashboard.support import NOW

URL = reverse("dashboard:funnels")
QUERY = {
    "range": "7d",
    "window": "3600",
    "step1": "page interaction\tpageview",
    "key1": "path",
    "value1": "/",
    "step2": "page interaction\tpageview",
    "key2": "path",
    "value2": "/pricing",
    "step3": "form interaction\tsubmit",
}


@pytest.fixture
def journeys(put, web_app, mobile_app):
    """Four web sessions from the landing page: two see pricing, one of those submits; one
    mobile session does everything."""
    for i, depth in enumerate([3, 2, 1, 1]):
        session = f"00000000-0000-4000-8000-00000000000{i}"
        at = NOW - timedelta(days=1, minutes=10 * i)
        put(web_app, at, session=session, data={"path": "/"})
        if depth >= 2:
            put(web_app, at + timedelta(seconds=30), session=session, data={"path": "/pricing"})
        if depth >= 3:
            put(
                web_app,
                at + timedelta(seconds=90),
                session=session,
                category="form interaction",
                name="submit",
            )
    session = "00000000-0000-4000-8000-0000000000aa"
    put(mobile_app, NOW - timedelta(hours=5), session=session, data={"path": "/"})
    put(
        mobile_app,
        NOW - timedelta(hours=5) + timedelta(seconds=5),
        session=session,
        data={"path": "/pricing"},
    )
    put(
        mobile_app,
        NOW - timedelta(hours=5) + timedelta(seconds=9),
        session=session,
        category="form interaction",
        name="submit",
    )


def sessions_per_step(html: str) -> list[str]:
    return re.findall(r"<td class=\"num\" data-sessions>([\d,]+)</td>", html)


def test_it_shows_the_sessions_of_each_step(as_alice, journeys):
    response = as_alice.get(URL, QUERY)

    assert response.status_code == 200
    html = response.content.decode()
    assert sessions_per_step(html) == ["5", "3", "2"]
    assert 'data-dropoff="1">2 who?' in html
    assert 'data-dropoff="2">1 who?' in html
    assert 'id="funnel-figure"' in html and 'id="funnel-trend-figure"' in html


@pytest.mark.parametrize("dropoff", ["\u00b2", "9" * 5000, "0", "3", "-1", "x"])
def test_a_drop_off_it_cannot_read_lists_no_one(as_alice, journeys, dropoff):
    response = as_alice.get(URL, {**QUERY, "dropoff": dropoff})

    assert response.status_code == 200
    assert sessions_per_step(response.content.decode()) == ["5", "3", "2"]
    assert "dropped" not in response.context


def test_it_counts_one_application_when_asked(as_alice, journeys):
    response = as_alice.get(URL, {**QUERY, "app": "web"})

    assert sessions_per_step(response.content.decode()) == ["4", "2", "1"]


def test_it_lists_the_sessions_that_stopped_at_a_step(as_alice, journeys):
    response = as_alice.get(URL, {**QUERY, "dropoff": "1"})

    html = response.content.decode()
    dropped = re.findall(r'href="/sessions/([0-9a-f-]+)/"', html)
    assert sorted(dropped) == [
        "00000000-0000-4000-8000-000000000002",
        "00000000-0000-4000-8000-000000000003",
    ]


def test_it_keeps_every_setting_in_the_url(as_alice, journeys):
    html = as_alice.get(URL, QUERY).content.decode()

    assert '<option value="3600" selected>1 hour</option>' in html
    assert 'name="value2" value="/pricing"' in html
    assert re.search(r'<option value="form interaction\tsubmit" selected>', html)
    # One empty step row more, to add a step.
    assert 'name="step4"' in html


def test_it_asks_for_a_second_step(as_alice, journeys):
    response = as_alice.get(URL, {"step1": "page interaction\tpageview"})

    assert response.status_code == 400
    assert "A funnel needs 2 steps or more." in response.content.decode()


def test_it_refuses_a_kind_that_is_not_stored(as_alice, journeys):
    response = as_alice.get(URL, {**QUERY, "step2": "nothing\there"})

    assert response.status_code == 400
