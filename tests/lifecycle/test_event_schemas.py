"""Event schemas: the API checks `data` against the schema of its kind and points into
the payload when it does not match."""

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
    assert "is not a 'email'" in errors[(1, "data.form.email")]
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
    ],
)
def test_a_schema_that_cannot_be_used_is_refused_when_saved(db, schema, problem):
    assert problem in event_schema_problem(schema)
    with pytest.raises(ValidationError, match="The schema"):
        event_schema_save(application=None, category="c", name="n", schema=schema)
    assert not EventSchema.objects.exists()
    assert not AuditEntry.objects.exists()


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
