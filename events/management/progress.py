"""A progress bar for long management commands: done/total, rate and time left."""

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(
        self, total: int, *, unit: str = "events", stream: TextIO | None = None, width: int = 30
    ) -> None:
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.started = time.monotonic()

    def advance(self, count: int) -> None:
        self.done += count
        self.draw()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(self.width * min(self.done / self.total, 1.0))
        bar = "#" * filled + "-" * (self.width - filled)
        return (
            f"[{bar}] {self.done:,}/{self.total:,} {self.unit} "
            f"{rate:,.0f}/s, {elapsed:.0f} s elapsed, about {left:.0f} s left"
        )

    def draw(self) -> None:
        # Redrawn in place on a terminal; one line per step in a log or a pipe.
        end = "\r" if self.stream.isatty() else "\n"
        self.stream.write(self.line() + end)
        self.stream.flush()

    def finish(self) -> None:
        if self.stream.isatty():
            self.stream.write("\n")
            self.stream.flush()
