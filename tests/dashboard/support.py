"""Helpers for the dashboard's tests: the stopped clock, a known set of events, and
ways to read back what a page showed and what the raw table holds."""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from events.services import EventRow, event_bulk_create

# A Wednesday afternoon, 25 minutes and 30 seconds into the hour: the current minute, hour
# and day are all still filling.
NOW = datetime(2026, 3, 18, 14, 25, 30, tzinfo=UTC)

SESSION_A = uuid.UUID("e2085be5-9137-4e4e-80b5-f1ffddc25423")
SESSION_B = uuid.UUID("5b0c4a2e-2f0a-4a8e-9a57-2f1c9e1d7b10")


@dataclass
class Put:
    """Stores events for one application the way the worker does."""

    def __call__(
        self,
        app,
        at: datetime,
        *,
        session: uuid.UUID | str = SESSION_A,
        category: str = "page interaction",
        name: str = "pageview",
        data: dict | None = None,
        event_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        event_id = event_id or uuid.uuid4()
        event_bulk_create(
            rows=[
                EventRow(
                    str(event_id),
                    at,
                    str(session),
                    category,
                    name,
                    json.dumps(data if data is not None else {}),
                )
            ],
            application_id=app.application.pk,
            received_at=at + timedelta(seconds=1),
        )
        return event_id

    def many(self, app, rows: list[EventRow]) -> None:
        for start in range(0, len(rows), 500):
            event_bulk_create(
                rows=rows[start : start + 500],
                application_id=app.application.pk,
                received_at=NOW,
            )


KINDS = [
    ("page interaction", "pageview", {"path": "/"}),
    ("page interaction", "pageview", {"path": "/pricing"}),
    ("page interaction", "cta click", {"path": "/", "element": "chat bubble"}),
    ("form interaction", "submit", {"form": "signup", "fields": ["first_name", "last_name"]}),
    ("commerce", "purchase", {"product": "lamp", "price": 49.0}),
    ("page interaction", "scroll", {"path": "/pricing", "depth": 50}),
]


def known_rows(count: int, *, seed: int, span: timedelta) -> list[EventRow]:
    """`count` events spread over the `span` before NOW (and a few minutes after, as a
    client clock may run ahead), over 12 sessions and every kind above."""
    rows = []
    step = span / count
    for i in range(count):
        category, name, data = KINDS[(i * 7 + seed) % len(KINDS)]
        at = NOW - span + step * i + timedelta(microseconds=seed * 1000 + i)
        session = uuid.UUID(int=(i * 5 + seed) % 12 + 1)
        rows.append(EventRow(str(uuid.uuid4()), at, str(session), category, name, json.dumps(data)))
    # Two in the current minute and one just ahead of the clock.
    for offset in (timedelta(seconds=-20), timedelta(seconds=-2), timedelta(minutes=3)):
        rows.append(
            EventRow(
                str(uuid.uuid4()),
                NOW + offset,
                str(uuid.UUID(int=99)),
                "page interaction",
                "pageview",
                json.dumps({"path": "/live"}),
            )
        )
    return rows


def raw(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def raw_one(sql: str, params: list | None = None):
    [(value,)] = raw(sql, params)
    return value


def figure_of(response, chart_id: str) -> dict:
    """The Plotly figure a page handed to its chart, read back from the json_script."""
    html = response.content.decode()
    match = re.search(
        rf'<script id="{re.escape(chart_id)}-figure" type="application/json">(.*?)</script>',
        html,
        re.S,
    )
    assert match, f"no figure {chart_id!r} on the page"
    return json.loads(match.group(1))


def stacks(figure: dict) -> dict[str, dict[str, int]]:
    """{trace name: {x: y}} for the bar (or area) traces of a figure."""
    return {
        trace["name"]: dict(zip(trace["x"], trace["y"], strict=True))
        for trace in figure["data"]
        if trace["type"] == "bar" or trace.get("stackgroup")
    }


def axis_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


# Custom ranges at the ends of the calendar, which once made every page a 500
# (OverflowError); each page refuses them as a form error instead.
EXTREME_RANGES = [
    {"range": "custom", "start": "9999-12-30T00:00", "end": "9999-12-31T00:00"},
    {"range": "custom", "start": "0001-01-01T00:00", "end": "0001-01-02T00:00"},
    {"range": "custom", "start": "0001-01-01T00:00+01:00", "end": "2026-03-01T00:00"},
    {"range": "custom", "start": "2026-03-01T00:00", "end": "9999-12-31T23:59"},
    {"start": "0001-01-01"},
]


def assert_refused_as_out_of_range(response) -> None:
    assert response.status_code == 400
    assert "Pick a date from 1900-01-01 to 2999-12-31." in response.content.decode()
