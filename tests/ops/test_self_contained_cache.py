"""The cache of `make run` with nothing configured (no Redis, eye/sqlite_cache.py): shared
by the web processes and the worker, holding far more than a few hundred entries, with
`add` first-writer-wins and `incr` exact across processes, as the clock pins of browser
events and the rate limits need, and Django's cache API otherwise."""

import json
import os
import subprocess
import sys

import pytest

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


COUNT = """
import sys, django
django.setup()
from django.core.cache import cache
cache.add("ratelimit.1.1", 0, 60)
for _ in range(int(sys.argv[1])):
    cache.incr("ratelimit.1.1")
"""

TOTAL = """
import django
django.setup()
from django.core.cache import cache
print(cache.get("ratelimit.1.1"))
"""


def test_counters_add_up_across_processes(tmp_path):
    processes = [run(tmp_path, COUNT, 500) for _ in range(3)]
    for process in processes:
        output(process)

    assert output(run(tmp_path, TOTAL)) == "1500"


@pytest.fixture
def sqlite_cache(tmp_path):
    from eye.sqlite_cache import SqliteCache

    return SqliteCache(str(tmp_path / "cache.sqlite3"), {"OPTIONS": {"MAX_ENTRIES": 50}})


def test_it_keeps_django_caches_promises(sqlite_cache, monkeypatch):
    import eye.sqlite_cache

    cache = sqlite_cache
    cache.set("a", {"x": [1, 2]}, 60)
    cache.set("n", 5, 60)
    assert cache.get("a") == {"x": [1, 2]} and cache.get("missing", "d") == "d"
    assert cache.get_many(["a", "n", "missing"]) == {"a": {"x": [1, 2]}, "n": 5}
    assert cache.add("a", "other", 60) is False and cache.get("a") == {"x": [1, 2]}
    assert cache.incr("n", 3) == 8
    with pytest.raises(ValueError):
        cache.incr("missing")
    with pytest.raises(TypeError):
        cache.incr("a")
    assert cache.has_key("n") and cache.delete("n") and not cache.has_key("n")

    # Past its time a row is gone for every reader, and `add` takes it over.
    now = [1_000_000.0]
    monkeypatch.setattr(eye.sqlite_cache.time, "time", lambda: now[0])
    cache.set("soon", "v", 10)
    assert cache.touch("soon", 20)
    now[0] += 15
    assert cache.get("soon") == "v"
    now[0] += 10
    assert cache.get("soon") is None and not cache.has_key("soon")
    assert cache.add("soon", "again", 10) is True and cache.get("soon") == "again"


def test_past_its_entries_the_rows_closest_to_expiring_go_first(sqlite_cache):
    import eye.sqlite_cache

    for i in range(eye.sqlite_cache.SWEEP_EVERY):
        sqlite_cache.set(f"k{i}", i, 1000 + i)

    kept = sqlite_cache.get_many([f"k{i}" for i in range(eye.sqlite_cache.SWEEP_EVERY)])
    assert 0 < len(kept) <= 50
    assert min(kept.values()) > eye.sqlite_cache.SWEEP_EVERY - 60
