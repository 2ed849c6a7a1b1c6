"""Retention: how long events are kept, and the job that removes the older ones.

An event follows the most specific rule that matches it: its application's rule for its
category, else its application's rule, else its category's rule, else the global one.
No rule at all keeps it forever. The API refuses events already past their rule, so the
job never races the ingest path for them.

On a hypertable, whole chunks older than the longest rule go with drop_chunks (instant,
no row-by-row work); everything else goes by batched DELETE, rule by rule. Both keep the
rollups in step.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events.audit import Actor, audit_record
from events.models import Application, AuditEntry, RetentionRule, RetentionRun
from events.reloading import Reloading
from events.removal import events_delete
from events.rollups import event_total_before, rollups_forget_before

logger = logging.getLogger("eye.retention")

# Any number; it only has to be the same in every process that runs retention.
RETENTION_LOCK_ID = 0x657965_01

RuleKey = tuple[int | None, str]


@dataclass(frozen=True)
class Rule:
    """A rule as plain values: a saved one, or one being previewed."""

    application_id: int | None
    category: str
    days: int
    scope: str = field(default="", compare=False)

    @property
    def key(self) -> RuleKey:
        return (self.application_id, self.category)


def _rules_load() -> dict[RuleKey, int]:
    return {(rule.application_id, rule.category): rule.days for rule in RetentionRule.objects.all()}


_rules: Reloading[dict[RuleKey, int]] = Reloading(_rules_load)


RetentionDays = Callable[[int, str], int | None]


def retention_days_lookup() -> RetentionDays | None:
    """How many days an event of an application and category is kept (None: forever),
    by the rules as they are now; take one lookup per request, not per event. None when
    there is no rule at all, so that callers can skip the lookups."""
    rules = _rules.get()
    if not rules:
        return None

    def days(application_id: int, category: str) -> int | None:
        for key in ((application_id, category), (application_id, ""), (None, category), (None, "")):
            found = rules.get(key)
            if found is not None:
                return found
        return None

    return days


def retention_cache_clear() -> None:
    _rules.clear()


def _precedence(rule: Rule) -> int:
    """0 for the most specific level, 3 for the global rule."""
    if rule.application_id is not None:
        return 0 if rule.category else 1
    return 2 if rule.category else 3


def governed_where(rule: Rule, rules: list[Rule]) -> tuple[str, dict]:
    """SQL selecting the rows (of events or of a rollup: both have application_id and
    category) that `rule` governs: those it matches and no more specific rule does."""
    level = _precedence(rule)
    clauses, params = [], {}
    if rule.application_id is not None:
        clauses.append("application_id = %(rule_app)s")
        params["rule_app"] = rule.application_id
    if rule.category:
        clauses.append("category = %(rule_category)s")
        params["rule_category"] = rule.category
    closer = [other for other in rules if _precedence(other) < level]
    pairs = [r for r in closer if r.application_id is not None and r.category]
    apps = [r.application_id for r in closer if r.application_id is not None and not r.category]
    categories = [r.category for r in closer if r.application_id is None and r.category]
    if pairs:
        clauses.append(
            "(application_id, category) NOT IN "
            "(SELECT * FROM unnest(%(pair_apps)s::bigint[], %(pair_categories)s::text[]))"
        )
        params["pair_apps"] = [r.application_id for r in pairs]
        params["pair_categories"] = [r.category for r in pairs]
    if apps:
        clauses.append("application_id <> ALL(%(other_apps)s::bigint[])")
        params["other_apps"] = apps
    if categories:
        clauses.append("category <> ALL(%(other_categories)s::text[])")
        params["other_categories"] = categories
    return " AND ".join(clauses) or "true", params


def _saved_rules() -> list[Rule]:
    return [
        Rule(r.application_id, r.category, r.days, r.scope)
        for r in RetentionRule.objects.select_related("application")
    ]


def _count_older(rule: Rule, rules: list[Rule], cutoff: datetime) -> int:
    """Events `rule` governs that are older than `cutoff`, from the rollups and the
    minute that holds the cutoff."""
    where, params = governed_where(rule, rules)
    return event_total_before(cutoff=cutoff, where=where, params=params)


def retention_preview(*, application: Application | None, category: str, days: int) -> int:
    """How many events a rule of this scope and length would remove if saved now."""
    proposed = Rule(application.pk if application else None, category.strip(), days)
    others = [rule for rule in _saved_rules() if rule.key != proposed.key]
    return _count_older(proposed, [*others, proposed], timezone.now() - timedelta(days=days))


@transaction.atomic
def retention_rule_save(
    *, application: Application | None, category: str, days: int, actor: Actor = None
) -> RetentionRule:
    if days < 1:
        raise ValueError("a retention rule keeps events at least one day")
    rule, created = RetentionRule.objects.select_for_update().get_or_create(
        application=application, category=category.strip(), defaults={"days": days}
    )
    before = None if created else rule.days
    if not created:
        rule.days = days
        rule.save(update_fields=["days", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.RETENTION_SAVED,
        target=rule.scope,
        details={"days": days, "previous_days": before},
    )
    transaction.on_commit(_rules.clear)
    return rule


@transaction.atomic
def retention_rule_remove(*, rule: RetentionRule, actor: Actor = None) -> None:
    audit_record(
        actor=actor,
        action=AuditEntry.Action.RETENTION_REMOVED,
        target=rule.scope,
        details={"days": rule.days},
    )
    rule.delete()
    transaction.on_commit(_rules.clear)


def events_table_is_hypertable() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        if cursor.fetchone() is None:
            return False
        cursor.execute(
            "SELECT 1 FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = current_schema() AND hypertable_name = 'events'"
        )
        return cursor.fetchone() is not None


def _drop_old_chunks(horizon: datetime) -> tuple[int, int]:
    """Drop every chunk whose events are all older than `horizon`; returns the chunks
    dropped and the events they held."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), max(range_end) FROM timescaledb_information.chunks
            WHERE hypertable_schema = current_schema() AND hypertable_name = 'events'
              AND range_end <= %s
            """,
            [horizon],
        )
        chunks, boundary = cursor.fetchone()
        if not chunks:
            return 0, 0
        # Every event before the newest dropped chunk's end lived in a dropped chunk
        # (chunks never overlap), so the rollups say how many there were.
        events = event_total_before(cutoff=boundary, where="true", params={})
        cursor.execute(
            "SELECT count(*) FROM drop_chunks('events', older_than => %s::timestamptz)", [boundary]
        )
        dropped = cursor.fetchone()[0]
    rollups_forget_before(boundary=boundary)
    return dropped, events


def retention_enforce(*, now: datetime | None = None) -> RetentionRun | None:
    """Remove every event past its rule. Returns the run's record, or None when another
    run holds the lock (two runs at once would only race each other)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RETENTION_LOCK_ID])
        if not cursor.fetchone()[0]:
            return None
    try:
        return _enforce(now or timezone.now())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [RETENTION_LOCK_ID])


