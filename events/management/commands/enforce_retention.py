from django.core.management.base import BaseCommand, CommandError

from events.retention import retention_enforce


class Command(BaseCommand):
    help = (
        "Remove every event past its retention rule now, as the worker does every quarter "
        "hour, and print what went."
    )

    def handle(self, *args, **options) -> None:
        run = retention_enforce()
        if run is None:
            raise CommandError("another retention run is in progress; try again when it ends")
        for rule in run.details:
            self.stdout.write(f"{rule['scope']}: {rule['days']} days, {rule['removed']:,} removed")
        if not run.details:
            self.stdout.write("No retention rule is set: every event is kept.")
        self.stdout.write(
            f"Removed {run.removed:,} events in all ({run.chunks_dropped} whole chunks dropped)."
        )
