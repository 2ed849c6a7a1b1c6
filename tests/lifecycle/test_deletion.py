"""Deleting a session, or an application's events in a range: exactly those go, the
rollups follow, the progress is recorded, and the command does the same."""

import io
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from events.erasure import (
    DELETION_LOCK,
    STORE_LOCK_SHARE,
    DeletionScope,
    ScopeError,
    deletion_count,
    deletion_request_create,
    deletion_request_run,
)
from events.models import AuditEntry, DeletionRequest, Event
from events.services import EventRow, event_bulk_create
from tests.lifecycle.support import assert_rollups_match_raw, put_events, stored_ids
from tests.support import database_url_of_test_db, wait_for

pytestmark = pytest.mark.usefixtures("store")


@pytest.fixture
def two_sessions(web_app, mobile_app):
    now = timezone.now()
    doomed = uuid.uuid4()
    spared = uuid.uuid4()
    instants = [now - timedelta(minutes=7 * i) for i in range(25)]
    gone = put_events(web_app.application, instants, session_id=doomed)
    # The same session id from another application: a session is the person's, whatever
    # app they used, so it goes too unless the request names one application.
    gone += put_events(mobile_app.application, instants[:5], session_id=doomed, category="x")
    kept = put_events(web_app.application, instants, session_id=spared)
    return doomed, set(gone), set(kept)


def test_deleting_a_session_removes_its_events_and_nothing_else(two_sessions, django_user_model):
    doomed, gone, kept = two_sessions
    bob = django_user_model.objects.create_user("bob", is_staff=True)
    scope = DeletionScope(session_id=doomed)
    assert deletion_count(scope=scope) == len(gone)

    request = deletion_request_create(scope=scope, actor=bob)
    assert (request.status, request.expected, request.requested_by) == ("pending", 30, bob)
    done = deletion_request_run(deletion_request_id=request.pk)

    assert stored_ids() == kept
    assert (done.status, done.deleted, done.percent_done) == ("done", 30, 100)
    assert done.finished_at is not None
    assert_rollups_match_raw()
    entry = AuditEntry.objects.get(action="deletion.requested")
    assert (entry.actor_name, entry.details) == ("bob", {"request": request.pk, "expected": 30})
    assert str(doomed) in entry.target


def test_a_session_of_one_application_only(two_sessions, mobile_app):
    doomed, _, kept = two_sessions
    scope = DeletionScope(session_id=doomed, application_id=mobile_app.application.pk)
    request = deletion_request_create(scope=scope)
    deletion_request_run(deletion_request_id=request.pk)
    assert len(stored_ids()) == len(kept) + 25
    assert_rollups_match_raw()


def test_an_application_in_a_time_range(web_app, mobile_app):
    now = timezone.now().replace(microsecond=0)
    start, end = now - timedelta(hours=3), now - timedelta(hours=1)
    before = put_events(web_app.application, [start - timedelta(seconds=1)])
    within = put_events(web_app.application, [start, start + timedelta(minutes=30)])
    at_end = put_events(web_app.application, [end])
    other_app = put_events(mobile_app.application, [start + timedelta(minutes=30)])
    scope = DeletionScope(application_id=web_app.application.pk, start=start, end=end)

    assert deletion_count(scope=scope) == 2
    request = deletion_request_create(scope=scope)
    deletion_request_run(deletion_request_id=request.pk)

    assert stored_ids() == set(before + at_end + other_app)
    assert not stored_ids() & set(within)
    assert_rollups_match_raw()


def test_an_application_s_events_go_without_another_s_with_the_same_ids(web_app, mobile_app):
    # Two applications' events alike in id and timestamp are two events: deleting one
    # application's leaves the other's and its counts.
    now = timezone.now().replace(microsecond=0)
    rows = [EventRow(str(uuid.uuid4()), now - timedelta(minutes=i), str(uuid.uuid4()), "page",
                     "view", "{}") for i in range(3)]  # fmt: skip
    for app in (web_app, mobile_app):
        event_bulk_create(rows=rows, application_id=app.application.pk, received_at=now)
    scope = DeletionScope(
        application_id=web_app.application.pk, start=now - timedelta(days=1), end=now + timedelta(1)
    )

    request = deletion_request_create(scope=scope)
    assert deletion_request_run(deletion_request_id=request.pk).deleted == 3

    assert stored_ids() == {row.event_id for row in rows}
    assert Event.objects.filter(application_id=mobile_app.application.pk).count() == 3
    assert not Event.objects.filter(application_id=web_app.application.pk).exists()
    assert_rollups_match_raw()


def posted(api, app, *, session: uuid.UUID, name: str, at: datetime) -> None:
    event = {"session_id": str(session), "category": "page", "name": name,
             "timestamp": at.isoformat()}  # fmt: skip
    assert api.post(event, key=app.writer).status_code == 202


def test_events_still_queued_when_their_session_goes_are_not_stored(api, web_app, drain):
    # Accepted (202) before the request, stored after its pass: the request covers them.
    # What the session sends after the request is new, and stays.
    session, now = uuid.uuid4(), timezone.now()
    posted(api, web_app, session=session, name="before", at=now - timedelta(minutes=1))
    request = deletion_request_create(scope=DeletionScope(session_id=session))
    deletion_request_run(deletion_request_id=request.pk)
    posted(api, web_app, session=session, name="after", at=now - timedelta(minutes=2))

    drain()

    assert list(Event.objects.values_list("name", flat=True)) == ["after"]
    assert_rollups_match_raw()


