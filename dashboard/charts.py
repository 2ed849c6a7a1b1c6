"""Plotly figures, built in Python and handed to the page as JSON (templates/includes/
chart.html), so that a chart is tested like any other output of a view.

One look for every chart: the page's typeface, thin grid lines, thousands separators,
UTC times, and a colour per category (or name) that stays the same on every chart.
"""

import hashlib
import html
from collections.abc import Iterable
from datetime import datetime

import plotly.graph_objects as go

from events.rollups import Granularity, Series

# Twelve colours that people with any of the common colour-vision deficiencies still tell
# apart (Paul Tol's "muted" scheme, with Okabe and Ito's blue, orange and sky blue): enough
# for a dozen categories without two sharing one. Bright red and green are left out: they
# mark worse and better in the change badges, so a category drawn in them would read as
# an alarm.
PALETTE = [
    "#0072b2",  # blue
    "#e69f00",  # orange
    "#44aa99",  # teal
    "#882255",  # wine
    "#56b4e9",  # sky blue
    "#999933",  # olive
    "#aa4499",  # purple
    "#117733",  # dark green
    "#cc6677",  # rose
    "#332288",  # indigo
    "#ddcc77",  # sand
    "#6f5b4b",  # umber
]
OTHER_COLOUR = "#b4b9c0"
# In parentheses, so that it cannot be mistaken for a category or name called "other".
OTHER = "(others)"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TEXT = "#1f2328"
MUTED = "#59636e"
GRID = "#e6e8eb"
PREVIOUS = "#3d444d"


def _slot(key: str) -> int:
    # md5 rather than hash(): the same in every process and every release.
    return int(hashlib.md5(key.encode()).hexdigest()[:8], 16) % len(PALETTE)


def colour_of(key: str, colours: dict[str, str] | None = None) -> str:
    """A key's colour in `colours`, else its own hashed slot (what a chart would give it)."""
    if colours and key in colours:
        return colours[key]
    return PALETTE[_slot(key)] if key and key != OTHER else OTHER_COLOUR


def colour_map(keys: Iterable[str], *, avoid: str | None = None) -> dict[str, str]:
    """A colour for each key, given oldest first: its hashed slot in the palette, or the
    next free one when an older key took it. A key thus keeps its colour for good: a newer
    key can only take a free slot. `avoid` is never handed out (the colour of the category
    whose names these are), while the palette has another free."""
    colours: dict[str, str] = {}
    taken = {PALETTE.index(avoid)} if avoid in PALETTE else set()
    for key in dict.fromkeys(keys):
        if key == OTHER or not key:
            continue
        slot = _slot(key)
        if len(taken) < len(PALETTE):
            while slot in taken:
                slot = (slot + 1) % len(PALETTE)
        taken.add(slot)
        colours[key] = PALETTE[slot]
    colours[OTHER] = OTHER_COLOUR
    return colours


# A value from the data names a bar or a line in at most this many characters: a path of
# 20,000 would push the chart out of its card.
LABEL_CHARS = 40


def value_labels(values: Iterable[str | None], *, taken: Iterable[str] = ()) -> list[str]:
    """Each value as a chart names it: "(no value)" for None, cut to LABEL_CHARS, and
    numbered when it would read as an earlier one or as a name in `taken` (the others'
    series), so that two values never merge into one line or bar."""
    seen, labels = set(taken), []
    for value in values:
        label = "(no value)" if value is None else value
        if len(label) > LABEL_CHARS:
            label = label[: LABEL_CHARS - 1] + "\u2026"
        unique, number = label, 2
        while unique in seen:
            unique, number = f"{label} ({number})", number + 1
        seen.add(unique)
        labels.append(unique)
    return labels


def label_text(label: str) -> str:
    """A label from the data (a category, a name, a value) as Plotly shows text: it renders
    pseudo-HTML (links, bold, line breaks) in trace names, legends, hover labels and axis
    ticks, and turns entities back into characters, so an escaped label reads as typed."""
    return html.escape(label, quote=False)


def axis_time(moment: datetime) -> str:
    """Plotly would shift an ISO time with an offset into the browser's zone; a naive UTC
    string stays UTC, as every time on the page is."""
    return moment.strftime("%Y-%m-%d %H:%M")


HOVER_TIME = {
    Granularity.MINUTE: "%Y-%m-%d %H:%M",
    Granularity.HOUR: "%Y-%m-%d %H:00",
    Granularity.DAY: "%a %Y-%m-%d",
    Granularity.WEEK: "week of %Y-%m-%d",
}


def _layout(*, height: int, granularity: Granularity, y_title: str) -> dict:
    return {
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 8, "b": 40},
        "font": {"family": FONT, "size": 13, "color": TEXT},
        "separators": ".,",
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hovermode": "x unified",
        "hoverlabel": {"font": {"family": FONT, "size": 13}},
        "showlegend": True,
        "legend": {
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.02,
            "x": 0,
            "font": {"size": 12, "color": MUTED},
            # Largest first, as in the tables beside the chart.
            "traceorder": "normal",
        },
        "xaxis": {
            "type": "date",
            "showgrid": False,
            "linecolor": GRID,
            "tickfont": {"color": MUTED},
            "hoverformat": HOVER_TIME[granularity],
            "fixedrange": True,
        },
        "yaxis": {
            "title": {"text": y_title, "font": {"size": 12, "color": MUTED}},
            "gridcolor": GRID,
            "zeroline": False,
            "tickformat": ",d",
            "automargin": True,
            "tickfont": {"color": MUTED},
            "rangemode": "tozero",
            "fixedrange": True,
        },
        "bargap": 0.15,
    }


