"""Every shell command of the README runs, as written, against a started Eye.

Each fenced block marked `sh`, `bash`, `shell` or `console` is run, in the README's order
and in one bash (so that `KEY=...` in one block serves the next), from the checkout's
root, against an Eye that this test starts as `make run` does (`python -m eye.serve`, on
a data directory of its own). A block fails the test when one of its commands fails
(`set -e -o pipefail`). What the harness does besides, and nothing else:

- `http://127.0.0.1:8000`, the README's address, becomes the started Eye's address;
- `curl` fails on an HTTP error status (it is run with `--fail-with-body`), as a reader
  would see an error body where the README shows a success;
- every question a command asks is answered "y", as the reader who runs it would.

A block that cannot run in a test (`make run` itself, Docker, a command that runs until
Ctrl-C, a long benchmark; any block calling `make`) says so on the line right before its
opening fence, with the reason, and is left out: `<!-- readme-test: skip: the reason -->`.
"""

import contextlib
import os
import re
import signal
import subprocess
from dataclasses import dataclass

import pytest

from tests.ops.test_make_run import UNSET_ON_A_NEW_MACHINE
from tests.support import ROOT

README = ROOT / "README.md"
SHELLS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
SKIP = re.compile(r"<!--\s*readme-test:\s*skip:\s*(?P<reason>.*?)\s*-->")
README_URL = "http://127.0.0.1:8000"
# Files the README's commands may leave in the checkout, removed afterwards.
LEFT_BEHIND = ["events.ndjson"]


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    text: str
    skip_reason: str | None


def readme_shell_blocks() -> list[Block]:
    blocks = []
    lines = README.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if opening["lang"] in SHELLS:
            indent = len(opening["indent"])
            body = "\n".join(line[indent:] for line in lines[index + 1 : end])
            before = lines[index - 1] if index else ""
            skip = SKIP.search(before)
            blocks.append(Block(index + 1, body, skip["reason"] if skip else None))
        index = end + 1
    return blocks


def script_of(blocks: list[Block], url: str) -> str:
    parts = [
        "set -e -o pipefail",
        'curl() { command curl --fail-with-body "$@"; }',
        "trap 'echo \"README block at line $README_LINE failed\" >&2' ERR",
    ]
    for block in blocks:
        parts += [
            f"README_LINE={block.line}",
            f"echo '### README block at line {block.line}'",
            block.text.replace(README_URL, url),
        ]
    return "\n".join(parts) + "\n"


def test_it_gives_a_reason_for_every_block_it_does_not_run():
    blocks = readme_shell_blocks()
    assert len([b for b in blocks if b.skip_reason is None]) >= 4
    for block in blocks:
        if block.skip_reason is not None:
            assert len(block.skip_reason) > 10, f"line {block.line}: say why it cannot run"
        else:
            # make's targets serve until Ctrl-C, run the suite or load for minutes: none
            # belongs in this test unannounced.
            commands = [line.strip() for line in block.text.splitlines()]
            assert not any(c.startswith("make ") or c == "make" for c in commands), (
                f"README line {block.line} runs make: mark the block with "
                "<!-- readme-test: skip: REASON --> (or run the command it stands for)"
            )


# It starts an Eye on a database of its own: either pass of `make test` runs the same test.
@pytest.mark.own_database
def test_every_shell_block_of_the_readme_runs_as_written(eye, tmp_path):
    eye.start()
    blocks = [b for b in readme_shell_blocks() if b.skip_reason is None]
    # The reader's shell: nothing configured but where this Eye keeps its state.
    env = {k: v for k, v in os.environ.items() if k not in UNSET_ON_A_NEW_MACHINE}
    env["EYE_DATA_DIR"] = str(eye.data_dir)
    untracked_before = untracked_files()
    answers = subprocess.Popen(["yes", "y"], stdout=subprocess.PIPE)
    # A session of its own, so that whatever a block starts (and leaves running, if it
    # fails or hangs) goes with it.
    shell = subprocess.Popen(
        ["bash", "-c", script_of(blocks, eye.url)],
        cwd=ROOT,
        env=env,
        stdin=answers.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = shell.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()
        answers.kill()
        answers.wait()
        for name in LEFT_BEHIND:
            (ROOT / name).unlink(missing_ok=True)
    output = stdout + stderr
    assert shell.returncode == 0, (
        f"{output[-6000:]}\nA README command failed (above). If its block cannot run in a "
        "test, put <!-- readme-test: skip: REASON --> on the line before its fence."
    )
    for block in blocks:
        assert f"### README block at line {block.line}" in stdout
    assert untracked_files() == untracked_before, "a README command left files behind"
    eye.stop()


def untracked_files() -> set[str]:
    listing = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listing.stdout.split())
