import uuid

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

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="keys")
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    can_read = models.BooleanField(default=False)
    can_write = models.BooleanField(default=False)
    # Requests a minute; null means no limit.
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.application})"

    @property
    def rights(self) -> str:
        return "+".join(r for r, on in (("read", self.can_read), ("write", self.can_write)) if on)


class Event(models.Model):
    """One stored event. The table is created by SQL in migrations (a hypertable on
    TimescaleDB), so Django only reads it.

    Rows are unique on (event_id, timestamp), not on event_id alone: a hypertable's unique
    keys must include its partitioning column. event_id is declared the primary key only so
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
    entries are pruned past EYE_REFUSALS_KEPT."""

    created_at = models.DateTimeField(db_index=True)
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.PositiveSmallIntegerField()
    # The error entries as the API answered them: [{"index"?, "field"?, "message"}].
    errors = models.JSONField()
    # The start of the refused body, as text.
    body = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0)
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
