"""The supervisor's record of its children (`make run`'s web server and queue consumer):
written by eye/serve.py whenever one of them dies or comes back, read by /api/health.

Under compose there is no such supervisor (the container runtime restarts what dies), no
record, and nothing about processes in the health answer.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RECORD_NAME = "processes.json"


@dataclass(frozen=True)
class ProcessState:
    name: str
    state: str  # "running" or "restarting"
    restarts: int
    last_exit: str | None  # how it last ended: "exit 1", "SIGKILL"


def processes_record(*, data_dir: Path, states: list[ProcessState]) -> None:
    """Replace the record at once (a reader never sees half of one)."""
    path = data_dir / RECORD_NAME
    partial = path.with_suffix(".tmp")
    partial.write_text(
        json.dumps({"supervisor": os.getpid(), "processes": [asdict(s) for s in states]})
    )
    partial.replace(path)


def processes_forget(*, data_dir: Path) -> None:
    (data_dir / RECORD_NAME).unlink(missing_ok=True)


def processes_read(*, data_dir: Path) -> list[ProcessState] | None:
    """The children's states, or None when no supervisor runs on this host for this data
    directory (compose, or a record left by a supervisor that was itself killed)."""
    try:
        record = json.loads((data_dir / RECORD_NAME).read_text())
        os.kill(record["supervisor"], 0)
        return [ProcessState(**state) for state in record["processes"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
