"""How numbers, times and payloads read on every page: thousands separators, UTC with
the zone said once in each heading, durations in the largest sensible units."""

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from django import template

from dashboard.charts import colour_of
from events.payloads import data_readable

register = template.Library()

# gunicorn refuses a request line over 4,094 bytes with 400: a link that filters Explore by
# a longer value would not open, so such a value is shown without one.
LINK_VALUE_BYTES = 2_000


@register.filter
def thousands(value: Any) -> str:
    """1204311 → 1,204,311; nothing → an en dash."""
    if value is None or value == "":
        return "\u2013"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{int(value):,}"


@register.filter
def share(part: Any, whole: Any) -> str:
    """A part of a whole as a percentage: 67%, or <1% rather than a misleading 0%."""
    if not whole:
        return "\u2013"
    percent = 100 * part / whole
    if 0 < percent < 1:
        return "<1%"
    return f"{percent:.0f}%"


@register.filter
def percent_of(part: Any, whole: Any) -> float:
    """The bare number, for a CSS width."""
    return round(100 * part / whole, 1) if whole else 0


@register.inclusion_tag("includes/change.html")
def change(current: Any, previous: Any, *, higher_is_worse: bool = False) -> dict[str, Any]:
    """▲ 12% / ▼ 3% against the previous period. The arrow and the words carry the meaning;
    the colour only repeats it (green for better, red for worse)."""
    context: dict[str, Any] = {"previous": previous}
    if previous is None or current is None:
        return {**context, "direction": "none", "text": ""}
    if previous == 0:
        if current == 0:
            return {**context, "direction": "flat", "text": "no change"}
        return {**context, "direction": "up", "text": "new", "good": not higher_is_worse}
    delta = (current - previous) / previous * 100
    if abs(delta) < 0.5:
        return {**context, "direction": "flat", "text": "0%"}
    going_up = delta > 0
    return {
        **context,
        "direction": "up" if going_up else "down",
        "text": f"{abs(delta):,.0f}%",
        "good": going_up != higher_is_worse,
    }


@register.filter
def utc(moment: datetime | None, precision: str = "seconds") -> str:
    """2026-11-28 09:15:27 (the zone is named in the column heading or beside it)."""
    if moment is None:
        return "\u2013"
    if precision == "ms":
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    if precision == "minutes":
        return moment.strftime("%Y-%m-%d %H:%M")
    if precision == "time":
        return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@register.filter
def duration(value: timedelta | float | None) -> str:
    """4.2 s, 38 s, 6 min 12 s, 2 h 3 min, 3 d 4 h: two units at most."""
    if value is None:
        return "\u2013"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def short_id(value: Any) -> str:
    """The first block of a UUID: enough to tell sessions apart on one screen."""
    return str(value)[:8]


@register.filter
def json_pretty(data: Any) -> str:
    """The payload as people read it, as the API gives it back. Autoescaping still
    applies where it is shown."""
    return json.dumps(data_readable(data), indent=2, ensure_ascii=False, sort_keys=False)


@register.filter
def json_preview(data: Any, length: int = 90) -> str:
    text = json.dumps(data_readable(data), ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= length else text[: length - 1] + "\u2026"


@register.filter
def truncate_text(text: str, length: int = 160) -> str:
    text = text or ""
    return text if len(text) <= length else text[: length - 1] + "\u2026"


@register.filter
def fits_in_a_link(value: str | None) -> bool:
    return value is None or len(quote(value, safe="")) <= LINK_VALUE_BYTES


@register.filter
def colour(colours: dict[str, str] | None, key: str) -> str:
    """The colour of a category or name on the page's charts; a key the page's map does
    not know gets its hashed slot, as it would on a chart."""
    return colour_of(key, colours)


@register.filter
def get(mapping: dict | None, key: Any) -> Any:
    return (mapping or {}).get(key)


# The payload fields that say most about a step, in the order a reader looks for them.
HINT_KEYS = ("path", "element", "form", "product", "plan", "field", "message", "query")


@register.filter
def payload_hint(data: Any) -> str:
    """A few words from a payload for a timeline step: its path, element, form…"""
    if not isinstance(data, dict):
        return ""
    parts = []
    for key in HINT_KEYS:
        value = data.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        parts.append(str(value))
        if len(parts) == 2:
            break
    return truncate_text(" · ".join(parts), 80)
