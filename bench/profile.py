"""Where the time goes: py-spy samples of a web worker and of the consumer during a load.

Only with `--profile`, in a run of its own after the measured ones (sampling costs CPU on
a 2-core machine, so profiled figures are not the reported ones). py-spy writes collapsed
stacks (`--format raw`, idle threads left out), kept beside the run's logs; the summary is
each function's share of the samples, on its own (self) and with what it calls (total).
"""

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

LINE_NUMBER = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def stacks_dump(pids: list[int], path: Path) -> bool:
    """`py-spy dump` of each process into `path`: where a stuck worker is waiting."""
    spy = py_spy()
    if spy is None:
        return False
    with open(path, "a") as out:
        for pid in pids:
            out.write(f"--- py-spy dump --pid {pid}\n")
            out.flush()
            subprocess.run(
                [spy, "dump", "--pid", str(pid)],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=30,
                check=False,
            )
    return True


def profile_start(
    *, pid: int, name: str, seconds: float, out_dir: Path, gil: bool = False
) -> subprocess.Popen:
    """py-spy record of `pid` and its children for `seconds`, into out_dir/profile-NAME.txt;
    with `gil`, only the samples of the thread holding the GIL."""
    command = [
        py_spy() or "py-spy",
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--nonblocking",
        "--rate",
        "100",
        "--duration",
        str(int(seconds)),
        "--format",
        "raw",
        "--output",
        str(out_dir / f"profile-{name}.txt"),
        *(["--gil"] if gil else []),
    ]
    with open(out_dir / f"profile-{name}.log", "w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def profile_summary(path: Path, *, top: int = 12) -> dict:
    """Where the samples of a collapsed-stack file went: by library (self time, grouped by
    the top-level package of the innermost frame), by function (self), and through the
    project's own functions (inclusive)."""
    own: Counter[str] = Counter()
    library: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    samples = 0
    if not path.exists():
        return {"error": f"{path.name} was not written; see its .log"}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        weight = int(count)
        # With --subprocesses, the outer frames name the processes; the rest are Python's.
        frames = [
            LINE_NUMBER.sub(")", frame)
            for frame in stack.split(";")
            if not frame.startswith("process ")
        ]
        if not frames:
            continue
        samples += weight
        own[frames[-1]] += weight
        library[_package(frames[-1])] += weight
        for frame in set(frames):
            if _package(frame) in PROJECT:
                ours[frame] += weight

    def share(counter: Counter[str]) -> list[list]:
        return [[f, round(100 * c / samples, 1)] for f, c in counter.most_common(top)]

    if not samples:
        return {}
    return {
        "samples": samples,
        "by_library": share(library),
        "self": share(own),
        "project_inclusive": share(ours),
    }


PROJECT = {"api", "events", "tasks", "eye", "dashboard"}


def _package(frame: str) -> str:
    """ "send (redis/connection.py)" -> "redis"; "<module> (manage.py)" -> "manage.py"."""
    location = frame.rpartition("(")[2].rstrip(")")
    return location.split("/", 1)[0] if "/" in location else location


def profile_text(summaries: dict[str, dict]) -> str:
    lines = [
        "",
        "Profile (py-spy during a separate single-event load; share of the samples in which",
        "a thread was not idle; a blocking socket read may still count as not idle)",
    ]
    sections = (
        ("by_library", "self time by package"),
        ("self", "self time by function"),
        ("project_inclusive", "inclusive time of the project's functions"),
    )
    for name, summary in summaries.items():
        if not summary or "error" in summary:
            lines.append(f"   {name}: {(summary or {}).get('error', 'no samples')}")
            continue
        lines.append(f"   {name}: {summary['samples']:,} samples")
        for key, title in sections:
            lines.append(f"     {title}:")
            lines.extend(f"      {pct:5.1f}%  {frame}" for frame, pct in summary[key])
    return "\n".join(lines)
