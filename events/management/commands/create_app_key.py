from argparse import ArgumentParser

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.keys import (
    MAX_RATE_LIMIT,
    api_key_create,
    application_create,
    application_name_problem,
)
from events.models import Application
from events.origins import OriginError, origins_normalize


class Command(BaseCommand):
    help = (
        "Issue an API key for an application (created if new). The key is printed once, "
        "alone on the last line; only its hash is stored."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="the application's name")
        parser.add_argument("--read", action="store_true", help="the key may query events")
        parser.add_argument("--write", action="store_true", help="the key may send events")
        parser.add_argument(
            "--read-all-applications",
            action="store_true",
            help="the key may query the events of every application, not only its own "
            "(implies --read; writes still go to its own application)",
        )
        parser.add_argument(
            "--rate-limit",
            type=int,
            default=None,
            metavar="N",
            help="at most N requests a minute (default: no limit; for a publishable key "
            "EYE_PUBLISHABLE_KEY_RATE_LIMIT)",
        )
        parser.add_argument(
            "--publishable",
            action="store_true",
            help="a key for web pages (eye_pk_…): write only, from the --origin pages only",
        )
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            metavar="ORIGIN",
            help="with --publishable: an origin allowed to send with the key, like "
            "https://shop.example.com or https://*.example.com (repeat for more)",
        )

    def handle(
        self,
        *args,
        name: str,
        read: bool,
        write: bool,
        rate_limit: int | None,
        publishable: bool,
        origin: list[str],
        read_all_applications: bool,
        **options,
    ) -> None:
        name = name.strip()
        if problem := application_name_problem(name):
            raise CommandError(f"the application name {problem}")
        read = read or read_all_applications
        origins = None
        if publishable:
            if read:
                raise CommandError("a publishable key is public and can never --read")
            try:
                origins = origins_normalize(origin)
            except OriginError as exc:
                raise CommandError(f"--origin: {exc}") from None
            write = True
            if rate_limit is None:
                rate_limit = settings.EYE_PUBLISHABLE_KEY_RATE_LIMIT or None
        elif origin:
            raise CommandError("--origin is for publishable keys; add --publishable")
        if not (read or write):
            # A key with no rights is useless; the common case is a key that does both.
            read = write = True
        if rate_limit is not None and not 1 <= rate_limit <= MAX_RATE_LIMIT:
            raise CommandError(f"--rate-limit must be from 1 to {MAX_RATE_LIMIT:,}")
        application = Application.objects.filter(name=name).first()
        created = application is None
        if application is None:
            application = application_create(name=name)
        api_key, raw_key = api_key_create(
            application=application,
            can_read=read,
            can_write=write,
            rate_limit_per_minute=rate_limit,
            origins=origins,
            can_read_all_applications=read_all_applications,
        )
        verb = "Created application" if created else "Application"
        self.stderr.write(
            f"{verb} {application.name!r}; "
            + (
                f"publishable key {api_key.prefix}… for {', '.join(api_key.origins)}; "
                "it is public: paste it into your pages."
                if api_key.is_publishable
                else f"key {api_key.prefix}… with rights: {api_key.rights}. "
                "Store it now: it is not shown again."
            )
        )
        self.stdout.write(raw_key)
