import uuid

from django.conf import settings
from django.db import models


class Application(models.Model):
    """An app that sends events. Every stored event records which one sent it."""

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A credential of one application, stored only as a SHA-256 hash.

    Keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force,
    and the lookup sits on the hot ingest path. `prefix` is the first characters of the
    key, kept in clear so that people can tell their keys apart.
    """

    class Kind(models.TextChoices):
        SECRET = "secret"
        PUBLISHABLE = "publishable"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="keys")
    prefix = models.CharField(max_length=16)
    # Secret keys are for servers. Publishable keys sit in web pages, seen by anyone: they
    # only write, only from their allowed origins (events/origins.py), and only to POST
    # /api/event/. Being public, a publishable key is also kept in clear, so that its
    # application's page can show the snippet that carries it.
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SECRET)
    origins = models.JSONField(default=list, blank=True)
    public_key = models.CharField(max_length=64, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    can_read = models.BooleanField(default=False)
    can_write = models.BooleanField(default=False)
    # Reads the events of every application, not only its own: for operators and the CLI.
    # Writes still go to the key's own application. Only staff issue such keys.
    can_read_all_applications = models.BooleanField(default=False)
    # Requests a minute; null means no limit.
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.application})"

    @property
    def is_publishable(self) -> bool:
        return self.kind == self.Kind.PUBLISHABLE

    @property
    def rights(self) -> str:
        rights = "+".join(r for r, on in (("read", self.can_read), ("write", self.can_write)) if on)
        if self.can_read_all_applications:
            rights += ", reads every application"
        return rights


class Event(models.Model):
    """One stored event. The table is created by SQL in migrations (a hypertable on
    TimescaleDB), so Django only reads it.

    Rows are unique on (timestamp, event_id, application_id), not on event_id alone: a
    hypertable's unique keys must include its partitioning column, and an id is the
    idempotency key of the application that sent it. event_id is declared the primary key only so
    that the ORM has one; nothing relies on it being unique by itself.
    """

    event_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    timestamp = models.DateTimeField()
    session_id = models.UUIDField()
    category = models.TextField()
    name = models.TextField()
    data = models.JSONField(default=dict)
    application = models.ForeignKey(Application, on_delete=models.DO_NOTHING, db_constraint=False)
    received_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "events"

    def __str__(self) -> str:
        return f"{self.category} / {self.name} at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class DeadLetter(models.Model):
    """Events that passed validation but that the database refused for good.

    They are kept with the reason so that staff can see, fix and replay them: an accepted
    event is never dropped, and one bad row never blocks the rows queued behind it.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    application = models.ForeignKey(Application, on_delete=models.CASCADE)
    request_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField()
    # The refused rows as JSON objects with the fields of events.services.EventRow.
    rows = models.JSONField()
    received_at = models.DateTimeField()
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{len(self.rows)} events refused: {self.reason[:60]}"


class Refusal(models.Model):
    """A request the API refused (bad payload, future timestamp, unknown key, …), kept so
    that teams can watch their integration's errors in The Eye. A bounded log: the oldest
    entries go as new ones come, past EYE_REFUSALS_KEPT (events.services.refusal_create)."""

    created_at = models.DateTimeField(db_index=True)
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.PositiveSmallIntegerField()
    # The error entries as the API answered them: [{"index"?, "field"?, "message"}].
    errors = models.JSONField()
    # The start of the refused body, as text.
    body = models.TextField(blank=True)
    # As declared by a refused body too big to read: a client may claim any size.
    body_size = models.PositiveBigIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.status} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    @property
    def reasons(self) -> list[str]:
        return sorted({error_reason(e) for e in self.errors})


def error_reason(error: dict) -> str:
    """A short label to group refusals by: the field and the message."""
    field = error.get("field")
    return f"{field}: {error['message']}" if field else error["message"]


