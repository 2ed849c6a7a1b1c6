"""Event schemas: listed, created, edited and removed; a schema that is not JSON, or not
a JSON Schema, is refused inline and nothing is saved."""

import json
import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from events.event_schemas import event_schema_cache_clear
from events.models import AuditEntry, EventSchema
from tests.support import SEED_EVENT

URL = reverse("dashboard:manage_schemas")
CTA_SCHEMA = {
    "type": "object",
    "properties": {"element": {"type": "string"}},
    "required": ["element"],
}


@pytest.fixture(autouse=True)
def _forget_schemas():
    # The API keeps the schemas it read in this process; the test's are rolled back.
    yield
    event_schema_cache_clear()


def form(schema: object | str, *, category="page interaction", name="cta click", app="") -> dict:
    text = schema if isinstance(schema, str) else json.dumps(schema)
    return {"application": app, "category": category, "name": name, "schema": text}


def test_it_creates_a_schema_and_lists_it(as_bob, bob, web_app):
    response = as_bob.post(URL, form(CTA_SCHEMA, app=web_app.application.pk), follow=True)

    assert response.redirect_chain == [(URL, 302)]
    saved = EventSchema.objects.get()
    assert (saved.application, saved.category, saved.name, saved.schema) == (
        web_app.application,
        "page interaction",
        "cta click",
        CTA_SCHEMA,
    )
    html = response.content.decode()
    assert "Schema for page interaction / cta click (web) saved." in html
    row = html.split(f'data-schema="{saved.pk}"')[1].split("</tr>")[0]
    assert "<td>page interaction</td>" in row and ">cta click</a>" in row and "<td>web</td>" in row
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SCHEMA_SAVED)
    assert entry.actor == bob


def test_it_says_all_applications_for_a_shared_schema(as_bob, db):
    as_bob.post(URL, form(CTA_SCHEMA))

    html = as_bob.get(URL).content.decode()
    assert EventSchema.objects.get().application is None
    assert '<span class="muted">all applications</span>' in html


def test_it_applies_a_saved_schema_to_new_events(
    as_bob, web_app, api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        as_bob.post(URL, form(CTA_SCHEMA))

    missing = {**SEED_EVENT, "data": {"path": "/"}}
    assert api.post(SEED_EVENT, key=web_app.writer).status_code == 202
    refused = api.post(missing, key=web_app.writer)
    assert refused.status_code == 422
    assert "data.element" in refused.content.decode()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"type": "object",}', "This is not valid JSON: "),
        ("{'type': 'object'}", "This is not valid JSON: Expecting property name"),
        ('{"type": "object"', "(line 1, column 18)"),
        ('{"type": "thing"}', "is not a valid JSON Schema at /type"),
        ('{"minLength": -1}', "is not a valid JSON Schema at /minLength"),
        ("[1, 2]", "must be a JSON object"),
        ('{"$ref": "#/nonexistent"}', "Pointer &#x27;/nonexistent&#x27; does not exist"),
        ('{"$ref": "#nope"}', "Anchor &#x27;nope&#x27; does not exist"),
        ('{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}', "$ref loop"),
        # Past the standard library parser's stack, and past jsonschema's.
        ('{"a":' * 5000 + "1" + "}" * 5000, "nests objects and arrays more than 64 levels"),
        ('{"not":' * 150 + "{}" + "}" * 150, "nests objects and arrays more than 64 levels"),
    ],
)
def test_it_refuses_a_schema_that_is_not_json_or_not_a_json_schema(as_bob, db, text, error):
    response = as_bob.post(URL, form(text))

    assert response.status_code == 400
    html = response.content.decode()
    field_error = html.split('id="id_schema_error">')[1].split("</p>")[0]
    assert error in field_error
    textarea = re.search(r'<textarea[^>]*name="schema"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in textarea
    assert 'aria-describedby="id_schema_helptext id_schema_error"' in textarea
    # What was typed stays in the box to be fixed.
    assert f"{escape(text)}</textarea>" in html
    assert not EventSchema.objects.exists()
    assert not AuditEntry.objects.exists()


def test_it_refuses_a_second_schema_for_the_same_kind(as_bob, db):
    as_bob.post(URL, form(CTA_SCHEMA))

    response = as_bob.post(URL, form({"type": "object"}))

    assert response.status_code == 400
    assert "This kind has a schema for all applications already" in response.content.decode()
    assert EventSchema.objects.get().schema == CTA_SCHEMA


def test_it_edits_a_schema_but_not_its_kind(as_bob, db):
    as_bob.post(URL, form(CTA_SCHEMA))
    saved = EventSchema.objects.get()
    url = reverse("dashboard:manage_schema", args=[saved.pk])

    page = as_bob.get(url).content.decode()
    assert "&quot;required&quot;: [\n    &quot;element&quot;\n  ]" in page
    assert 'name="category" value="page interaction"' in page and "disabled" in page

    changed = {"type": "object", "maxProperties": 3}
    response = as_bob.post(url, form(changed, category="other", name="other"), follow=True)

    assert response.redirect_chain == [(URL, 302)]
    saved.refresh_from_db()
    assert (saved.category, saved.name, saved.schema) == ("page interaction", "cta click", changed)
    assert EventSchema.objects.count() == 1


def test_it_keeps_the_old_schema_when_an_edit_is_invalid(as_bob, db):
    as_bob.post(URL, form(CTA_SCHEMA))
    saved = EventSchema.objects.get()

    response = as_bob.post(reverse("dashboard:manage_schema", args=[saved.pk]), form("{nope"))

    assert response.status_code == 400
    assert "This is not valid JSON" in response.content.decode()
    saved.refresh_from_db()
    assert saved.schema == CTA_SCHEMA


def test_it_removes_a_schema_after_confirmation(as_bob, bob, db):
    as_bob.post(URL, form(CTA_SCHEMA))
    saved = EventSchema.objects.get()
    url = reverse("dashboard:manage_schema_remove", args=[saved.pk])

    confirm = as_bob.get(url).content.decode()
    assert ">Remove schema</button>" in confirm
    assert "will be accepted whatever their data holds" in confirm
    assert EventSchema.objects.exists()

    response = as_bob.post(url, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert not EventSchema.objects.exists()
    assert "Schema for page interaction / cta click removed." in response.content.decode()
    assert AuditEntry.objects.get(action=AuditEntry.Action.SCHEMA_REMOVED).actor == bob


def test_it_says_an_applications_schema_gives_way_to_the_shared_one(as_bob, web_app):
    as_bob.post(URL, form(CTA_SCHEMA))
    as_bob.post(URL, form({"type": "object"}, app=web_app.application.pk))
    own = EventSchema.objects.get(application=web_app.application)

    confirm = as_bob.get(reverse("dashboard:manage_schema_remove", args=[own.pk]))

    assert "checked by the schema shared by all applications" in confirm.content.decode()


@pytest.mark.parametrize(
    ("required", "said"),
    [
        (False, "Events of kinds <strong>without a schema are accepted</strong>"),
        (True, "Events of kinds <strong>without a schema are refused</strong>"),
    ],
)
def test_it_says_whether_kinds_without_a_schema_are_accepted(as_bob, settings, required, said):
    settings.EYE_REQUIRE_EVENT_SCHEMA = required

    html = as_bob.get(URL).content.decode()

    assert said in html
    assert "A change applies to <strong>new events only</strong>" in html
