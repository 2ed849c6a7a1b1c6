"""Event schemas: the API checks `data` against the schema of its kind and points into
the payload when it does not match."""

import time

import pytest
from django.core.exceptions import ValidationError

from events.event_schemas import event_schema_problem, event_schema_remove, event_schema_save
from events.models import AuditEntry, EventSchema

SIGNUP_SCHEMA = {
    "type": "object",
    "required": ["form"],
    "properties": {
        "form": {
            "type": "object",
            "required": ["first_name", "email"],
            "properties": {
                "first_name": {"type": "string", "minLength": 1},
                "email": {"type": "string", "format": "email"},
                "age": {"type": "integer", "minimum": 0},
            },
        },
        "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
}


def signup(data: dict) -> dict:
    return {
        "session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423",
        "category": "form interaction",
        "name": "signup",
        "data": data,
        "timestamp": "2021-01-01 09:15:27",
    }


def nested(schema: dict, *, levels: int) -> dict:
    """`schema` inside `{"not": …}` until it is `levels` objects deep."""
    for _ in range(levels - 1):
        schema = {"not": schema}
    return schema


@pytest.fixture
def signup_schema(db):
    return event_schema_save(
        application=None, category="form interaction", name="signup", schema=SIGNUP_SCHEMA
    )


def test_a_matching_payload_is_accepted(api, web_app, signup_schema):
    data = {"form": {"first_name": "Ada", "email": "ada@example.com", "age": 36}}
    assert api.post(signup(data), key=web_app.writer).status_code == 202


def test_a_missing_property_is_named_where_it_is_missing(api, web_app, signup_schema):
    response = api.post(signup({"form": {"email": "ada@example.com"}}), key=web_app.writer)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "data.form.first_name", "message": "required"}]


def test_every_fault_of_every_event_in_a_batch_is_named(api, web_app, signup_schema):
    good = signup({"form": {"first_name": "Ada", "email": "ada@example.com"}})
    bad = signup({"form": {"first_name": "", "email": "nope", "age": -1}, "items": [{}]})
    response = api.post([good, bad], key=web_app.writer)
    assert response.status_code == 422
    errors = {(e["index"], e["field"]): e["message"] for e in response.json()["errors"]}
    assert set(errors) == {
        (1, "data.form.first_name"),
        (1, "data.form.email"),
        (1, "data.form.age"),
        (1, "data.items[0].sku"),
    }
    assert 'is not a "email"' in errors[(1, "data.form.email")]
    assert "minimum of 0" in errors[(1, "data.form.age")]
    assert errors[(1, "data.items[0].sku")] == "required"


def test_kinds_without_a_schema_are_accepted_by_default(api, web_app, signup_schema):
    other = {**signup({"anything": [1, 2]}), "name": "newsletter"}
    assert api.post(other, key=web_app.writer).status_code == 202


def test_kinds_without_a_schema_can_be_refused(api, web_app, signup_schema, settings):
    settings.EYE_REQUIRE_EVENT_SCHEMA = True
    other = {**signup({}), "name": "newsletter"}
    response = api.post(other, key=web_app.writer)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "name"
    assert "no event schema" in error["message"] and "'newsletter'" in error["message"]
    valid = signup({"form": {"first_name": "Ada", "email": "ada@example.com"}})
    assert api.post(valid, key=web_app.writer).status_code == 202


def test_an_applications_own_schema_wins(api, web_app, mobile_app, signup_schema):
    event_schema_save(
        application=mobile_app.application,
        category="form interaction",
        name="signup",
        schema={"type": "object", "required": ["phone"]},
    )
    assert api.post(signup({"phone": "+44"}), key=mobile_app.writer).status_code == 202
    response = api.post(signup({"phone": "+44"}), key=web_app.writer)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "data.form"


def test_a_change_applies_to_new_events_only(api, web_app, drain):
    from tests.support import stored_events

    queued = signup({"form": {"first_name": "Ada"}})
    assert api.post(queued, key=web_app.writer).status_code == 202
    event_schema_save(
        application=None, category="form interaction", name="signup", schema=SIGNUP_SCHEMA
    )
    assert api.post(queued, key=web_app.writer).status_code == 422
    drain()
    assert len(stored_events()) == 1


