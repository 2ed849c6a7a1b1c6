"""Sentry is initialised from SENTRY_DSN, for the web processes and for Huey tasks."""

import os
import subprocess
import sys

from tests.support import ROOT

PROBE = """
import django, sentry_sdk
django.setup()
client = sentry_sdk.get_client()
print(client.is_active(), sorted(client.integrations))
"""


def probe(**env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "eye.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_it_reports_django_and_huey_errors_when_a_dsn_is_set():
    output = probe(SENTRY_DSN="http://public@127.0.0.1:9/1")

    assert output.startswith("True")
    assert "'django'" in output
    assert "'huey'" in output


def test_it_sends_nothing_without_a_dsn():
    assert probe().startswith("False")
