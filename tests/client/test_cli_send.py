"""`eye send`: one event from flags, or NDJSON from a file or stdin, configured by
EYE_URL and EYE_KEY, with exit codes that say what went wrong."""

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from events.models import Event
from tests.client.support import CLIENT_DIR, SESSION, process_env, run_eye, stored_names
from tests.support import free_port, wait_for


def ndjson(events: list[dict]) -> str:
    return "".join(json.dumps(event) + "\n" for event in events)


def lines(count: int, category: str = "cli") -> list[dict]:
    return [
        {"session_id": SESSION, "category": category, "name": f"line {i:04}"} for i in range(count)
    ]


def test_it_sends_one_event_from_flags(cli_env, consumer):
    finished = run_eye(
        "send",
        "--session-id",
        SESSION,
        "--category",
        "page interaction",
        "--name",
        "cta click",
        "--data",
        '{"path": "/", "element": "chat bubble"}',
        "--timestamp",
        "2021-01-01 09:15:27.243860",
        env=cli_env,
    )

    assert finished.returncode == 0, finished.stderr
    event_id = finished.stdout.strip()
    assert wait_for(lambda: Event.objects.filter(event_id=event_id).exists(), timeout=30)
    stored = Event.objects.get(event_id=event_id)
    assert (stored.category, stored.name) == ("page interaction", "cta click")
    assert stored.data == {"path": "/", "element": "chat bubble"}
    assert stored.timestamp == datetime(2021, 1, 1, 9, 15, 27, 243860, tzinfo=UTC)


def test_it_sends_ndjson_from_stdin_given_as_a_dash(cli_env, consumer):
    text = ndjson(lines(30)) + "\n"  # a blank line is skipped, not an error

    finished = run_eye("send", "-", input=text, env=cli_env)

    assert finished.returncode == 0, finished.stderr
    assert "sent 30 of 30 events" in finished.stderr
    assert wait_for(lambda: len(stored_names()) >= 30, timeout=30)
    assert stored_names() == [f"line {i:04}" for i in range(30)]


def test_it_reads_ndjson_from_stdin_when_stdin_is_not_a_terminal(cli_env):
    finished = run_eye("send", input=ndjson(lines(3)), env=cli_env)

    assert finished.returncode == 0, finished.stderr
    assert "sent 3 of 3 events" in finished.stderr


def test_it_shows_progress_while_sending_a_file(cli_env, tmp_path, consumer):
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(lines(2000)))

    finished = run_eye("send", str(path), "--progress", "--batch-size", "250", env=cli_env)

    assert finished.returncode == 0, finished.stderr
    bar = finished.stderr.split("\r")[-1]
    assert "100%" in bar and "2,000 sent" in bar and "events/s" in bar
    assert wait_for(lambda: len(stored_names()) >= 2000, timeout=30)
    assert len(stored_names()) == 2000


def test_it_names_the_lines_it_could_not_send(cli_env, consumer):
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    text = "\n".join(
        [
            json.dumps({"session_id": SESSION, "category": "cli", "name": "good 1"}),
            "{not json",
            json.dumps({"session_id": SESSION, "category": "cli", "name": "x", "colour": 1}),
            json.dumps({"session_id": SESSION, "category": "cli", "name": "good 2"}),
            json.dumps(
                {"session_id": SESSION, "category": "cli", "name": "late", "timestamp": future}
            ),
            json.dumps({"session_id": SESSION, "category": "cli", "name": "good 3"}),
            json.dumps({"session_id": SESSION, "category": "cli"}),
        ]
    )

    finished = run_eye("send", "-", input=text, env=cli_env)

    assert finished.returncode == 1
    assert "line 2: not JSON" in finished.stderr
    assert "line 3: unknown field colour" in finished.stderr
    assert "line 5: refused: timestamp: is more than 300 seconds in the future" in finished.stderr
    assert "line 7: missing name" in finished.stderr
    assert "sent 3 of 4 events, 1 refused, 3 invalid lines" in finished.stderr
    assert wait_for(lambda: len(stored_names()) >= 3, timeout=30)
    assert stored_names() == ["good 1", "good 2", "good 3"]