def test_events_still_queued_when_a_range_goes_are_left_out_in_that_range_only(
    api, web_app, mobile_app, drain
):
    now = timezone.now().replace(microsecond=0)
    start, end = now - timedelta(hours=3), now - timedelta(hours=1)
    session = uuid.uuid4()
    posted(api, web_app, session=session, name="in range", at=start)
    posted(api, web_app, session=session, name="at the end", at=end)
    posted(api, mobile_app, session=session, name="other application", at=start)
    scope = DeletionScope(application_id=web_app.application.pk, start=start, end=end)
    deletion_request_run(deletion_request_id=deletion_request_create(scope=scope).pk)

    drain()

    assert sorted(Event.objects.values_list("name", flat=True)) == [
        "at the end",
        "other application",
    ]
    assert_rollups_match_raw()


def waits_for_the_lock(held_by: str, work: Callable[[], object]) -> bool:
    """Whether `work`, in a thread of its own, waits while another connection holds the
    lock as `held_by` takes it, and finishes once that connection commits."""
    holder = psycopg.connect(database_url_of_test_db())
    holder.execute(held_by)
    done = threading.Event()

    def run() -> None:
        try:
            work()
            done.set()
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        waited = not done.wait(1.0)
    finally:
        holder.commit()
        holder.close()
        worker.join(timeout=30)
    return waited and done.is_set()


def test_a_request_is_made_only_once_the_store_transactions_under_way_end(web_app):
    # A store statement that began before the request was committed cannot see it, so
    # the request waits for it to commit, and its own pass then finds its rows.
    scope = DeletionScope(session_id=uuid.uuid4())

    assert waits_for_the_lock(STORE_LOCK_SHARE, lambda: deletion_request_create(scope=scope))
    assert DeletionRequest.objects.count() == 1


def test_the_store_waits_while_a_request_is_being_made(web_app):
    # The other half of the lock: rows stored meanwhile would be read by a statement that
    # began before the request it cannot see yet.
    request_lock = f"SELECT pg_advisory_xact_lock({DELETION_LOCK})"

    assert waits_for_the_lock(
        request_lock, lambda: put_events(web_app.application, [timezone.now()])
    )
    assert Event.objects.count() == 1


def test_progress_is_saved_after_every_batch(web_app, settings):
    settings.EYE_DELETE_BATCH_SIZE = 4
    session = uuid.uuid4()
    now = timezone.now()
    put_events(
        web_app.application, [now - timedelta(seconds=i) for i in range(10)], session_id=session
    )
    request = deletion_request_create(scope=DeletionScope(session_id=session))
    seen = []
    deletion_request_run(
        deletion_request_id=request.pk,
        on_progress=lambda total: seen.append(
            (total, DeletionRequest.objects.get(pk=request.pk).deleted)
        ),
    )
    assert seen == [(4, 4), (8, 8), (10, 10)]


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"application_id": 1},
        {"application_id": 1, "start": timezone.now()},
        {"application_id": 1, "start": timezone.now(), "end": timezone.now() - timedelta(1)},
    ],
)
def test_a_scope_must_say_which_events(scope):
    with pytest.raises(ScopeError):
        DeletionScope(**scope)


def test_the_worker_carries_out_a_request(consumer, two_sessions):
    from tasks.tasks import delete_events_enqueue

    doomed, _, kept = two_sessions
    request = deletion_request_create(scope=DeletionScope(session_id=doomed))
    delete_events_enqueue(deletion_request=request)
    assert wait_for(lambda: DeletionRequest.objects.get(pk=request.pk).status == "done")
    assert stored_ids() == kept
    assert_rollups_match_raw()


def test_the_command_asks_then_deletes_with_a_progress_bar(two_sessions, monkeypatch, capsys):
    doomed, _, kept = two_sessions
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="nothing was deleted"):
        call_command("delete_events", "--session", str(doomed))
    assert len(stored_ids()) == len(kept) + 30

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    call_command("delete_events", "--session", str(doomed))
    captured = capsys.readouterr()
    assert "Deleted 30 events" in captured.out
    assert "30/30 events" in captured.err
    assert stored_ids() == kept
    assert AuditEntry.objects.get(action="deletion.requested").actor_name == "command line"


def test_the_command_without_a_terminal_asks_for_yes(two_sessions, monkeypatch):
    doomed, _, kept = two_sessions
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # as under cron: input() meets EOF

    with pytest.raises(CommandError, match="pass --yes"):
        call_command("delete_events", "--session", str(doomed))
    assert len(stored_ids()) == len(kept) + 30


def test_the_command_deletes_an_application_range(web_app, capsys):
    now = timezone.now()
    put_events(web_app.application, [now - timedelta(days=2), now - timedelta(hours=1)])
    start = (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")
    end = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    call_command("delete_events", "--application", "web", "--start", start, "--end", end, "--yes")
    assert "Deleted 1 event (" in capsys.readouterr().out
    assert len(stored_ids()) == 1


def test_the_command_records_a_request_that_only_queued_events_match(api, web_app, drain, capsys):
    # Every event of the session accepted and still in the queue: nothing stored matches,
    # and the request still leaves them out.
    session = uuid.uuid4()
    posted(api, web_app, session=session, name="queued", at=timezone.now())

    call_command("delete_events", "--session", str(session), "--yes")
    drain()

    assert "Deleted 0 events" in capsys.readouterr().out
    assert DeletionRequest.objects.get().session_id == session
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["--application", "nope", "--start", "2020-01-01", "--end", "2021-01-01"],
            "no application",
        ),
        (["--session", "not-a-uuid"], "not a session id"),
        (["--application", "web"], "name a session"),
        (["--application", "web", "--start", "yesterday", "--end", "2021-01-01"], "ISO 8601"),
    ],
)
def test_the_command_refuses_an_unclear_scope(web_app, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("delete_events", *arguments, "--yes")
