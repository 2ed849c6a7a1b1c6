"""Export of the current Explore filter, streamed as CSV or NDJSON."""

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.urls import reverse

from dashboard.exports import export_progress_track
from events.insight_sql import EXPORT_SLOTS
from events.services import EventRow
from tests.dashboard.support import NOW, SESSION_A, SESSION_B, raw
from tests.support import another_connection, slot_release, slots_hold

CSV_URL = reverse("dashboard:export_csv")
NDJSON_URL = reverse("dashboard:export_ndjson")


def body(response) -> str:
    assert response.streaming, "exports must stream, not build the file in memory"
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def stored(put, web_app, mobile_app):
    put(web_app, NOW - timedelta(hours=3), data={"path": "/", "note": 'a "quoted", text'})
    put(web_app, NOW - timedelta(hours=2), name="cta click", data={"element": "chat bubble"})
    put(mobile_app, NOW - timedelta(hours=1), session=SESSION_B, category="form interaction")
    put(web_app, NOW - timedelta(days=40), data={"path": "/old"})


def test_it_exports_the_filter_as_csv_newest_first(as_alice, stored):
    response = as_alice.get(CSV_URL, {"range": "7d", "session": str(SESSION_A)})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="eye-events-7d-e2085be5'
    )
    rows = list(csv.DictReader(io.StringIO(body(response))))
    expected = raw(
        "SELECT event_id, timestamp, name, data FROM events WHERE session_id = %s "
        "AND timestamp >= %s ORDER BY timestamp DESC, event_id DESC",
        [SESSION_A, NOW - timedelta(days=8)],
    )
    assert [r["event_id"] for r in rows] == [str(e[0]) for e in expected]
    assert [r["timestamp"] for r in rows] == [e[1].isoformat() for e in expected]
    assert [json.loads(r["data"]) for r in rows] == [json.loads(e[3]) for e in expected]
    assert rows[0]["application"] == "web"
    assert rows[0]["session_id"] == str(SESSION_A)
    assert list(rows[0]) == [
        "timestamp",
        "event_id",
        "session_id",
        "application",
        "category",
        "name",
        "data",
        "received_at",
    ]


def test_it_exports_the_filter_as_ndjson(as_alice, stored):
    response = as_alice.get(NDJSON_URL, {"range": "all", "category": "form interaction"})

    assert response["Content-Type"] == "application/x-ndjson"
    lines = body(response).splitlines()
    [event] = [json.loads(line) for line in lines]
    assert event["application"] == "mobile"
    assert event["session_id"] == str(SESSION_B)
    assert event["category"] == "form interaction"
    assert event["timestamp"].endswith("Z")


def test_it_exports_every_matching_event_across_many_chunks(as_alice, put, web_app):
    rows = [
        EventRow(
            str(uuid.uuid4()),
            NOW - timedelta(seconds=i),
            str(SESSION_A),
            "page interaction",
            "pageview",
            json.dumps({"i": i}),
        )
        for i in range(4_500)
    ]
    put.many(web_app, rows)

    lines = body(as_alice.get(NDJSON_URL, {"range": "24h"})).splitlines()

    assert len(lines) == 4_500
    assert [json.loads(line)["data"]["i"] for line in lines] == list(range(4_500))


def test_it_exports_nothing_but_the_header_for_an_empty_filter(as_alice, stored):
    text = body(as_alice.get(CSV_URL, {"name": "no such name"}))

    assert text.splitlines() == [
        "timestamp,event_id,session_id,application,category,name,data,received_at"
    ]


def test_it_refuses_an_invalid_filter(as_alice, db):
    response = as_alice.get(CSV_URL, {"session": "nope"})

    assert response.status_code == 400
    assert b"session: Enter a valid UUID." in response.content


def test_it_links_the_exports_from_explore_with_the_same_filter(as_alice, stored):
    page = as_alice.get(reverse("dashboard:explore"), {"range": "30d", "name": "pageview"})

    html = page.content.decode()
    assert f'href="{CSV_URL}?range=30d&amp;name=pageview" download' in html
    assert f'href="{NDJSON_URL}?range=30d&amp;name=pageview" download' in html


