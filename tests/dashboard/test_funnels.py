"""The funnel page: steps picked from the kinds stored, sessions per step and the drop-off
between them, the sessions that stopped at a step, and the conversion per day."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from tests.dashboard.support import NOW, figure_of

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


@pytest.fixture
def earlier_journeys(put, web_app):
    """A week before the journeys, in the previous 7 days: two sessions from the landing
    page, one of which submits."""
    at = NOW - timedelta(days=8)
    for i, converts in enumerate([True, False]):
        session = f"00000000-0000-4000-8000-0000000001{i}0"
        put(web_app, at + timedelta(minutes=i), session=session, data={"path": "/"})
        if converts:
            later = at + timedelta(minutes=i)
            put(web_app, later + timedelta(seconds=20), session=session, data={"path": "/pricing"})
            put(
                web_app,
                later + timedelta(seconds=40),
                session=session,
                category="form interaction",
                name="submit",
            )


def trend_lines(response) -> dict[str, dict[str, float | None]]:
    """{trace name: {day: share}} of the conversion chart."""
    figure = figure_of(response, "funnel-trend")
    return {
        trace["name"]: dict(zip(trace["x"], trace["y"], strict=True)) for trace in figure["data"]
    }


def test_its_trend_is_the_conversion_per_day_beside_the_previous_period(
    as_alice, journeys, earlier_journeys
):
    response = as_alice.get(URL, QUERY)

    lines = trend_lines(response)
    # 17 March: four sessions entered, one submitted; 18 March: the mobile one, which did.
    assert lines["Conversion"]["2026-03-17 00:00"] == pytest.approx(0.25)
    assert lines["Conversion"]["2026-03-18 00:00"] == pytest.approx(1.0)
    assert lines["Conversion"]["2026-03-16 00:00"] is None
    # 10 March, seven days earlier: two entered, one submitted.
    assert lines["Previous period"]["2026-03-17 00:00"] == pytest.approx(0.5)
    assert lines["Previous period"]["2026-03-18 00:00"] is None
    html = response.content.decode()
    assert re.findall(r'<td class="num" data-previous title="([^"]+)">([^<]+)</td>', html) == [
        ("Tue 2026-03-10", "50%"),
        ("Wed 2026-03-11", "\u2013"),
    ]
    assert 'name="compare" id="id_compare" checked' in html


def test_its_trend_leaves_the_previous_period_out_when_unticked(
    as_alice, journeys, earlier_journeys
):
    response = as_alice.get(URL, {**QUERY, "compare": "false"})

    assert list(trend_lines(response)) == ["Conversion"]
    html = response.content.decode()
    assert "data-previous" not in html
    assert 'name="compare" id="id_compare" checked' not in html
    assert sessions_per_step(html) == ["5", "3", "2"]
