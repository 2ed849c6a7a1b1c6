"""Fixtures of the client's tests: a real Eye (pytest-django's live server, the real queue
and, where storage is checked, a real Huey consumer) and a proxy that misbehaves on cue.

The client is its own package under client/. `pip install -e client` makes it importable;
without that, the source folder is put on the path here, so that the suite runs either way.
"""

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.client.support import CLIENT_DIR, FaultyProxy, process_env

try:
    import eye_client  # noqa: F401
except ImportError:
    sys.path.insert(0, str(CLIENT_DIR))


@pytest.fixture
def eye_url(live_server, store) -> str:
    # `store` empties the events table after the test: it is not Django's, so the flush
    # between transactional tests would leave this test's events to the next one.
    # The live server listens on 127.0.0.1 whatever name pytest-django gives it.
    return f"http://127.0.0.1:{live_server.thread.port}"


@pytest.fixture
def proxy(live_server, store) -> Iterator[FaultyProxy]:
    server = FaultyProxy(live_server.thread.port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_eye() -> Iterator[Callable[..., Any]]:
    """Eye clients that are closed after the test, so that no sender thread outlives it.
    Retries are fast here: the tests are about whether they happen, not their pace."""
    from eye_client import Eye

    made: list[Eye] = []

    def make(url: str, key: str, **options: Any) -> Eye:
        options.setdefault("backoff_base", 0.01)
        options.setdefault("backoff_max", 0.1)
        eye = Eye(url, key, **options)
        made.append(eye)
        return eye

    yield make
    for eye in made:
        eye.close(timeout=5)


@pytest.fixture
def cli_env(eye_url, web_app) -> dict[str, str]:
    return process_env(EYE_URL=eye_url, EYE_KEY=web_app.both)
