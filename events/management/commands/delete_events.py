import uuid
from argparse import ArgumentParser
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from events.erasure import (
    DeletionScope,
    ScopeError,
    deletion_count,
    deletion_request_create,
    deletion_request_run,
)
from events.management.progress import ProgressBar
from events.models import Application


def utc_instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not an ISO 8601 date or time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def events_text(count: int) -> str:
    return f"{count:,} event{'' if count == 1 else 's'}"


class Command(BaseCommand):
    help = (
        "Delete every event of a session (optionally of one application), or every event "
        "of an application in a time range [start, end). Shows the count and asks first; "
        "the deletion is recorded in the audit log like one made in the dashboard."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--session", metavar="UUID", help="the session's id")
        parser.add_argument("--application", metavar="NAME", help="the application's name")
        parser.add_argument("--start", metavar="TIME", help="from this instant (UTC if bare)")
        parser.add_argument("--end", metavar="TIME", help="up to, not including, this instant")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(
        self,
        *args,
        session: str | None,
        application: str | None,
        start: str | None,
        end: str | None,
        yes: bool,
        **options,
    ) -> None:
        scope = self._scope(session, application, start, end)
        count = deletion_count(scope=scope)
        # Recorded even when nothing stored matches: events of the scope that were accepted
        # but are not stored yet are left out as they reach the store.
        if not yes:
            try:
                answer = input(
                    f"Delete {events_text(count)} stored, and any still on their way to the "
                    "store? This cannot be undone. [y/N] "
                )
            except EOFError:
                raise CommandError(
                    "nothing to read a confirmation from (no terminal); pass --yes"
                ) from None
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("cancelled; nothing was deleted")
        deletion_request = deletion_request_create(scope=scope)
        progress = ProgressBar(deletion_request.expected, stream=self.stderr._out)
        done = deletion_request_run(
            deletion_request_id=deletion_request.pk,
            on_progress=lambda total: progress.advance(total - progress.done),
        )
        progress.finish()
        self.stdout.write(
            f"Deleted {events_text(done.deleted)} ({done.scope}); any still on their way to the "
            "store will be left out."
        )

    def _scope(
        self, session: str | None, application: str | None, start: str | None, end: str | None
    ) -> DeletionScope:
        application_id = None
        if application is not None:
            found = Application.objects.filter(name=application).first()
            if found is None:
                raise CommandError(f"no application is named {application!r}")
            application_id = found.pk
        try:
            return DeletionScope(
                session_id=_session_uuid(session) if session else None,
                application_id=application_id,
                start=utc_instant(start) if start else None,
                end=utc_instant(end) if end else None,
            )
        except ScopeError as exc:
            raise CommandError(str(exc)) from None


def _session_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a session id (a UUID)") from None
