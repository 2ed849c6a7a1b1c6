from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError

from events.keys import api_key_revoke
from events.models import ApiKey


class Command(BaseCommand):
    help = "Revoke an API key, given the key itself or its prefix (as shown when issued)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("key", help="the key, or its first 12 characters")

    def handle(self, *args, key: str, **options) -> None:
        matches = list(ApiKey.objects.filter(prefix=key[:12], revoked_at__isnull=True))
        if not matches:
            raise CommandError(f"no live key starts with {key[:12]!r}")
        if len(matches) > 1:
            raise CommandError(
                f"{len(matches)} live keys start with {key[:12]!r}; give the whole key"
            )
        api_key_revoke(api_key=matches[0])
        self.stdout.write(f"Revoked key {matches[0].prefix}… of {matches[0].application}.")
