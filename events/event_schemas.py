"""JSON Schemas that the `data` of a kind of event (category and name) must match.

Staff attach a schema to a kind, for every application or for one; the API checks each
event against the schema of its kind before accepting it, so a refusal names the exact
place in the payload. Events already queued were checked when they arrived, so a schema
change applies to new events only.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import jsonschema_rs
import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from events.audit import Actor, audit_record
from events.models import Application, AuditEntry, EventSchema
from events.payloads import DATA_MAX_DEPTH, data_pointer
from events.reloading import Reloading

# Enough to fix a payload; a payload wrong in a thousand places does not need a
# thousand-line answer.
MAX_ERRORS_PER_EVENT = 10
MAX_MESSAGE_CHARS = 200
# A schema nests no deeper than the data the API takes: the checks below, and
# jsonschema's check_schema most of all, walk it recursively and run out of Python's stack
# somewhere past a hundred levels (less inside a request). A schema reaches deeper data
# through a `$ref` to itself.
SCHEMA_MAX_DEPTH = DATA_MAX_DEPTH

KindKey = tuple[int | None, str, str]

# What checking an event against a schema's patterns may cost. The engine is linear in the
# text, but by a factor that grows with the compiled pattern, past what its lazy DFA can
# cache most of all: `(?:\w{300}){100}` (4 MB compiled) takes 4 s over 60 KB, and a schema
# may repeat it (`allOf`). So the patterns of a schema may compile to PATTERN_BYTES in
# all, measured when staff save it (each compiled under limits doubling from 1 KiB): the
# costliest that fit, `\d{3000}` and the like, take 32 ms over 64 KB of text that runs
# them to the end. Everyday patterns (an e-mail, a UUID, a date) compile to 1 to 4 KiB;
# `.` matches any of Unicode's characters and weighs most (`^.{1,255}$`: 512 KiB, where
# maxLength says the same). Compiling each costs too, hence a number of them at most.
PATTERN_BYTES = 256 * 1024
MAX_PATTERNS = 100
# Listing an event's faults costs, for each one, a copy of the value at fault, and a
# schema of a thousand `allOf` branches fails a thousand times over one 64 KB object (1.1 s
# an event). A schema's weight, its subschemas and required names, bounds how many faults
# one value can have: every fault is listed while weight times the event's data bytes stays
# within ERROR_LISTING_BUDGET (a schema of 64 parts, for the largest data), and past it
# only the first (1.5 ms in that case). Valid events cost no listing at all.
MAX_SCHEMA_WEIGHT = 2_000
ERROR_LISTING_BUDGET = 64 * 65_536


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


def validator_build(schema: dict) -> jsonschema_rs.Validator:
    """The validator events are checked with; raises jsonschema_rs.ValidationError when
    the schema cannot be used.

    jsonschema-rs rather than the reference library, for a cost that staff cannot make
    unbounded: its `pattern` and `patternProperties` run on a regex engine without
    backtracking (linear in the text, so `^(a+)+$` cannot freeze a worker), and it
    resolves every `$ref` when the schema is built, never while an event waits. Offline:
    the API never waits on the network.
    """
    return jsonschema_rs.validator_for(
        schema,
        validate_formats=True,
        # No one pattern past what all of a schema's may compile to (_patterns_problem):
        # a schema saved before that check, with a costlier one, cannot be built.
        pattern_options=jsonschema_rs.RegexOptions(size_limit=PATTERN_BYTES),
        offline=True,
    )


def _escaped(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _nodes(node: Any, pointer: str = "") -> Iterator[tuple[str, dict]]:
    """Every object in the schema with its JSON pointer."""
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _nodes(value, f"{pointer}/{_escaped(str(key))}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _nodes(item, f"{pointer}/{index}")


def _in_place(pointer: str, node: dict, targets: dict[str, str]) -> Iterator[str]:
    """The subschemas that apply to the same value as `node` does: its `$ref` target and
    its in-place applicators (allOf, not, if, …), as pointers."""
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            yield from (f"{pointer}/{key}/{i}" for i in range(len(node[key])))
    for key in ("not", "if", "then", "else"):
        if isinstance(node.get(key), dict):
            yield f"{pointer}/{key}"
    if isinstance(node.get("dependentSchemas"), dict):
        yield from (f"{pointer}/dependentSchemas/{_escaped(k)}" for k in node["dependentSchemas"])
    for key in ("$ref", "$dynamicRef"):
        ref = node.get(key)
        if isinstance(ref, str) and ref in targets:
            yield targets[ref]


def _ref_loop(schema: dict) -> list[str] | None:
    """A chain of `$ref`s (through in-place applicators) that comes back to where it
    started without ever reaching a schema to check the value against, as pointers; or
    None. A recursive schema that goes down into the value (`properties`, `items`) on
    its way round is no loop."""
    nodes = dict(_nodes(schema))
    targets = {"#": ""}
    for pointer, node in nodes.items():
        for key in ("$anchor", "$dynamicAnchor"):
            if isinstance(node.get(key), str):
                targets[f"#{node[key]}"] = pointer
    for node in nodes.values():
        for key in ("$ref", "$dynamicRef"):
            ref = node.get(key)
            if isinstance(ref, str) and ref.startswith("#/") and unquote(ref[1:]) in nodes:
                targets[ref] = unquote(ref[1:])
    edges = {
        pointer: [t for t in _in_place(pointer, node, targets) if t in nodes]
        for pointer, node in nodes.items()
    }
    done: set[str] = set()
    for start in nodes:
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(start, iter(edges[start]))]
        path.append(start)
        on_path.add(start)
        while stack:
            pointer, following = stack[-1]
            target = next(following, None)
            if target is None:
                stack.pop()
                path.pop()
                on_path.discard(pointer)
                done.add(pointer)
            elif target in on_path:
                return [*path[path.index(target) :], target]
            elif target not in done:
                stack.append((target, iter(edges[target])))
                path.append(target)
                on_path.add(target)
    return None


def _nests_deeper_than(node: Any, levels: int) -> bool:
    """Whether `node` holds objects and arrays more than `levels` deep (`node` itself is
    the first); the walk stops one level past, so it recurses `levels` times at most."""
    if not isinstance(node, dict | list):
        return False
    if levels == 0:
        return True
    children = node.values() if isinstance(node, dict) else node
    return any(_nests_deeper_than(child, levels - 1) for child in children)


def _patterns(schema: dict) -> Iterator[tuple[str, str]]:
    """Every regular expression of the schema, with where it is: the `pattern`s, and the
    keys of `patternProperties`."""
    for pointer, node in _nodes(schema):
        if isinstance(node.get("pattern"), str):
            yield f"{pointer}/pattern", node["pattern"]
        if isinstance(node.get("patternProperties"), dict):
            for key in node["patternProperties"]:
                yield f"{pointer}/patternProperties/{_escaped(key)}", key


def _compiled_bytes(pattern: str) -> int | None:
    """About what `pattern` compiles to: the first of the limits doubling from 1 KiB to
    PATTERN_BYTES under which it compiles, or None past them (or when it does not compile
    at all, which the validator's build has said already)."""
    limit = 1024
    while limit <= PATTERN_BYTES:
        try:
            jsonschema_rs.validator_for(
                {"pattern": pattern}, pattern_options=jsonschema_rs.RegexOptions(size_limit=limit)
            )
        except jsonschema_rs.ValidationError:
            limit *= 2
        else:
            return limit
    return None


def schema_weight(schema: dict) -> int:
    """How many faults one value can have at most against `schema`, about: its objects
    (subschemas, and the maps that hold them) and the names its `required` lists."""
    weight = 0
    for _, node in _nodes(schema):
        weight += 1
        if isinstance(node.get("required"), list):
            weight += len(node["required"])
    return weight


def _patterns_problem(schema: dict) -> str | None:
    patterns = list(_patterns(schema))
    if len(patterns) > MAX_PATTERNS:
        return f"has {len(patterns):,} patterns; at most {MAX_PATTERNS} are checked per event"
    total = 0
    for pointer, pattern in patterns:
        size = _compiled_bytes(pattern)
        total += size or PATTERN_BYTES + 1
        if total > PATTERN_BYTES:
            return (
                f"has patterns that compile to more than {PATTERN_BYTES // 1024} KiB together, "
                f"which would make each event slow to check (at {pointer}, and before it): "
                "make repetitions shorter, match fewer kinds of character than `.`, or "
                "check lengths with maxLength"
            )
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def event_schema_problem(schema: Any) -> str | None:
    """Why `schema` cannot be used, or None when it can."""
    if not isinstance(schema, dict):
        return "must be a JSON object"
    if _nests_deeper_than(schema, SCHEMA_MAX_DEPTH):
        return f"nests objects and arrays more than {SCHEMA_MAX_DEPTH} levels deep"
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        where = "".join(f"/{part}" for part in exc.absolute_path) or "/"
        return f"is not a valid JSON Schema at {where}: {exc.message}"
    # The API must never wait on the network, nor fail on a reference it cannot follow.
    outside = sorted({ref for ref in _refs(schema) if not ref.startswith("#")})
    if outside:
        return f"may only refer to its own parts ($ref starting with #), not {outside[0]}"
    loop = _ref_loop(schema)
    if loop is not None:
        chain = " → ".join(pointer or "#" for pointer in loop)
        return f"has a $ref loop that never reaches a schema to check against: {chain}"
    try:
        validator_build(schema)
    except jsonschema_rs.ValidationError as exc:
        reason = _first_line(exc)
        if 'is not a "regex"' in reason:
            reason += (
                " for the linear-time regex engine (no lookaround, no backreferences, "
                f"at most {PATTERN_BYTES // 1024} KiB compiled)"
            )
        return f"cannot be used: {reason}"
    weight = schema_weight(schema)
    if weight > MAX_SCHEMA_WEIGHT:
        return (
            f"has {weight:,} subschemas and required names; at most {MAX_SCHEMA_WEIGHT:,} "
            "are checked per event"
        )
    return _patterns_problem(schema)


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


@dataclass(frozen=True)
class BrokenSchema:
    """A schema saved before it could be checked as it is now, which cannot be built."""

    reason: str


@dataclass(frozen=True)
class SchemaCheck:
    validator: jsonschema_rs.Validator
    weight: int


def _load_validators() -> dict[KindKey, SchemaCheck | BrokenSchema]:
    validators: dict[KindKey, SchemaCheck | BrokenSchema] = {}
    for event_schema in EventSchema.objects.all():
        key = (event_schema.application_id, event_schema.category, event_schema.name)
        try:
            validators[key] = SchemaCheck(
                validator_build(event_schema.schema), schema_weight(event_schema.schema)
            )
        except (jsonschema_rs.ValidationError, ValueError, TypeError) as exc:
            validators[key] = BrokenSchema(_first_line(exc))
    return validators


_validators: Reloading[dict[KindKey, SchemaCheck | BrokenSchema]] = Reloading(_load_validators)


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


def _schema_errors(check: SchemaCheck | BrokenSchema, data: dict[str, Any]) -> list[DataError]:
    if isinstance(check, BrokenSchema):
        # Refused rather than let through unchecked: staff asked for this kind to be
        # checked, and the refusals on the error page say what to fix.
        return [
            DataError(
                "data",
                f"cannot be checked: the event schema of this kind is not usable "
                f"({_short(check.reason)}); staff must fix or remove it",
            )
        ]
    if check.validator.is_valid(data):
        return []
    if check.weight * len(orjson.dumps(data)) <= ERROR_LISTING_BUDGET:
        faults = list(check.validator.iter_errors(data))
    else:
        try:
            check.validator.validate(data)
            faults = []
        except jsonschema_rs.ValidationError as first:
            faults = [first]
    errors = []
    for error in sorted(faults, key=lambda e: list(map(str, e.instance_path))):
        path = list(error.instance_path)
        if error.kind.name == "required":
            # Named where it is missing.
            errors.append(DataError(data_pointer([*path, error.kind.property]), "required"))
        else:
            errors.append(DataError(data_pointer(path), _short(error.message)))
    return list(dict.fromkeys(errors))[:MAX_ERRORS_PER_EVENT]


def event_schema_cache_clear() -> None:
    _validators.clear()
