"""`eye query`: filters as flags; table, JSON or NDJSON on stdout."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.client.support import SESSION, process_env, put_events, run_eye
from tests.support import wait_for

START = datetime(2021, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def five(web_app, store) -> None:
    put_events(
        web_app,
        [
            {
                "name": f"event {i}",
                "timestamp": START + timedelta(minutes=i),
                "category": "odd" if i % 2 else "even",
                "data": {"i": i},
            }
            for i in range(5)
        ],
    )


def test_it_prints_json(cli_env, five):
    finished = run_eye("query", "--format", "json", env=cli_env)

    assert finished.returncode == 0, finished.stderr
    events = json.loads(finished.stdout)
    assert [e["name"] for e in events] == ["event 4", "event 3", "event 2", "event 1", "event 0"]
    from events.models import Event

    assert events[0] == {
        "session_id": SESSION,
        "timestamp": "2021-01-01T09:04:00.000000Z",
        "category": "even",
        "name": "event 4",
        "data": {"i": 4},
        "event_id": str(Event.objects.get(name="event 4").event_id),
        "application": "web",
    }


def test_it_prints_a_table_and_says_how_many_are_left(cli_env, five):
    finished = run_eye("query", "--limit", "3", env=cli_env)

    assert finished.returncode == 0, finished.stderr
    header, *rows = finished.stdout.splitlines()
    assert header.split() == ["TIMESTAMP", "SESSION_ID", "CATEGORY", "NAME", "DATA"]
    assert len(rows) == 3
    assert rows[0].split() == [
        "2021-01-01T09:04:00.000000Z",
        SESSION,
        "even",
        "event",
        "4",
        '{"i":4}',
    ]
    # The columns line up under the header.
    assert rows[0].index("even") == header.index("CATEGORY")
    assert "3 of 5 events" in finished.stderr


def test_its_table_spells_control_characters_as_escapes(cli_env, web_app):
    # Whoever holds a write key picks these: printed raw they would be terminal commands
    # (OSC 52 writes the clipboard) or reorder what the reader sees.
    put_events(
        web_app,
        [
            {
                "name": "evil\u202etxt.exe",
                "category": "a\x1b]52;c;aGk=\x07b",
                "timestamp": START,
                "data": {"k": "\x9b31m"},
            }
        ],
    )

    table = run_eye("query", env=cli_env)
    as_json = run_eye("query", "--format", "json", env=cli_env)

    assert table.returncode == 0, table.stderr
    [row] = table.stdout.splitlines()[1:]
    assert not any(c in row for c in "\x1b\x07\x9b\u202e"), repr(row)
    assert row.split()[2:] == ["a\\x1b]52;c;aGk=\\x07b", "evil\\u202etxt.exe", '{"k":"\\x9b31m"}']
    # The formats for programs keep every character.
    [event] = json.loads(as_json.stdout)
    assert (event["category"], event["name"]) == ("a\x1b]52;c;aGk=\x07b", "evil\u202etxt.exe")
    assert event["data"] == {"k": "\x9b31m"}


def test_it_prints_ndjson_of_the_filtered_events(cli_env, five):
    finished = run_eye(
        "query",
        "--category",
        "odd",
        "--start",
        "2021-01-01T09:02:00Z",
        "--end",
        "2021-01-01",
        "--format",
        "ndjson",
        env=cli_env,
    )

    assert finished.returncode == 0, finished.stderr
    events = [json.loads(line) for line in finished.stdout.splitlines()]
    assert [e["name"] for e in events] == ["event 3"]


def test_it_passes_the_application_on(cli_env, five, mobile_app):
    own = run_eye("query", "--application", "web", "--format", "ndjson", env=cli_env)
    other = run_eye("query", "--application", "mobile", env=cli_env)

    assert own.returncode == 0, own.stderr
    assert {json.loads(line)["application"] for line in own.stdout.splitlines()} == {"web"}
    assert len(own.stdout.splitlines()) == 5
    # The key reads its own application only: a refusal of its rights.
    assert other.returncode == 3, other.stderr
    assert "reads only its own application" in other.stderr


def test_what_it_prints_as_ndjson_can_be_sent_again_into_another_application(
    cli_env, five, mobile_app, consumer
):
    from events.models import Event

    exported = run_eye("query", "--format", "ndjson", env=cli_env)
    assert exported.returncode == 0, exported.stderr
    assert '"application": "web"' in exported.stdout or '"application":"web"' in exported.stdout

    sent = run_eye("send", "-", input=exported.stdout, env={**cli_env, "EYE_KEY": mobile_app.both})

    # The key decides the application: the same five events, now mobile's too.
    assert sent.returncode == 0, sent.stderr
    assert "sent 5 of 5 events" in sent.stderr
    mobile = Event.objects.filter(application_id=mobile_app.application.pk)
    assert wait_for(lambda: mobile.count() == 5, timeout=30)
    web_ids = set(Event.objects.filter(application__name="web").values_list("event_id", flat=True))
    assert set(mobile.values_list("event_id", flat=True)) == web_ids


def test_its_table_names_the_application_when_events_come_from_several(cli_env, five, mobile_app):
    from events.keys import api_key_create

    put_events(mobile_app, [{"name": "event 4", "timestamp": START + timedelta(minutes=4)}])
    _, operator_key = api_key_create(
        application=mobile_app.application,
        can_read=True,
        can_write=False,
        can_read_all_applications=True,
    )

    several = run_eye("query", "--limit", "2", env={**cli_env, "EYE_KEY": operator_key})
    one = run_eye("query", "--limit", "2", env=cli_env)

    assert several.returncode == 0, several.stderr
    header, *rows = several.stdout.splitlines()
    assert header.split()[:3] == ["TIMESTAMP", "SESSION_ID", "APPLICATION"]
    assert sorted(row.split()[2] for row in rows) == ["mobile", "web"]
    assert one.stdout.splitlines()[0].split()[:3] == ["TIMESTAMP", "SESSION_ID", "CATEGORY"]


def test_it_reads_every_page_with_all(cli_env, web_app):
    put_events(
        web_app, [{"name": f"e{i}", "timestamp": START + timedelta(seconds=i)} for i in range(1500)]
    )

    finished = run_eye("query", "--all", "--format", "ndjson", env=cli_env)

    assert finished.returncode == 0, finished.stderr
    assert len(finished.stdout.splitlines()) == 1500


def test_it_refuses_a_limit_and_all_at_once(cli_env, five):
    finished = run_eye("query", "--all", "--limit", "2", env=cli_env)

    assert finished.returncode == 2
    assert "--limit and --all exclude each other" in finished.stderr
    assert finished.stdout == ""


def test_it_prints_a_hundred_without_a_limit(cli_env, web_app):
    put_events(
        web_app, [{"name": f"e{i}", "timestamp": START + timedelta(seconds=i)} for i in range(150)]
    )

    finished = run_eye("query", "--format", "ndjson", env=cli_env)

    assert finished.returncode == 0, finished.stderr
    assert len(finished.stdout.splitlines()) == 100


def test_it_says_so_when_nothing_matches(cli_env, five):
    finished = run_eye("query", "--name", "nothing like it", env=cli_env)

    assert finished.returncode == 0
    assert finished.stdout == ""
    assert "no events match" in finished.stderr


def test_it_names_the_bad_filter(cli_env):
    finished = run_eye("query", "--session-id", "not-a-session", env=cli_env)

    assert finished.returncode == 1
    assert "session_id: is not a valid UUID" in finished.stderr


def test_it_exits_3_for_a_key_without_read_rights(eye_url, web_app):
    env = process_env(EYE_URL=eye_url, EYE_KEY=web_app.writer)

    finished = run_eye("query", env=env)

    assert finished.returncode == 3
    assert "needs read rights" in finished.stderr


def test_it_stops_quietly_when_the_reader_goes_away(cli_env, web_app):
    import subprocess
    import sys

    from tests.client.support import CLIENT_DIR

    put_events(
        web_app, [{"name": f"e{i}", "timestamp": START + timedelta(seconds=i)} for i in range(3000)]
    )
    # `eye query --all | head -1`: the pipe closes long before the output ends.
    process = subprocess.Popen(
        [sys.executable, "-m", "eye_client", "query", "--all", "--format", "ndjson"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
        cwd=CLIENT_DIR,
    )
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["name"] == "e2999"
    process.stdout.close()

    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""