FORMULAS = ['=HYPERLINK("https://evil.example","open")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.fixture
def formulas(put, db):
    from events.models import Application
    from tests.support import AppKeys

    sheet_app = AppKeys(Application.objects.create(name="=cmd|' /C calc'!A0"))
    for i, formula in enumerate(FORMULAS):
        put(
            sheet_app,
            NOW - timedelta(minutes=i + 1),
            category=formula,
            name=formula,
            data={"value": formula},
        )


def test_it_neutralises_cells_a_spreadsheet_would_run_as_formulas(as_alice, formulas):
    rows = list(csv.DictReader(io.StringIO(body(as_alice.get(CSV_URL, {"range": "24h"})))))

    assert len(rows) == len(FORMULAS)
    assert sorted(r["category"] for r in rows) == sorted("'" + f for f in FORMULAS)
    assert sorted(r["name"] for r in rows) == sorted("'" + f for f in FORMULAS)
    assert {r["application"] for r in rows} == {"'=cmd|' /C calc'!A0"}
    # A data cell is a JSON object, so it starts with "{" and holds the values verbatim.
    assert sorted(json.loads(r["data"])["value"] for r in rows) == sorted(FORMULAS)
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_it_keeps_ndjson_verbatim(as_alice, formulas):
    events = [
        json.loads(line) for line in body(as_alice.get(NDJSON_URL, {"range": "24h"})).splitlines()
    ]

    assert sorted(e["category"] for e in events) == sorted(FORMULAS)
    assert sorted(e["name"] for e in events) == sorted(FORMULAS)
    assert {e["application"] for e in events} == {"=cmd|' /C calc'!A0"}
    assert sorted(e["data"]["value"] for e in events) == sorted(FORMULAS)


def test_it_leaves_ordinary_cells_alone(as_alice, stored):
    rows = list(csv.DictReader(io.StringIO(body(as_alice.get(CSV_URL, {"range": "7d"})))))

    assert {r["category"] for r in rows} == {"page interaction", "form interaction"}
    assert {r["application"] for r in rows} == {"web", "mobile"}


PROGRESS_URL = reverse("dashboard:export_progress")
TOKEN = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"


@pytest.fixture
def many(put, web_app):
    rows = [
        EventRow(
            str(uuid.uuid4()),
            NOW - timedelta(seconds=i + 1),
            str(SESSION_A),
            "page interaction",
            "pageview",
            json.dumps({"path": f"/page/{i}", "i": i}),
        )
        for i in range(300)
    ]
    put.many(web_app, rows)


def test_it_shows_the_row_count_and_size_before_the_download(as_alice, many):
    page = as_alice.get(reverse("dashboard:explore"), {"range": "24h"})

    estimate = page.context["estimate"]
    assert (estimate.rows, estimate.exact) == (300, True)
    html = page.content.decode()
    assert 'data-export-rows="300"' in html
    assert "Export 300 events:" in html
    csv_size = len(body(as_alice.get(CSV_URL, {"range": "24h"})).encode())
    ndjson_size = len(body(as_alice.get(NDJSON_URL, {"range": "24h"})).encode())
    # Estimated from the 50 rows of the page: within a tenth of what the files weigh.
    assert abs(estimate.csv_bytes - csv_size) < csv_size / 10
    assert abs(estimate.ndjson_bytes - ndjson_size) < ndjson_size / 10
    assert "export-large" not in html


def test_it_says_when_an_export_will_be_large(as_alice, many, monkeypatch):
    monkeypatch.setattr("dashboard.exports.EXPORT_LARGE_BYTES", 10_000)

    html = as_alice.get(reverse("dashboard:explore"), {"range": "24h"}).content.decode()

    assert "A large export: 300 events, about" in html
    assert "a shorter range or a filter makes it smaller" in html


def test_it_counts_a_capped_export_as_at_least(as_alice, many, monkeypatch):
    monkeypatch.setattr("dashboard.views.explore.COUNT_CAP", 100)

    html = as_alice.get(
        reverse("dashboard:explore"), {"range": "24h", "key": "path"}
    ).content.decode()

    assert "Export 100+ events:" in html


def test_it_tells_the_row_count_before_the_first_byte(as_alice, many):
    response = as_alice.get(CSV_URL, {"range": "24h"})

    assert response["X-Eye-Export-Rows"] == "300"


def test_it_records_its_progress_while_it_streams(as_alice, many, monkeypatch):
    monkeypatch.setattr("dashboard.exports.PROGRESS_EVERY", 100)
    response = as_alice.get(NDJSON_URL, {"range": "24h", "progress": TOKEN})
    stream = iter(response.streaming_content)

    def progress() -> dict:
        answer = as_alice.get(PROGRESS_URL, {"token": TOKEN})
        assert answer.status_code == 200
        return answer.json()

    for _ in range(150):
        next(stream)
    assert progress() == {
        "started": True, "rows": 100, "total": 300, "done": False, "stopped": False
    }  # fmt: skip
    rest = list(stream)
    assert len(rest) == 150
    assert progress() == {
        "started": True, "rows": 300, "total": 300, "done": True, "stopped": False
    }  # fmt: skip


def test_its_progress_says_so_when_the_stream_ends_early(as_alice):
    # A WSGI server closes the stream of a client that went away (GeneratorExit inside);
    # a row that cannot be written ends it with an error.
    def failing() -> Iterator[int]:
        yield from range(120)
        raise ValueError("a row that cannot be written")

    cancelled = export_progress_track(iter(range(300)), token=TOKEN, total=300)
    for _ in range(250):
        next(cancelled)
    cancelled.close()
    broken = export_progress_track(failing(), token=TOKEN[::-1], total=None)
    with pytest.raises(ValueError):
        list(broken)

    def progress(token: str) -> dict:
        return as_alice.get(PROGRESS_URL, {"token": token}).json()

    assert progress(TOKEN) == {
        "started": True, "rows": 250, "total": 300, "done": False, "stopped": True
    }  # fmt: skip
    assert progress(TOKEN[::-1]) == {
        "started": True, "rows": 120, "total": None, "done": False, "stopped": True
    }  # fmt: skip


def test_an_export_holds_a_slot_for_its_whole_download(as_alice, many, settings):
    # A download holds a web thread as long as it lasts: past the bound, eight of them
    # (or eight stalled ones) held every thread and events waited for one.
    settings.EYE_EXPORT_CONCURRENCY = 1

    def slot_free(other) -> bool:
        taken = other.execute("SELECT pg_try_advisory_lock(%s, 0)", [EXPORT_SLOTS.lock_class])
        if taken.fetchone()[0]:
            slot_release(other, EXPORT_SLOTS, 0)
            return True
        return False

    with another_connection() as other:
        slots_hold(other, EXPORT_SLOTS, 0)
        busy = as_alice.get(CSV_URL, {"range": "24h"})
        slot_release(other, EXPORT_SLOTS, 0)

        response = as_alice.get(NDJSON_URL, {"range": "24h"})
        stream = iter(response.streaming_content)
        next(stream)
        during = slot_free(other)
        rest = list(stream)  # the test client closes the response after the last line
        after = slot_free(other)

    assert busy.status_code == 503
    assert busy["Retry-After"] == "5"
    assert "1 export is downloading right now" in busy.content.decode()
    assert (during, len(rest), after) == (False, 299, True)


def test_it_knows_no_progress_of_an_unknown_or_malformed_token(as_alice, many):
    for token in (TOKEN, "../../x"):
        answer = as_alice.get(PROGRESS_URL, {"token": token})
        assert answer.status_code == 200
        assert answer.json() == {
            "started": False, "rows": 0, "total": None, "done": False, "stopped": False
        }  # fmt: skip
    # A malformed token is not recorded, and the export still streams whole.
    lines = body(as_alice.get(NDJSON_URL, {"range": "24h", "progress": "bad token"})).splitlines()
    assert len(lines) == 300


def test_it_shows_the_count_without_sizes_when_a_row_cannot_be_written(as_alice, put, web_app):
    put(web_app, NOW - timedelta(minutes=1), data={"big": 2**70})

    response = as_alice.get(reverse("dashboard:explore"), {"range": "24h"})

    assert response.status_code == 200
    estimate = response.context["estimate"]
    assert (estimate.rows, estimate.csv_bytes, estimate.ndjson_bytes) == (1, None, None)
    assert "Export 1 event:" in response.content.decode()
