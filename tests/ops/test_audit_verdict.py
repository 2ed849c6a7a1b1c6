"""The audit's verdict on pip-audit's report: a known vulnerability always fails; a pin
that could not be looked up fails unless explicitly allowed, and is then named."""

import json
import subprocess
import sys

import pytest

from tests.support import ROOT

VERDICT = ROOT / ".ci" / "audit_verdict.py"


def verdict(dependencies: list[dict], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(VERDICT), *args],
        input=json.dumps({"dependencies": dependencies, "fixes": []}),
        capture_output=True,
        text=True,
    )


CLEAN = {"name": "django", "version": "5.2.19", "vulns": []}
VULNERABLE = {
    "name": "django",
    "version": "3.0",
    "vulns": [{"id": "PYSEC-2020-1", "fix_versions": ["3.0.1"], "aliases": []}],
}
UNAUDITED = {
    "name": "orjson",
    "skip_reason": "Dependency not found on PyPI and could not be audited",
}


@pytest.mark.parametrize("args", [(), ("--allow-unaudited",)])
def test_a_known_vulnerability_fails_always(args):
    result = verdict([CLEAN, VULNERABLE, UNAUDITED], *args)
    assert result.returncode == 1
    assert "VULNERABLE django==3.0: PYSEC-2020-1 (fixed in 3.0.1)" in result.stdout


def test_clean_pins_pass():
    result = verdict([CLEAN])
    assert result.returncode == 0
    assert "1 of 1 pinned packages audited, 0 with known vulnerabilities" in result.stdout


def test_an_unaudited_pin_fails_unless_allowed_and_is_then_named():
    assert verdict([CLEAN, UNAUDITED]).returncode == 1
    allowed = verdict([CLEAN, UNAUDITED], "--allow-unaudited")
    assert allowed.returncode == 0
    assert "NOT AUDITED (1)" in allowed.stdout
    assert "WARNING" in allowed.stdout
