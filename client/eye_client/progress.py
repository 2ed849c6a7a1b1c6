"""A one-line progress bar on stderr for `eye send`: how far through the input, events
read and acknowledged, and the rate."""

import time
from typing import TextIO

BAR_WIDTH = 24
# Redrawing more often than this costs time and shows nothing a person can read.
REDRAW_SECONDS = 0.1


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


class Progress:
    def __init__(self, out: TextIO, *, total_bytes: int | None, enabled: bool) -> None:
        self.out = out
        self.total_bytes = total_bytes or None
        self.enabled = enabled
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self._width = 0

    def due(self) -> bool:
        """Whether a redraw would show anything; lets the caller skip gathering numbers."""
        return self.enabled and time.monotonic() - self._drawn_at >= REDRAW_SECONDS

    def update(self, *, bytes_read: int, read: int, sent: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < REDRAW_SECONDS:
            return
        self._drawn_at = now
        elapsed = max(now - self.started, 1e-9)
        parts = []
        if self.total_bytes:
            fraction = min(1.0, bytes_read / self.total_bytes)
            filled = int(fraction * BAR_WIDTH)
            parts.append(f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%}")
        parts.append(f"{read:,} read")
        parts.append(f"{sent:,} sent")
        parts.append(f"{sent / elapsed:,.0f} events/s")
        parts.append(_duration(elapsed))
        line = "  ".join(parts)
        # Pad over the tail of a longer previous line.
        self.out.write("\r" + line.ljust(self._width))
        self.out.flush()
        self._width = len(line)

    def finish(self, *, bytes_read: int, read: int, sent: int) -> None:
        if not self.enabled:
            return
        self.update(bytes_read=bytes_read, read=read, sent=sent, force=True)
        self.out.write("\n")
        self.out.flush()
