import secrets
from argparse import ArgumentParser

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from events.keys import api_key_create
from events.models import Application

CURL = """curl -s -X POST {url}/api/event/ \\
  -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
  -d '{{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "page interaction",
       "name": "cta click", "data": {{"path": "/"}}, "timestamp": "{now}"}}'"""

# Hosts (or pods) started at once each run first_run on the same database; this lock makes
# them take turns, so the first makes the admin and the others find it.
FIRST_RUN_LOCK = 0x6579655F66697273


class Command(BaseCommand):
    help = (
        "On a fresh installation (no user yet), create an admin account and an application "
        "key, and print how to use them. Does nothing afterwards, so it prints only once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="where The Eye serves")

    def handle(self, *args, url: str, **options) -> None:
        from django.utils import timezone

        User = get_user_model()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FIRST_RUN_LOCK])
            if User.objects.exists():
                return
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", email="", password=password)
            application, _ = Application.objects.get_or_create(name="demo")
            _, key = api_key_create(application=application, can_read=True, can_write=True)
        now = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "The Eye is set up. This is shown once; keep it.",
                    f"  Dashboard: {url}/  user: admin  password: {password}",
                    f"  API key of the 'demo' application (read and write): {key}",
                    "  Send an event:",
                    CURL.format(url=url, key=key, now=now),
                    f'  Read it back: curl -s {url}/api/event/ -H "Authorization: Bearer {key}"',
                    "",
                ]
            )
        )
