"""One log line per request and per worker batch, sharing the request id; JSON on demand."""

import json
import logging
import subprocess
import sys

from eye.logs import JsonFormatter
from tests.support import ROOT, SEED_EVENT


def test_it_follows_a_request_id_from_the_request_into_the_worker(api, web_app, drain, caplog):
    caplog.set_level(logging.INFO)

    api.post([SEED_EVENT] * 3, key=web_app.writer, headers={"X-Request-ID": "trace-abc-123"})
    drain()

    [request_line] = [r for r in caplog.records if r.name == "eye.request"]
    [worker_line] = [r for r in caplog.records if r.name == "eye.worker"]
    assert request_line.request_id == worker_line.request_id == "trace-abc-123"
    assert request_line.status == 202
    assert request_line.application_id == web_app.application.pk
    assert (worker_line.events, worker_line.stored, worker_line.duplicates) == (3, 3, 0)


def test_it_writes_json_lines_with_the_extra_fields():
    record = logging.makeLogRecord(
        {
            "name": "eye.request",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "POST %s %s",
            "args": ("/api/event/", 202),
            "request_id": "trace-1",
            "duration_ms": 1.5,
        }
    )

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "POST /api/event/ 202"
    assert line["request_id"] == "trace-1"
    assert line["duration_ms"] == 1.5
    assert line["level"] == "INFO"


def test_it_logs_json_when_asked_to():
    probe = (
        "import django, logging; django.setup(); "
        "logging.getLogger('eye.worker').info('hello', extra={'request_id': 'r-1'})"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={
            **__import__("os").environ,
            "DJANGO_SETTINGS_MODULE": "eye.settings",
            "EYE_LOG_FORMAT": "json",
        },
    )

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["request_id"] == "r-1"
    assert line["logger"] == "eye.worker"
