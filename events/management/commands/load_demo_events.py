import queue
import threading
from argparse import ArgumentParser
from collections.abc import Iterator
from itertools import islice

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError
from django.utils import timezone

from events.demo import demo_events
from events.keys import application_name_problem
from events.management.progress import ProgressBar
from events.models import Application
from events.services import EventRow, event_bulk_copy

CHUNK = 50_000


def prefetched_chunks(rows: Iterator[EventRow], size: int) -> Iterator[list[EventRow]]:
    """Chunks of rows, the next one made in a thread while the database takes this one:
    making events is Python work, storing them is waiting, so the two overlap."""
    chunks: queue.Queue[list[EventRow]] = queue.Queue(maxsize=2)

    def produce() -> None:
        while chunk := list(islice(rows, size)):
            chunks.put(chunk)
        chunks.put([])

    threading.Thread(target=produce, daemon=True).start()
    while chunk := chunks.get():
        yield chunk


# A hundred times the default, over an hour of loading; ten years of days, which the
# dashboard's ranges all reach.
MAX_EVENTS = 100_000_000
MAX_DAYS = 3_650


class Command(BaseCommand):
    help = (
        "Load realistic demo events (sessions that land, browse, look at the pricing, sign "
        "up and buy, with a daily and weekly rhythm, up to the present minute) through the "
        "bulk COPY path, keeping the rollups in step."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--events", type=int, default=1_000_000, help="how many (1,000,000)")
        # Twice the longest preset, so that "Last 30 days" has a previous period to compare
        # with, as a product in use has: a demo of exactly 30 days would show "new" there.
        parser.add_argument("--days", type=int, default=60, help="spread over this many days (60)")
        parser.add_argument("--application", default="demo", help="the sending application")
        parser.add_argument(
            "--seed",
            type=int,
            default=None,
            help="random seed, for the same events again within the minute (default: random)",
        )

    def handle(
        self, *args, events: int, days: int, application: str, seed: int | None, **options
    ) -> None:
        if not 1 <= events <= MAX_EVENTS:
            raise CommandError(f"--events must be from 1 to {MAX_EVENTS:,}")
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be from 1 to {MAX_DAYS:,}")
        application = application.strip()
        if problem := application_name_problem(application):
            raise CommandError(f"--application: the name {problem}")
        try:
            app, _ = Application.objects.get_or_create(name=application)
        except OperationalError as exc:
            raise CommandError(
                f"cannot reach the database ({exc}); with the embedded default, start The "
                "Eye with `make run` first and load demo data from another shell"
            ) from None
        rows = demo_events(
            count=events, days=days, seed=seed if seed is not None else timezone.now().microsecond
        )
        progress = ProgressBar(events, stream=self.stderr._out)
        stored = 0
        while chunk := list(islice(rows, CHUNK)):
            # The demo plays a live product: each event arrived when it happened, so Live,
            # which shows events in the order they arrived, shows the newest of them.
            stored += event_bulk_copy(rows=chunk, application_id=app.pk, received_at=None)
            progress.advance(len(chunk))
        progress.finish()
        self.stdout.write(f"Loaded {stored:,} demo events into application {app.name!r}.")
