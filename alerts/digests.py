"""E-mail digests: the overview's numbers, or those of one saved dashboard's insights, for
the last day or week, against the period before, for each user who subscribed.

The overview's numbers come from events.overview.overview_numbers with the very range the
dashboard's custom range resolves to; a saved dashboard's are its insights' numbers,
computed by insights.evaluation with that custom range as the dashboard's cards are: a
digest and the page its link opens agree.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from alerts.models import DigestSubscription
from events.insight_sql import SlotPool
from events.models import Application
from events.overview import OverviewNumbers, overview_numbers
from events.rollups import Granularity
from insights.evaluation import insights_evaluate
from insights.models import Dashboard
from insights.selectors import dashboard_insight_list

logger = logging.getLogger("eye.alerts")

DIGEST_ROWS = 5


@dataclass(frozen=True)
class DigestPeriod:
    start: datetime
    end: datetime

    @property
    def previous_start(self) -> datetime:
        return self.start - (self.end - self.start)

    @property
    def granularity(self) -> Granularity:
        # What the dashboard picks for a custom range of this span (insights/ranges.py).
        return Granularity.for_span(self.end - self.start)

    def range_params(self, *, previous: bool = False) -> dict[str, str]:
        """The period (or the one before) as the dashboard's custom range states it."""
        start, end = (self.previous_start, self.start) if previous else (self.start, self.end)
        return {
            "range": "custom",
            "start": f"{start:%Y-%m-%dT%H:%M}",
            "end": f"{end:%Y-%m-%dT%H:%M}",
        }


def digest_period(*, frequency: str, now: datetime) -> DigestPeriod:
    """The last whole UTC day, or the last whole ISO week (Monday to Monday)."""
    if frequency == DigestSubscription.Frequency.WEEKLY:
        end = Granularity.WEEK.floor(now)
        return DigestPeriod(end - timedelta(weeks=1), end)
    end = Granularity.DAY.floor(now)
    return DigestPeriod(end - timedelta(days=1), end)


def change_text(current: float | None, previous: float | None) -> str:
    """▲ 12% / ▼ 3% against the previous period, as the overview's cards say it."""
    if current is None or previous is None:
        return ""
    if previous == 0:
        return "no change" if current == 0 else "▲ new"
    delta = (current - previous) / previous * 100
    if abs(delta) < 0.5:
        return "0%"
    return f"{'▲' if delta > 0 else '▼'} {abs(delta):,.0f}%"


def dashboard_link(
    *, period: DigestPeriod, application: Application | None, dashboard: Dashboard | None = None
) -> str:
    params = period.range_params()
    if dashboard is not None:
        path = reverse("dashboard:dashboard", kwargs={"dashboard_id": dashboard.pk})
        return f"{settings.EYE_PUBLIC_URL}{path}?{urlencode(params)}"
    if application is not None:
        params["app"] = application.name
    return f"{settings.EYE_PUBLIC_URL}{reverse('dashboard:overview')}?{urlencode(params)}"


@dataclass(frozen=True)
class InsightNumber:
    """One card of a dashboard in a digest: its number over the period and the one before
    (None when the insight has no number, or its settings are no longer valid)."""

    name: str
    label: str
    current: int | None
    previous: int | None
    problem: str

    @property
    def change(self) -> str:
        return change_text(self.current, self.previous)


def dashboard_numbers(
    *, dashboard: Dashboard, period: DigestPeriod, slots: SlotPool | None = None
) -> list[InsightNumber]:
    """The dashboard's cards over the period and the one before; `slots` as for
    insights_evaluate (a preview on a web request)."""
    insights = list(dashboard_insight_list(dashboard=dashboard))
    current = insights_evaluate(insights=insights, range_params=period.range_params(), slots=slots)
    previous = insights_evaluate(
        insights=insights, range_params=period.range_params(previous=True), slots=slots
    )
    return [
        InsightNumber(
            name=evaluation.insight.name,
            label=evaluation.number_label,
            current=evaluation.number,
            previous=before.number,
            problem=evaluation.problem,
        )
        for evaluation, before in zip(current, previous, strict=True)
    ]


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str
    # The overview's numbers, or a dashboard's cards: one of the two.
    numbers: OverviewNumbers | None
    insights: list[InsightNumber] | None = None