def _enforce(now: datetime) -> RetentionRun:
    run = RetentionRun.objects.create(started_at=timezone.now())
    rules = sorted(_saved_rules(), key=_precedence)
    details = []
    try:
        if rules and events_table_is_hypertable() and any(_precedence(r) == 3 for r in rules):
            # A chunk may go whole only when no rule keeps any of its events: older
            # than the longest rule.
            horizon = now - timedelta(days=max(rule.days for rule in rules))
            run.chunks_dropped, run.removed = _drop_old_chunks(horizon)
            if run.chunks_dropped:
                details.append(
                    {
                        "scope": f"{run.chunks_dropped} whole chunks past every rule",
                        "days": max(rule.days for rule in rules),
                        "removed": run.removed,
                    }
                )
        for rule in rules:
            where, params = governed_where(rule, rules)
            cutoff = now - timedelta(days=rule.days)
            removed = events_delete(
                where=f'"timestamp" < %(cutoff)s AND {where}',
                params={**params, "cutoff": cutoff},
                batch_size=settings.EYE_DELETE_BATCH_SIZE,
            )
            run.removed += removed
            details.append({"scope": rule.scope, "days": rule.days, "removed": removed})
    except Exception as exc:
        run.error = str(exc).strip() or type(exc).__name__
        raise
    finally:
        run.details = details
        run.finished_at = timezone.now()
        run.save()
        logger.info(
            "retention removed=%d chunks_dropped=%d error=%s",
            run.removed,
            run.chunks_dropped,
            run.error or "-",
        )
    return run