def volume_figure(
    *,
    series: Series,
    granularity: Granularity,
    colours: dict[str, str],
    incomplete: datetime | None,
    previous: list[int] | None = None,
) -> dict:
    """Bars stacked by key, one per bucket; the bucket still filling hatched and lighter;
    the previous period's totals as a dotted line over the same buckets."""
    x = [axis_time(bucket) for bucket in series.buckets]
    partial = [bucket == incomplete for bucket in series.buckets]
    figure = go.Figure()
    for key, values in series.values.items():
        figure.add_trace(
            go.Bar(
                x=x,
                y=values,
                name=label_text(key),
                marker={
                    "color": colour_of(key, colours),
                    "line": {"width": 0},
                    "opacity": [0.45 if p else 1 for p in partial],
                    "pattern": {
                        "shape": ["/" if p else "" for p in partial],
                        "fgcolor": "#ffffff",
                        "size": 6,
                        "solidity": 0.35,
                    },
                },
                hovertemplate="%{y:,d}",
            )
        )
    if previous is not None:
        figure.add_trace(
            go.Scatter(
                x=x,
                y=previous,
                name="Previous period",
                mode="lines",
                line={"color": PREVIOUS, "dash": "dot", "width": 2, "shape": "hvh"},
                hovertemplate="%{y:,d}",
            )
        )
    figure.update_layout(
        barmode="stack", **_layout(height=320, granularity=granularity, y_title="events")
    )
    return figure.to_plotly_json()


def conversion_figure(
    *,
    buckets: list[datetime],
    conversion: list[float | None],
    incomplete: datetime | None,
    previous: list[float | None] | None = None,
    previous_days: list[datetime] | None = None,
) -> dict:
    """A share per day (the sessions entering a funnel that day that reached its end) as a
    line, the day still filling as an open point; the previous period's, day for day,
    dotted, its own day in the hover. A day with nothing to share leaves a gap."""
    x = [axis_time(bucket) for bucket in buckets]
    figure = go.Figure(
        go.Scatter(
            x=x,
            y=conversion,
            name="Conversion",
            mode="lines+markers",
            line={"color": PALETTE[0], "width": 2},
            marker={
                "size": 6,
                "symbol": ["circle-open" if b == incomplete else "circle" for b in buckets],
            },
            hovertemplate="%{y:.1%}",
        )
    )
    if previous is not None:
        days = [day.strftime(HOVER_TIME[Granularity.DAY]) for day in previous_days or []]
        figure.add_trace(
            go.Scatter(
                x=x,
                y=previous,
                customdata=days,
                name="Previous period",
                mode="lines",
                line={"color": PREVIOUS, "dash": "dot", "width": 2},
                hovertemplate="%{y:.1%} (%{customdata})",
            )
        )
    layout = _layout(height=280, granularity=Granularity.DAY, y_title="converted")
    layout["yaxis"].update(tickformat=".0%")
    figure.update_layout(**layout)
    return figure.to_plotly_json()


def area_figure(*, series: Series, granularity: Granularity, colours: dict[str, str]) -> dict:
    """Stacked areas, one per key: how a category's names share its volume over time."""
    x = [axis_time(bucket) for bucket in series.buckets]
    figure = go.Figure()
    for key, values in series.values.items():
        colour = colour_of(key, colours)
        figure.add_trace(
            go.Scatter(
                x=x,
                y=values,
                name=label_text(key),
                mode="lines",
                stackgroup="names",
                line={"color": colour, "width": 1, "shape": "hv"},
                fillcolor=colour,
                hovertemplate="%{y:,d}",
            )
        )
    figure.update_layout(**_layout(height=300, granularity=granularity, y_title="events"))
    return figure.to_plotly_json()


def bar_figure(*, labels: list[str], values: list[int], colour: str) -> dict:
    """Horizontal bars, largest on top: the top values of a data key."""
    figure = go.Figure(
        go.Bar(
            x=values[::-1],
            y=[label_text(label) for label in labels[::-1]],
            orientation="h",
            marker={"color": colour, "line": {"width": 0}},
            hovertemplate="%{y}: %{x:,d}<extra></extra>",
        )
    )
    height = max(160, 28 * len(labels) + 48)
    layout = _layout(height=height, granularity=Granularity.DAY, y_title="")
    layout.update(
        showlegend=False,
        hovermode="closest",
        xaxis={
            "gridcolor": GRID,
            "tickformat": ",d",
            "tickfont": {"color": MUTED},
            "fixedrange": True,
            "rangemode": "tozero",
        },
        yaxis={
            "automargin": True,
            "tickfont": {"color": TEXT},
            "ticklabelstandoff": 6,
            "fixedrange": True,
        },
        margin={"l": 8, "r": 16, "t": 8, "b": 32},
    )
    figure.update_layout(**layout)
    return figure.to_plotly_json()