class RetentionRule(models.Model):
    """How many days events are kept.

    The rule with neither application nor category is the global one. The others override
    it for one category, one application, or one category of one application. An event
    follows the most specific rule that matches it, in this order: application and
    category, application, category, global. No rule at all means events are kept forever.
    """

    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Empty means every category.
    category = models.CharField(max_length=255, blank=True)
    days = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["application__name", "category"]
        constraints = [
            # Two constraints because NULLs are distinct in an ordinary unique constraint.
            models.UniqueConstraint(
                fields=["category"],
                condition=models.Q(application__isnull=True),
                name="retention_rule_unique_without_application",
            ),
            models.UniqueConstraint(
                fields=["application", "category"],
                condition=models.Q(application__isnull=False),
                name="retention_rule_unique_with_application",
            ),
            models.CheckConstraint(condition=models.Q(days__gte=1), name="retention_days_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}: {self.days} days"

    @property
    def is_global(self) -> bool:
        return self.application_id is None and not self.category

    @property
    def scope(self) -> str:
        if self.is_global:
            return "every event"
        parts = []
        if self.application_id is not None:
            parts.append(f"application {self.application}")
        if self.category:
            parts.append(f"category {self.category}")
        return ", ".join(parts)


class RetentionRun(models.Model):
    """One enforcement of the retention rules: when, and what it removed."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    removed = models.PositiveBigIntegerField(default=0)
    chunks_dropped = models.PositiveIntegerField(default=0)
    # Per rule: [{"scope": ..., "days": ..., "removed": ...}].
    details = models.JSONField(default=list)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"retention at {self.started_at:%Y-%m-%d %H:%M:%S}: {self.removed} removed"


class DeletionRequest(models.Model):
    """Staff asked for events to go: every event of a session (optionally of one
    application), or every event of an application in a time range."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_id = models.UUIDField(null=True, blank=True)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # How many events matched when the request was confirmed, and how many are gone.
    expected = models.PositiveBigIntegerField(default=0)
    deleted = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(session_id__isnull=False)
                | models.Q(application__isnull=False, start__isnull=False, end__isnull=False),
                name="deletion_has_scope",
            ),
        ]
        # The store looks for the requests made after its rows arrived (events.erasure).
        indexes = [models.Index(fields=["created_at"], name="deletion_created_at_idx")]

    def __str__(self) -> str:
        return f"deletion #{self.pk} ({self.scope})"

    @property
    def scope(self) -> str:
        parts = []
        if self.session_id is not None:
            parts.append(f"session {self.session_id}")
        if self.application_id is not None:
            parts.append(f"application {self.application}")
        if self.start is not None and self.end is not None:
            parts.append(f"from {self.start:%Y-%m-%d %H:%M:%S} to {self.end:%Y-%m-%d %H:%M:%S} UTC")
        return ", ".join(parts)

    @property
    def percent_done(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.expected:
            return 0
        return min(99, self.deleted * 100 // self.expected)


class EventSchema(models.Model):
    """A JSON Schema that the `data` of one kind of event (category and name) must match,
    for every application or for one. An application's own schema wins over the shared one."""

    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    category = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    schema = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "name", "application__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "name"],
                condition=models.Q(application__isnull=True),
                name="event_schema_unique_without_application",
            ),
            models.UniqueConstraint(
                fields=["application", "category", "name"],
                condition=models.Q(application__isnull=False),
                name="event_schema_unique_with_application",
            ),
        ]

    def __str__(self) -> str:
        owner = f" ({self.application})" if self.application_id else ""
        return f"{self.category} / {self.name}{owner}"


class TrackedKey(models.Model):
    """A data key (a dotted path such as `form.plan`) whose values are counted per hour
    as events are stored (events/rollups.py), so that breakdowns by it read those counts
    instead of raw events. Global: every application's events are counted.

    Ingest counts a key from the moment its row exists; the events stored before are
    counted by a backfill, day by day. `backfilled_until` is how far it got, and the key
    is `ready` (breakdowns read its counts) only once it finished."""

    key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    backfilled_until = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    @property
    def is_ready(self) -> bool:
        return self.ready_at is not None


class AuditEntry(models.Model):
    """One staff action: who did what, and when. Never edited, never deleted by The Eye."""

    class Action(models.TextChoices):
        APPLICATION_CREATED = "application.created"
        KEY_ISSUED = "key.issued"
        KEY_ROTATED = "key.rotated"
        KEY_CHANGED = "key.changed"
        KEY_REVOKED = "key.revoked"
        RETENTION_SAVED = "retention.saved"
        RETENTION_REMOVED = "retention.removed"
        DELETION_REQUESTED = "deletion.requested"
        SCHEMA_SAVED = "schema.saved"
        SCHEMA_REMOVED = "schema.removed"
        LOGIN_LOCKED_OUT = "login.locked_out"
        LOGIN_UNLOCKED = "login.unlocked"
        ALERT_CREATED = "alert.created"
        ALERT_CHANGED = "alert.changed"
        ALERT_MUTED = "alert.muted"
        ALERT_UNMUTED = "alert.unmuted"
        ALERT_REMOVED = "alert.removed"
        TRACKED_KEY_ADDED = "tracked_key.added"
        TRACKED_KEY_REMOVED = "tracked_key.removed"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept apart from the user so that the log still says who after the user is deleted;
    # actions from the command line have no user and say so here.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.CharField(max_length=255)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target}"
