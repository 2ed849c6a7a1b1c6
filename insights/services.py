"""Writes of saved insights and dashboards, with the one rule about who may make them:
their owner or staff may change or delete them."""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max, Q

from insights.models import Dashboard, Insight

User = AbstractBaseUser | AnonymousUser


def insight_can_edit(*, user: User, owner_id: int) -> bool:
    return bool(user.is_authenticated and (user.is_staff or user.pk == owner_id))


def _require_edit(*, user: User, owner_id: int) -> None:
    if not insight_can_edit(user=user, owner_id=owner_id):
        raise PermissionDenied("only its owner or staff may change this")


# Opening a dashboard computes every card it holds, and the worker keeps the dashboards
# people have open fresh, card by card: the number of cards bounds what one costs.
MAX_DASHBOARD_CARDS = 20


class DashboardFull(ValueError):
    pass


def dashboard_create(*, owner: User, name: str, description: str = "") -> Dashboard:
    return Dashboard.objects.create(owner=owner, name=name, description=description)


# A dashboard open in many tabs is recorded as opened once a minute, not on every visit.
VIEW_RECORD_EVERY = timedelta(minutes=1)


def dashboard_viewed(*, dashboard: Dashboard, now: datetime) -> None:
    """Record that the dashboard was opened with its own ranges."""
    Dashboard.objects.filter(
        Q(viewed_at__isnull=True) | Q(viewed_at__lt=now - VIEW_RECORD_EVERY), pk=dashboard.pk
    ).update(viewed_at=now)


def dashboard_update(*, dashboard: Dashboard, user: User, name: str, description: str) -> Dashboard:
    _require_edit(user=user, owner_id=dashboard.owner_id)
    dashboard.name, dashboard.description = name, description
    dashboard.save(update_fields=["name", "description", "updated_at"])
    return dashboard


def dashboard_delete(*, dashboard: Dashboard, user: User) -> None:
    """The dashboard and the insights saved on it."""
    _require_edit(user=user, owner_id=dashboard.owner_id)
    dashboard.delete()


def insight_create(
    *,
    owner: User,
    kind: str,
    name: str,
    query: str,
    description: str = "",
    dashboard: Dashboard | None = None,
) -> Insight:
    """A saved insight, last on `dashboard`'s grid. Adding to a dashboard changes it, so
    it takes the dashboard's edit rights; DashboardFull past MAX_DASHBOARD_CARDS."""
    if kind not in Insight.Kind.values:
        raise ValueError(f"unknown kind of insight {kind!r}")
    with transaction.atomic():
        position = 0
        if dashboard is not None:
            _require_edit(user=owner, owner_id=dashboard.owner_id)
            # Locked so that two saves at once do not take the same place.
            Dashboard.objects.select_for_update().filter(pk=dashboard.pk).first()
            if dashboard.insights.count() >= MAX_DASHBOARD_CARDS:
                raise DashboardFull(
                    f"a dashboard holds at most {MAX_DASHBOARD_CARDS} cards; "
                    "save this one onto another, or remove one first"
                )
            last = dashboard.insights.aggregate(last=Max("position"))["last"]
            position = 0 if last is None else last + 1
        return Insight.objects.create(
            owner=owner,
            kind=kind,
            name=name,
            description=description,
            query=query,
            dashboard=dashboard,
            position=position,
        )


def insight_update(*, insight: Insight, user: User, name: str, description: str) -> Insight:
    _require_edit(user=user, owner_id=insight.owner_id)
    insight.name, insight.description = name, description
    insight.save(update_fields=["name", "description", "updated_at"])
    return insight


def insight_delete(*, insight: Insight, user: User) -> None:
    _require_edit(user=user, owner_id=insight.owner_id)
    insight.delete()
