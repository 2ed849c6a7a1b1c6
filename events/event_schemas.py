"""JSON Schemas that the `data` of a kind of event (category and name) must match.

Staff attach a schema to a kind, for every application or for one; the API checks each
event against the schema of its kind before accepting it, so a refusal names the exact
place in the payload. Events already queued were checked when they arrived, so a schema
change applies to new events only.
"""

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from events.audit import Actor, audit_record
from events.models import Application, AuditEntry, EventSchema
from events.payloads import data_pointer
from events.reloading import Reloading

# Enough to fix a payload; a payload wrong in a thousand places does not need a
# thousand-line answer.
MAX_ERRORS_PER_EVENT = 10
MAX_MESSAGE_CHARS = 200

KindKey = tuple[int | None, str, str]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def event_schema_problem(schema: Any) -> str | None:
    """Why `schema` cannot be used, or None when it can."""
    if not isinstance(schema, dict):
        return "must be a JSON object"
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        where = "".join(f"/{part}" for part in exc.absolute_path) or "/"
        return f"is not a valid JSON Schema at {where}: {exc.message}"
    # The API must never wait on the network, nor fail on a reference it cannot follow.
    outside = sorted({ref for ref in _refs(schema) if not ref.startswith("#")})
    if outside:
        return f"may only refer to its own parts ($ref starting with #), not {outside[0]}"
    return None


def _audit_details(event_schema: EventSchema) -> dict:
    return {
        "application": event_schema.application.name if event_schema.application else None,
        "category": event_schema.category,
        "name": event_schema.name,
    }


@transaction.atomic
def event_schema_save(
    *,
    application: Application | None,
    category: str,
    name: str,
    schema: Any,
    actor: Actor = None,
) -> EventSchema:
    """Create or replace the schema of one kind; a schema that cannot be used is refused."""
    problem = event_schema_problem(schema)
    if problem is not None:
        raise ValidationError({"schema": f"The schema {problem}."})
    event_schema, created = EventSchema.objects.update_or_create(
        application=application,
        category=category.strip(),
        name=name.strip(),
        defaults={"schema": schema},
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.SCHEMA_SAVED,
        target=str(event_schema),
        details={**_audit_details(event_schema), "created": created, "schema": schema},
    )
    transaction.on_commit(_validators.clear)
    return event_schema


@transaction.atomic
def event_schema_remove(*, event_schema: EventSchema, actor: Actor = None) -> None:
    audit_record(
        actor=actor,
        action=AuditEntry.Action.SCHEMA_REMOVED,
        target=str(event_schema),
        details={**_audit_details(event_schema), "schema": event_schema.schema},
    )
    event_schema.delete()
    transaction.on_commit(_validators.clear)


def _load_validators() -> dict[KindKey, Validator]:
    validators = {}
    for event_schema in EventSchema.objects.all():
        cls = validator_for(event_schema.schema, default=Draft202012Validator)
        validators[(event_schema.application_id, event_schema.category, event_schema.name)] = cls(
            event_schema.schema, format_checker=cls.FORMAT_CHECKER
        )
    return validators


_validators: Reloading[dict[KindKey, Validator]] = Reloading(_load_validators)


@dataclass(frozen=True)
class DataError:
    field: str
    message: str


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


DataChecker = Callable[[int, str, str, dict[str, Any]], list[DataError]]


def event_data_checker() -> DataChecker | None:
    """A check of events' `data` by the schemas as they are now; take one per request.

    The check returns what is wrong with one event's `data` for its kind, or nothing when
    it may be accepted. The application's own schema for the kind wins over the one shared
    by every application. A kind with no schema is accepted unless
    EYE_REQUIRE_EVENT_SCHEMA is on. None when there is nothing to check at all.
    """
    validators = _validators.get()
    required = settings.EYE_REQUIRE_EVENT_SCHEMA
    if not validators and not required:
        return None

    def check(
        application_id: int, category: str, name: str, data: dict[str, Any]
    ) -> list[DataError]:
        validator = validators.get((application_id, category, name)) or validators.get(
            (None, category, name)
        )
        if validator is None:
            if required:
                return [
                    DataError(
                        "name",
                        f"no event schema is registered for category {category!r} and name "
                        f"{name!r}, and this server only accepts kinds of events with one",
                    )
                ]
            return []
        return _schema_errors(validator, data)

    return check


def _schema_errors(validator: Validator, data: dict[str, Any]) -> list[DataError]:
    errors = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        if error.validator == "required" and isinstance(error.instance, dict):
            # One error per missing property, named where it is missing.
            missing = [p for p in error.validator_value if p not in error.instance]
            errors += [
                DataError(data_pointer(error.absolute_path + deque([p])), "required")
                for p in missing
            ]
        else:
            errors.append(DataError(data_pointer(error.absolute_path), _short(error.message)))
    return list(dict.fromkeys(errors))[:MAX_ERRORS_PER_EVENT]


def event_schema_cache_clear() -> None:
    _validators.clear()
