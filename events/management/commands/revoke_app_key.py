from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError

from events.keys import PREFIX_LENGTH, api_key_revoke, key_hash
from events.models import ApiKey


class Command(BaseCommand):
    help = "Revoke an API key, given the key itself or its prefix (as shown when issued)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("key", help="the key, or its first 12 characters")

    def handle(self, *args, key: str, **options) -> None:
        key = key.strip()
        live = ApiKey.objects.filter(revoked_at__isnull=True)
        if len(key) == PREFIX_LENGTH:
            matches = list(live.filter(prefix=key))
        elif len(key) > PREFIX_LENGTH:
            # The whole key, which only the key itself matches: a prefix with something
            # else after it must not revoke the key it starts.
            matches = list(live.filter(key_hash=key_hash(key)))
        else:
            raise CommandError(
                f"give the whole key or its first {PREFIX_LENGTH} characters, "
                f"not {len(key)} of them"
            )
        if not matches:
            raise CommandError(f"no live key is {key[:PREFIX_LENGTH]}… as given")
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} live keys start with {key!r}; give the whole key")
        api_key_revoke(api_key=matches[0])
        self.stdout.write(f"Revoked key {matches[0].prefix}… of {matches[0].application}.")