def test_it_says_what_json_cannot_carry_in_the_words_of_the_file(cli_env, consumer):
    good = {"session_id": SESSION, "category": "cli"}
    head = json.dumps({**good, "name": "x"})[:-1]
    text = "\n".join(
        [
            head + ', "data": {"n": 1e400}}',
            head + ', "data": {"n": NaN}}',
            head.replace('"x"', '"x\\ud800"') + "}",
            # A whole pair, escaped as ensure_ascii writes it: an emoji, sent.
            json.dumps({**good, "name": "pair \U0001f600"}),
            json.dumps({**good, "name": "latin-1 \xe9"}).replace("\\u00e9", "\udce9"),
        ]
    )
    raw = text.encode("utf-8", "surrogateescape")

    finished = subprocess.run(
        [sys.executable, "-m", "eye_client", "send", "-"],
        input=raw,
        capture_output=True,
        env=cli_env,
        cwd=CLIENT_DIR,
        timeout=60,
    )

    errors = finished.stderr.decode()
    assert finished.returncode == 1, errors
    assert "line 1: the number 1e400 is too large for JSON to carry" in errors
    assert "line 2: NaN is not a JSON value" in errors
    assert "line 3: holds \\ud800, half of a UTF-16 surrogate pair, which is not text" in errors
    assert "line 5: not UTF-8 text" in errors
    assert "sent 1 of 1 events, 4 invalid lines" in errors
    assert wait_for(lambda: stored_names() == ["pair \U0001f600"], timeout=30)


def test_it_skips_a_byte_order_mark(cli_env, tmp_path, consumer):
    marked_blank = tmp_path / "blank.ndjson"
    marked_blank.write_bytes(b"\xef\xbb\xbf\r\n" + ndjson(lines(2)).encode())
    marked_line = tmp_path / "line.ndjson"
    marked_line.write_bytes(b"\xef\xbb\xbf" + ndjson(lines(1, category="marked")).encode())

    first = run_eye("send", str(marked_blank), env=cli_env)
    second = run_eye("send", str(marked_line), env=cli_env)

    assert first.returncode == 0, first.stderr
    assert "sent 2 of 2 events" in first.stderr
    assert second.returncode == 0, second.stderr
    assert wait_for(lambda: len(stored_names()) >= 3, timeout=30)
    assert stored_names() == ["line 0000", "line 0000", "line 0001"]


def test_it_refuses_utf16_and_sends_none_of_it(cli_env, tmp_path, consumer):
    wide = tmp_path / "wide.ndjson"
    wide.write_bytes(ndjson(lines(3, category="wide")).encode("utf-16"))
    without_mark = tmp_path / "le.ndjson"
    without_mark.write_bytes(ndjson(lines(3, category="wide")).encode("utf-16-le"))

    refused = [run_eye("send", str(path), env=cli_env) for path in (wide, without_mark)]
    # Sent after: once it is stored, anything sent before it would be too.
    after = run_eye("send", "-", input=ndjson(lines(1, category="after")), env=cli_env)

    for finished in refused:
        assert finished.returncode == 1
        assert "the input is not UTF-8" in finished.stderr
        assert "nothing was sent" in finished.stderr
    assert after.returncode == 0, after.stderr
    assert wait_for(lambda: stored_names() == ["line 0000"], timeout=30)
    assert Event.objects.filter(category="wide").count() == 0


def test_it_names_lines_that_carry_their_own_event_id(cli_env):
    mine = str(uuid.uuid4())
    text = ndjson(
        [
            {"session_id": SESSION, "category": "cli", "name": "fine"},
            {"session_id": "nope", "category": "cli", "name": "bad", "event_id": mine},
        ]
    )

    finished = run_eye("send", "-", input=text, env=cli_env)

    assert finished.returncode == 1
    assert "line 2: refused: session_id" in finished.stderr


def test_it_says_which_setting_is_missing(eye_url, web_app):
    no_url = run_eye("send", input=ndjson(lines(1)), env=process_env(EYE_KEY=web_app.writer))
    no_key = run_eye("send", input=ndjson(lines(1)), env=process_env(EYE_URL=eye_url))

    assert no_url.returncode == 2 and "set EYE_URL or pass --url" in no_url.stderr
    assert no_key.returncode == 2 and "set EYE_KEY or pass --key" in no_key.stderr


def test_it_lets_flags_override_the_environment(eye_url, web_app):
    env = process_env(EYE_URL=f"http://127.0.0.1:{free_port()}", EYE_KEY="eye_wrong")

    finished = run_eye(
        "--url", eye_url, "send", "--key", web_app.writer, input=ndjson(lines(2)), env=env
    )

    assert finished.returncode == 0, finished.stderr
    assert "sent 2 of 2 events" in finished.stderr


