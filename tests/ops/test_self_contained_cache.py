"""The cache of `make run` with nothing configured (no Redis): shared by the web processes
and the worker, holding far more than a few hundred entries, and first-writer-wins across
processes, as the clock pins of browser events need (api/browser.py)."""

import json
import os
import subprocess
import sys

from tests.support import ROOT

# Each process below reads the settings of a machine with nothing configured.
UNCONFIGURED = {"EYE_DATABASE_URL", "EYE_REDIS_URL", "EYE_QUEUE_NAME", "DJANGO_SETTINGS_MODULE"}

PIN = """
import sys, django
django.setup()
from django.core.cache import cache
first, count, value = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
won = sum(cache.add(f"clock.1.{i}", value, 900) for i in range(first, first + count))
print(won, type(cache).__name__)
"""

READ = """
import json, django
django.setup()
from django.core.cache import cache
found = cache.get_many([f"clock.1.{i}" for i in range(5000)])
print(json.dumps(sorted(found.values())))
"""


def run(tmp_path, script: str, *args: object) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in UNCONFIGURED}
    env.update(EYE_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="eye.settings")
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def output(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out.strip()


def test_the_self_contained_cache_keeps_every_pin_and_one_winner_each(tmp_path):
    # Three processes pin the same 5,000 events at once, each with its own offset.
    processes = [run(tmp_path, PIN, 0, 5000, offset) for offset in range(3)]
    won = [int(output(process).split()[0]) for process in processes]

    # Each event was won by exactly one of them, and none was dropped to make room.
    assert sum(won) == 5000
    pins = json.loads(output(run(tmp_path, READ)))
    assert len(pins) == 5000
    assert set(pins) <= {0, 1, 2}