@pytest.mark.parametrize(
    "schema, problem",
    [
        ([], "must be a JSON object"),
        ({"type": "strang"}, "not a valid JSON Schema at /type"),
        ({"properties": {"a": {"minimum": "zero"}}}, "at /properties/a/minimum"),
        ({"$ref": "https://example.com/schema.json"}, "may only refer to its own parts"),
        ({"$ref": "#/nonexistent"}, "Pointer '/nonexistent' does not exist"),
        ({"properties": {"a": {"$ref": "#/$defs/gone"}}}, "'/$defs/gone' does not exist"),
        ({"$ref": "#nope"}, "Anchor 'nope' does not exist"),
        (
            {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}},
            "never reaches a schema to check against: /$defs/a → /$defs/b → /$defs/a",
        ),
        ({"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}}, "$ref loop"),
        ({"$ref": "#"}, "$ref loop that never reaches a schema to check against: # → #"),
        ({"$defs": {"x": {"$anchor": "x", "not": {"$ref": "#x"}}}}, "$ref loop"),
        ({"pattern": "(?=a)b"}, "for the linear-time regex engine"),
        ({"patternProperties": {"(a)\\1": {}}}, "for the linear-time regex engine"),
        (nested({"type": "string"}, levels=65), "nests objects and arrays more than 64 levels"),
        # Linear in the text, but 4 s over 60 KB: the cost of a pattern grows with its size.
        ({"properties": {"s": {"pattern": "(?:\\w{300}){100}"}}}, "at most 256 KiB compiled"),
        ({"properties": {"s": {"pattern": "(?:\\d{300}){100}"}}}, "at most 256 KiB compiled"),
        ({"patternProperties": {"(?:[#]{300}){100}": {}}}, "at most 256 KiB compiled"),
        (
            {"propertyNames": {"allOf": [{"pattern": "(?:\\d{100}){10}"}] * 3}},
            "compile to more than 256 KiB together, which would make each event slow to "
            "check (at /propertyNames/allOf/2/pattern",
        ),
        ({"allOf": [{"pattern": "a"}] * 101}, "has 101 patterns; at most 100"),
        (
            {"properties": {"p": {"allOf": [{"type": "string"}] * 2000}}},
            "has 2,003 subschemas and required names; at most 2,000",
        ),
    ],
)
def test_a_schema_that_cannot_be_used_is_refused_when_saved(db, schema, problem):
    assert problem in event_schema_problem(schema)
    with pytest.raises(ValidationError, match="The schema"):
        event_schema_save(application=None, category="c", name="n", schema=schema)
    assert not EventSchema.objects.exists()
    assert not AuditEntry.objects.exists()


def test_everyday_patterns_are_allowed(db):
    patterns = [
        "^[\\w.+-]+@[\\w-]+\\.[\\w.]+$",
        "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        "^\\d{4}-\\d{2}-\\d{2}$",
        "pricing|checkout|sign.?up",
        "^https?://[^\\s/$.?#].[^\\s]*$",
    ]
    schema = {
        "properties": {f"p{i}": {"type": "string", "pattern": p} for i, p in enumerate(patterns)},
        "patternProperties": {"^utm_[a-z]+$": {"type": "string"}},
    }

    assert event_schema_problem(schema) is None


def test_an_event_that_fails_a_heavy_schema_on_large_data_is_named_by_its_first_fault(
    api, web_app, db
):
    # 70 branches over one object of 64 KB: listing every fault would copy it 70 times.
    schema = {"properties": {"p": {"allOf": [{"type": "string"}] * 70}, "q": {"type": "string"}}}
    event_schema_save(application=None, category="form interaction", name="signup", schema=schema)
    large = {"p": {f"k{i}": i for i in range(5000)}, "q": 1}
    small = {"p": 1, "q": 1}

    large_errors = api.post(signup(large), key=web_app.writer).json()["errors"]
    small_errors = api.post(signup(small), key=web_app.writer).json()["errors"]

    assert [e["field"] for e in large_errors] == ["data.p"]
    assert [e["field"] for e in small_errors] == ["data.p", "data.q"]


def test_a_schema_as_deep_as_data_may_be_is_allowed(db):
    assert event_schema_problem(nested({"type": "string"}, levels=64)) is None


def test_local_references_are_allowed(api, web_app, db):
    schema = {
        "$defs": {"name": {"type": "string"}},
        "type": "object",
        "properties": {"first": {"$ref": "#/$defs/name"}},
    }
    event_schema_save(application=None, category="form interaction", name="signup", schema=schema)
    response = api.post(signup({"first": 3}), key=web_app.writer)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "data.first"


def test_a_recursive_schema_that_goes_down_into_the_value_is_no_loop(api, web_app, db):
    tree = {
        "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node",
    }
    event_schema_save(application=None, category="form interaction", name="signup", schema=tree)

    good = {"child": {"child": {}}}
    assert api.post(signup(good), key=web_app.writer).status_code == 202
    response = api.post(signup({"child": {"child": 3}}), key=web_app.writer)
    assert response.json()["errors"][0]["field"] == "data.child.child"


def test_a_catastrophic_pattern_costs_a_request_no_more_than_a_plain_one(api, web_app, db):
    """`^(a+)+$` took 14 s to refuse 29 `a`s and a `!` with a backtracking engine."""
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "pattern": "^(a+)+$"}},
        "patternProperties": {"^(a+)+$": {"type": "integer"}},
    }
    event_schema_save(application=None, category="form interaction", name="signup", schema=schema)
    # 25 `a`s: enough for a backtracking engine to take seconds over the batch, while
    # the test still ends on one.
    evil = "a" * 25 + "!"
    batch = [signup({"name": evil, evil: "x", "a" * 25: "y"})] * 3

    started = time.perf_counter()
    response = api.post(batch, key=web_app.writer)
    elapsed = time.perf_counter() - started

    assert response.status_code == 422
    fields = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert (0, "data.name") in fields and (2, f"data.{'a' * 25}") in fields
    assert elapsed < 2, f"the request took {elapsed:.1f} s"


def test_a_schema_saved_before_it_was_checked_refuses_events_by_name(api, web_app, db):
    # Saved past the service, as schemas were before references were resolved on save.
    EventSchema.objects.create(
        application=None, category="form interaction", name="signup", schema={"$ref": "#nope"}
    )

    response = api.post(signup({}), key=web_app.writer)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "data"
    assert "event schema of this kind is not usable" in error["message"]


def test_saving_replacing_and_removing_are_audited(db, django_user_model, signup_schema):
    bob = django_user_model.objects.create_user("bob", is_staff=True)
    replaced = event_schema_save(
        application=None, category="form interaction", name="signup", schema={}, actor=bob
    )
    assert replaced.pk == signup_schema.pk
    event_schema_remove(event_schema=replaced, actor=bob)
    actions = list(AuditEntry.objects.order_by("id").values_list("actor_name", "action"))
    assert actions == [
        ("command line", "schema.saved"),
        ("bob", "schema.saved"),
        ("bob", "schema.removed"),
    ]
    assert not EventSchema.objects.exists()
