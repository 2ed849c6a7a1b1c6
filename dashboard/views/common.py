"""What every dashboard page shares: login, GET only, and the context of the frame."""

from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from dashboard.charts import colour_map, colour_of
from events.insight_sql import EXPORT_SLOTS, InsightsBusy, InsightTooSlow
from events.models import Application
from events.stats import kind_first_seen_list
from eye.replica import reads_from_replica
from insights import ranges
from insights.definitions import SUGGESTIONS_CACHE_SECONDS, SUGGESTIONS_DAYS, category_names

View = Callable[..., HttpResponse]

# Colours change only when a new category or name first appears, and are kept as long as
# the suggestions (insights.definitions.category_names), over the same days.
COLOURS_CACHE_KEY = "dashboard:kinds-first-seen"


# Past this many digits no id or step number of ours could be meant.
NUMBER_DIGITS = 18


def url_number(text: str) -> int | None:
    """A positive whole number from the URL, or None: str.isdigit() takes "²" for a digit
    that int() then refuses, and int() refuses past 4,300 digits; either made a 500."""
    if not (text.isascii() and text.isdigit()) or len(text) > NUMBER_DIGITS:
        return None
    return int(text) or None


# A page whose insights could not be computed asks again after this many seconds.
BUSY_RETRY_SECONDS = 5


def busy_when_slots_are_taken(view: View) -> View:
    """A page that needs an insight slot (events/insight_sql.py) when every one is taken
    answers 503, saying so, and asks again shortly, rather than wait on a web thread; one
    whose computing ran past its time limit says so, and does not ask again."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except InsightTooSlow as slow:
            return render_page(
                request,
                "dashboard/too_slow.html",
                {"seconds": f"{slow.seconds:g}"},
                nav="",
                status=503,
            )
        except InsightsBusy as busy:
            response = render_page(
                request,
                "dashboard/busy.html",
                {
                    "slots": busy.slots,
                    "exports": busy.pool is EXPORT_SLOTS,
                    "retry_seconds": BUSY_RETRY_SECONDS,
                },
                nav="",
                status=503,
            )
            response["Retry-After"] = str(BUSY_RETRY_SECONDS)
            return response

    return wrapped


def dashboard_view(view: View) -> View:
    """Every page needs a login and only reads: GET and HEAD, nothing else, and may read
    events from the read replica if there is one."""
    return login_required(require_safe(reads_from_replica(busy_when_slots_are_taken(view))))


def kinds_first_seen() -> list[tuple[str, str]]:
    """The (category, name) pairs of the last SUGGESTIONS_DAYS days, the oldest first."""
    pairs = cache.get(COLOURS_CACHE_KEY)
    if pairs is None:
        pairs = kind_first_seen_list(since=ranges.utc_now() - timedelta(days=SUGGESTIONS_DAYS))
        cache.set(COLOURS_CACHE_KEY, pairs, SUGGESTIONS_CACHE_SECONDS)
    return pairs


def category_colours() -> dict[str, str]:
    """One colour per category, handed out in the order categories first appeared, so
    that every chart, table and list of events agrees, and a new category never moves
    the colour of an older one."""
    return colour_map(dict.fromkeys(category for category, _ in kinds_first_seen()))


def name_colours(*, category: str, names: Iterable[str]) -> dict[str, str]:
    """Colours for the names of one category (the oldest name first, then `names` not
    yet in the rollups), never the category's own: its names are parts of it, not it."""
    known = [name for kind, name in kinds_first_seen() if kind == category]
    avoid = colour_of(category, category_colours())
    return colour_map(dict.fromkeys([*known, *names]), avoid=avoid)


def application_names() -> dict[int, str]:
    return dict(Application.objects.values_list("pk", "name"))


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    nav: str,
    status: int | None = None,
) -> HttpResponse:
    pairs = category_names()
    frame = {
        "nav": nav,
        "category_suggestions": sorted({category for category, _ in pairs}),
        "name_suggestions": sorted({name for _, name in pairs}),
        "colours": category_colours(),
    }
    form = context.get("form")
    if status is None:
        status = 400 if form is not None and form.errors else 200
    return render(request, template, {**frame, **context}, status=status)