def digest_build(
    *,
    frequency: str,
    application: Application | None,
    now: datetime,
    dashboard: Dashboard | None = None,
    slots: SlotPool | None = None,
) -> Digest:
    """The digest of the period that ends before `now`. `slots` is a web request's pool,
    for the preview of a dashboard's digest (insights_evaluate)."""
    period = digest_period(frequency=frequency, now=now)
    if dashboard is not None:
        return _dashboard_digest(
            frequency=frequency, dashboard=dashboard, period=period, slots=slots
        )
    numbers = overview_numbers(
        start=period.start,
        end=period.end,
        previous_start=period.previous_start,
        granularity=period.granularity,
        application_id=application.pk if application else None,
        now=now,
    )
    cards = [
        ("Events", numbers.events),
        ("Unique sessions", numbers.sessions),
        ("Events per session", numbers.ratio),
        ("Refused requests", numbers.refused),
    ]
    label = _label(frequency)
    context = {
        "label": label,
        "period": period,
        "last_day": period.end - timedelta(days=1),
        "application": application,
        "cards": [(name, stat, change_text(stat.current, stat.previous)) for name, stat in cards],
        "top_categories": [
            (row, change_text(row.events, row.previous))
            for row in numbers.top_categories[:DIGEST_ROWS]
        ],
        "top_names": [
            (row, change_text(row.events, row.previous)) for row in numbers.top_names[:DIGEST_ROWS]
        ],
        "link": dashboard_link(period=period, application=application),
    }
    scope = f" · {application.name}" if application else ""
    return Digest(
        subject=f"[The Eye] Your {label}: {numbers.events.current:,} events{scope}",
        text=_plain_text("alerts/digest.txt", context),
        html=render_to_string("alerts/digest.html", context),
        numbers=numbers,
    )


def _plain_text(template_name: str, context: dict) -> str:
    """A .txt template rendered as a plain str. render_to_string marks whatever it renders
    safe for HTML, but a text template renders with autoescape off: the names of events,
    dashboards and insights in it are as their authors typed them, so a page that shows
    the text (the Digest page's preview) must escape it, which Django only does to a str
    not marked safe. str() keeps the mark; str.__str__ makes a plain copy."""
    return str.__str__(render_to_string(template_name, context))


def _label(frequency: str) -> str:
    return "day" if frequency == DigestSubscription.Frequency.DAILY else "week"


def _dashboard_digest(
    *, frequency: str, dashboard: Dashboard, period: DigestPeriod, slots: SlotPool | None
) -> Digest:
    insights = dashboard_numbers(dashboard=dashboard, period=period, slots=slots)
    context = {
        "label": _label(frequency),
        "period": period,
        "dashboard": dashboard,
        "insights": insights,
        "link": dashboard_link(period=period, application=None, dashboard=dashboard),
    }
    return Digest(
        subject=f"[The Eye] Your {context['label']}: {dashboard.name}",
        text=_plain_text("alerts/digest_dashboard.txt", context),
        html=render_to_string("alerts/digest_dashboard.html", context),
        numbers=None,
        insights=insights,
    )


def digest_subscribe(
    *,
    user: AbstractBaseUser,
    frequency: str | None,
    application: Application | None,
    dashboard: Dashboard | None = None,
) -> DigestSubscription | None:
    """Subscribe (or change the subscription), or unsubscribe with frequency None. The
    first digest covers the last whole period and goes at the next hourly send."""
    if frequency is None:
        DigestSubscription.objects.filter(user=user).delete()
        return None
    subscription, _ = DigestSubscription.objects.update_or_create(
        user=user,
        defaults={"frequency": frequency, "application": application, "dashboard": dashboard},
    )
    return subscription


def digests_send(*, now: datetime) -> int:
    """Send every digest whose period has ended since its last one; returns how many.

    A digest says the same to everyone who subscribed to it, so each one (frequency,
    application, dashboard) is built once per send, however many subscribed: a dashboard's
    funnels cost as much for the hundredth reader as for the first."""
    sent = 0
    built: dict[tuple[str, int | None, int | None], Digest] = {}
    subscriptions = DigestSubscription.objects.select_related("user", "application", "dashboard")
    for subscription in subscriptions:
        period = digest_period(frequency=subscription.frequency, now=now)
        if not subscription.user.email:
            continue
        # The claim: one conditional UPDATE moves the period on, and only the worker whose
        # UPDATE changed the row sends.
        claimed = (
            DigestSubscription.objects.filter(pk=subscription.pk)
            .filter(Q(last_period_end__isnull=True) | Q(last_period_end__lt=period.end))
            .update(last_period_end=period.end)
        )
        if not claimed:
            continue
        same = (subscription.frequency, subscription.application_id, subscription.dashboard_id)
        if same not in built:
            built[same] = digest_build(
                frequency=subscription.frequency,
                application=subscription.application,
                dashboard=subscription.dashboard,
                now=now,
            )
        digest = built[same]
        message = EmailMultiAlternatives(
            subject=digest.subject, body=digest.text, to=[subscription.user.email]
        )
        message.attach_alternative(digest.html, "text/html")
        try:
            message.send()
        except OSError:
            # Give the period back, so that the next hour tries again.
            DigestSubscription.objects.filter(
                pk=subscription.pk, last_period_end=period.end
            ).update(last_period_end=subscription.last_period_end)
            logger.warning(
                "digest for %s not sent: the mail server did not take it", subscription.user
            )
            continue
        sent += 1
    return sent