def test_it_exits_3_for_a_key_without_write_rights(eye_url, web_app):
    env = process_env(EYE_URL=eye_url, EYE_KEY=web_app.reader)

    finished = run_eye("send", "--session-id", SESSION, "--category", "c", "--name", "n", env=env)

    assert finished.returncode == 3
    assert "needs write rights" in finished.stderr


def test_it_exits_4_when_the_eye_cannot_be_reached(web_app):
    env = process_env(EYE_URL=f"http://127.0.0.1:{free_port()}", EYE_KEY=web_app.writer)

    finished = run_eye(
        "send", "--retries", "1", "--session-id", SESSION, "--category", "c", "--name", "n", env=env
    )

    assert finished.returncode == 4
    assert "ConnectError" in finished.stderr


def test_it_refuses_bad_flags_before_sending(cli_env):
    not_object = run_eye(
        "send",
        "--session-id",
        SESSION,
        "--category",
        "c",
        "--name",
        "n",
        "--data",
        "[1]",
        env=cli_env,
    )
    not_json = run_eye(
        "send",
        "--session-id",
        SESSION,
        "--category",
        "c",
        "--name",
        "n",
        "--data",
        "{",
        env=cli_env,
    )
    incomplete = run_eye("send", "--category", "c", env=cli_env)
    # Event flags with NDJSON on stdin are a mistake to point out, not to ignore.
    stray = run_eye("send", "--data", "{}", input=ndjson(lines(1)), env=cli_env)

    assert not_object.returncode == 2 and "must be a JSON object" in not_object.stderr
    assert not_json.returncode == 2 and "--data is not JSON" in not_json.stderr
    assert incomplete.returncode == 2 and "missing --session-id, --name" in incomplete.stderr
    assert stray.returncode == 2 and "missing --session-id, --category, --name" in stray.stderr


def test_it_stops_reading_once_the_eye_cannot_be_reached(web_app):
    env = process_env(EYE_URL=f"http://127.0.0.1:{free_port()}", EYE_KEY=web_app.writer)
    started = time.monotonic()

    finished = run_eye("send", "--retries", "1", "-", input=ndjson(lines(20_000)), env=env)

    assert finished.returncode == 4
    assert time.monotonic() - started < 20
    assert "not delivered" in finished.stderr
    # Every event read is accounted for, and so are the lines never read.
    summary = re.search(
        r"sent 0 of ([\d,]+) events, ([\d,]+) not delivered(?:, ([\d,]+) not known to have "
        r"arrived)?; stopped before line ([\d,]+): it and the lines after it were not sent",
        finished.stderr,
    )
    assert summary, finished.stderr
    read, dropped, unknown, stopped = (int((g or "0").replace(",", "")) for g in summary.groups())
    assert dropped + unknown == read
    assert stopped == read + 1 < 20_000


def test_after_ctrl_c_every_line_before_the_one_it_names_is_sent_and_none_after(
    cli_env, consumer, tmp_path
):
    # Ctrl-C mostly lands while a line waits for room in the buffer: that line is the one
    # to resume from, so that resuming there loses nothing and sends nothing twice.
    source = tmp_path / "many.ndjson"
    source.write_text(
        "".join(
            json.dumps({"session_id": SESSION, "category": "cli", "name": "n", "data": {"i": i}})
            + "\n"
            for i in range(50_000)
        )
    )
    sending = subprocess.Popen(
        [sys.executable, "-m", "eye_client", "send", "--no-progress", "--batch-size", "20",
         str(source)],
        env=cli_env, cwd=CLIENT_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.5)
    sending.send_signal(signal.SIGINT)
    _, stderr = sending.communicate(timeout=60)

    assert sending.returncode == 130, stderr
    stopped_before = int(re.search(r"stopped before line ([\d,]+)", stderr)[1].replace(",", ""))
    sent = int(re.search(r"sent ([\d,]+) of", stderr)[1].replace(",", ""))
    assert 1 < stopped_before <= 50_000
    if sent < stopped_before - 1:
        # Read but still in the buffer when it closed: named, to be sent again.
        assert f"(lines {sent + 1}-{stopped_before - 1}): dropped" in stderr, stderr

    def stored() -> set[int]:
        return {data["i"] for data in Event.objects.values_list("data", flat=True)}

    assert wait_for(lambda: len(stored()) >= sent, timeout=30)
    time.sleep(1)
    assert stored() == set(range(sent))
