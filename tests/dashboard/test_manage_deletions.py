"""Deletions: the count first, then on confirmation a request that the worker carries out,
its progress shown in the list (which refreshes itself while one is under way)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from events.models import AuditEntry, DeletionRequest
from tests.dashboard.support import NOW, SESSION_A, SESSION_B, raw_one

URL = reverse("dashboard:manage_deletions")
ROWS = reverse("dashboard:manage_deletion_rows")


@pytest.fixture
def sessions(put, web_app, mobile_app) -> None:
    """SESSION_A: 3 events of web an hour apart from NOW - 5 h, 1 of mobile. SESSION_B: 2
    events of web, at NOW - 1 h and NOW."""
    for hours in (5, 4, 3):
        put(web_app, NOW - timedelta(hours=hours), session=SESSION_A)
    put(mobile_app, NOW - timedelta(hours=4), session=SESSION_A)
    put(web_app, NOW - timedelta(hours=1), session=SESSION_B)
    put(web_app, NOW, session=SESSION_B)


def session_form(session=SESSION_A, app=None, **extra) -> dict:
    return {
        "kind": "session",
        "session-session_id": str(session),
        "session-application": app.application.pk if app else "",
        **extra,
    }


def range_form(app, start, end, **extra) -> dict:
    return {
        "kind": "range",
        "range-application": app.application.pk,
        "range-start": f"{start:%Y-%m-%dT%H:%M}",
        "range-end": f"{end:%Y-%m-%dT%H:%M}",
        **extra,
    }


def would_delete(response) -> int:
    html = response.content.decode()
    return int(html.split('data-stat="would-delete">')[1].split("<")[0].replace(",", ""))


def events_of(session) -> int:
    return raw_one("SELECT count(*) FROM events WHERE session_id = %s", [session])


def test_it_counts_a_sessions_events_before_anything_is_deleted(as_bob, sessions, web_app):
    everywhere = as_bob.post(URL, session_form())
    web_only = as_bob.post(URL, session_form(app=web_app))

    assert would_delete(everywhere) == 4
    assert would_delete(web_only) == 3
    html = web_only.content.decode()
    assert f"Every stored event of session {SESSION_A}, application web, and any" in html
    assert ">Confirm: delete 3 events</button>" in html
    assert not DeletionRequest.objects.exists()
    assert events_of(SESSION_A) == 4


def test_it_counts_an_applications_events_over_a_time_range(as_bob, sessions, web_app):
    response = as_bob.post(
        URL, range_form(web_app, NOW - timedelta(hours=4, minutes=30), NOW - timedelta(minutes=30))
    )

    # web's events at NOW - 4 h, - 3 h and - 1 h; not mobile's, nor the one at NOW.
    assert would_delete(response) == 3
    confirm = response.content.decode().split('class="form-actions">')[1].split("</form>")[0]
    assert 'name="kind" value="range"' in confirm
    assert 'name="confirm" value="yes"' in confirm


def test_it_offers_to_leave_out_what_is_queued_when_nothing_stored_matches(as_bob, sessions):
    # The session's events may all be accepted and still queued: a request covers them.
    response = as_bob.post(URL, session_form(session="00000000-0000-0000-0000-00000000beef"))

    html = response.content.decode()
    assert "No stored event matches" in html
    assert "Confirm: delete what is on its way" in html
    confirm = html.split('class="form-actions">')[1].split("</form>")[0]
    assert 'name="confirm" value="yes"' in confirm


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        (session_form(session="not-a-uuid"), "id_session-session_id_error", "Enter a valid UUID."),
        ({"kind": "range", "range-start": "2026-03-18T10:00"}, "id_range-end_error", "required"),
        ({"kind": "range", "range-end": "yesterday"}, "id_range-end_error", "valid date/time"),
    ],
)
def test_it_shows_form_errors_inline(as_bob, web_app, data, field, error):
    response = as_bob.post(URL, data)

    assert response.status_code == 400
    assert error in response.content.decode().split(f'id="{field}">')[1].split("</p>")[0]
    assert not DeletionRequest.objects.exists()


def test_it_refuses_a_range_that_ends_before_it_starts(as_bob, web_app):
    response = as_bob.post(URL, range_form(web_app, NOW, NOW - timedelta(hours=1)))

    assert response.status_code == 400
    assert "The range must start before it ends." in response.content.decode()


def test_it_refuses_a_post_of_no_known_kind(as_bob, db):
    assert as_bob.post(URL, {"kind": "everything", "confirm": "yes"}).status_code == 400


def test_it_deletes_a_session_once_confirmed_and_shows_it_done(
    as_bob, bob, sessions, web_app, drain
):
    response = as_bob.post(URL, session_form(app=web_app, confirm="yes"), follow=True)

    assert response.redirect_chain == [(URL, 302)]
    request = DeletionRequest.objects.get()
    assert (request.session_id, request.application, request.requested_by) == (
        SESSION_A,
        web_app.application,
        bob,
    )
    assert (request.status, request.expected, request.deleted) == ("pending", 3, 0)
    html = response.content.decode()
    assert f"Deletion #{request.pk} requested: 3 events of session {SESSION_A}" in html
    row = html.split(f'data-request="{request.pk}"')[1].split("</tr>")[0]
    assert 'data-status="pending"' in html and "by bob" in row
    assert f'data-poll-source="{ROWS}"' in html
    audit = AuditEntry.objects.get(action=AuditEntry.Action.DELETION_REQUESTED)
    assert audit.actor == bob

    assert drain() == 1

    assert events_of(SESSION_A) == 1  # mobile's event of the session stays
    assert events_of(SESSION_B) == 2
    request.refresh_from_db()
    assert (request.status, request.deleted, request.percent_done) == ("done", 3, 100)
    page = as_bob.get(URL).content.decode()
    row = page.split(f'data-request="{request.pk}"')[1].split("</tr>")[0]
    assert 'data-status="done"' in page and ">done</span>" in row
    assert '<progress class="progress" max="100" value="100"' in row
    assert '<span data-stat="percent">100%</span>' in row
    assert "data-poll-source" not in page


def test_it_deletes_an_applications_range_once_confirmed(as_bob, sessions, web_app, drain):
    # To the minute, as the form takes them.
    start = (NOW - timedelta(hours=4, minutes=30)).replace(second=0)
    end = (NOW - timedelta(minutes=30)).replace(second=0)

    as_bob.post(URL, range_form(web_app, start, end, confirm="yes"))
    drain()

    request = DeletionRequest.objects.get()
    assert (request.start, request.end, request.deleted) == (start, end, 3)
    assert raw_one("SELECT count(*) FROM events") == 3


def test_it_refreshes_the_rows_while_a_request_is_under_way(as_bob, sessions, drain):
    as_bob.post(URL, session_form(confirm="yes"))
    request = DeletionRequest.objects.get()

    under_way = as_bob.get(ROWS)
    assert under_way["X-Eye-Active"] == "1"
    assert under_way["Cache-Control"] == "no-store"
    assert f'data-request="{request.pk}" data-status="pending"' in under_way.content.decode()
    # Without JavaScript the page reloads itself instead.
    assert '<noscript><meta http-equiv="refresh"' in as_bob.get(URL).content.decode()

    drain()

    finished = as_bob.get(ROWS)
    assert finished["X-Eye-Active"] == "0"
    assert f'data-request="{request.pk}" data-status="done"' in finished.content.decode()
    assert "<noscript><meta" not in as_bob.get(URL).content.decode()


def test_it_shows_a_failed_request_and_its_error(as_bob, web_app):
    DeletionRequest.objects.create(
        session_id=SESSION_A, status="failed", expected=10, deleted=4, error="database went away"
    )

    html = as_bob.get(URL).content.decode()

    assert ">failed</span>" in html
    assert "database went away" in html
    assert '<span data-stat="percent">40%</span>' in html
    assert "by a removed user" in html
