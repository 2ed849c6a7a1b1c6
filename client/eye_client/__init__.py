"""Python client of The Eye: track events in batches from a background thread, and query
them back.

    from eye_client import Eye

    with Eye("http://127.0.0.1:8000", key) as eye:
        eye.track(session_id, "page interaction", "cta click", {"path": "/"})
"""

from eye_client.buffer import OnFull
from eye_client.client import Eye
from eye_client.errors import (
    BufferFull,
    EyeClosed,
    EyeConnectionError,
    EyeError,
    EyeHTTPError,
)
from eye_client.query import Page
from eye_client.reports import Failure, Stats
from eye_client.version import __version__

__all__ = [
    "BufferFull",
    "Eye",
    "EyeClosed",
    "EyeConnectionError",
    "EyeError",
    "EyeHTTPError",
    "Failure",
    "OnFull",
    "Page",
    "Stats",
    "__version__",
]
