"""Production settings pass Django's deployment checks; every answer carries the security
headers; secrets stay out of the repository."""

import os
import subprocess
import sys

from tests.support import ROOT


def test_it_passes_the_deployment_checks_behind_https():
    env = {
        **os.environ,
        "EYE_HTTPS": "true",
        "EYE_DEBUG": "false",
        "EYE_SECRET_KEY": "k" * 20 + "Q9x-vL2#pR7@mN4!sT8&wZ1^yB6*cD3%fG5",
        "EYE_ALLOWED_HOSTS": "eye.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_sends_security_headers(client, db):
    response = client.get("/api/health")

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert (
        "script-src 'self'" in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_it_keeps_no_secrets_in_the_repository():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()

    assert ".env" not in tracked
    assert not [path for path in tracked if path.startswith("var/")]
