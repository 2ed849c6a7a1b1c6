"""The audit log: every entry newest first, 50 to a page, filtered by action and by who."""

from django.contrib.auth.models import User
from django.urls import reverse

from events.audit import audit_record
from events.models import AuditEntry

URL = reverse("dashboard:manage_audit")
Action = AuditEntry.Action


def test_it_lists_entries_newest_first_with_who_what_target_and_details(as_bob, bob):
    audit_record(actor=None, action=Action.APPLICATION_CREATED, target="web")
    audit_record(
        actor=bob, action=Action.RETENTION_SAVED, target="every event", details={"days": 30}
    )

    response = as_bob.get(URL)

    entries = list(response.context["page"].object_list)
    assert [(e.actor_name, e.action) for e in entries] == [
        ("bob", Action.RETENTION_SAVED),
        ("command line", Action.APPLICATION_CREATED),
    ]
    html = response.content.decode()
    newest = html.split('data-action="retention.saved"')[1].split("</tr>")[0]
    assert '<td class="nowrap">bob</td>' in newest
    assert '<td class="nowrap">Retention saved</td>' in newest
    assert '<td class="col-target">every event</td>' in newest
    assert "{&quot;days&quot;:30}" in newest
    assert html.index('data-action="retention.saved"') < html.index(
        'data-action="application.created"'
    )


def test_it_filters_by_action(as_bob, bob):
    audit_record(actor=bob, action=Action.KEY_ISSUED, target="web")
    audit_record(actor=bob, action=Action.KEY_REVOKED, target="web")
    audit_record(actor=bob, action=Action.KEY_ISSUED, target="mobile")

    response = as_bob.get(URL, {"action": "key.issued"})

    assert [e.target for e in response.context["page"].object_list] == ["mobile", "web"]
    html = response.content.decode()
    assert '<option value="key.issued" selected>Key issued</option>' in html
    assert 'data-action="key.revoked"' not in html


def test_it_filters_by_actor(as_bob, bob):
    carol = User.objects.create_user("carol", is_staff=True)
    audit_record(actor=bob, action=Action.SCHEMA_SAVED, target="a / b")
    audit_record(actor=carol, action=Action.SCHEMA_REMOVED, target="a / b")
    audit_record(actor=None, action=Action.APPLICATION_CREATED, target="web")

    by_carol = as_bob.get(URL, {"actor": "carol"}).context["page"].object_list
    by_command = as_bob.get(URL, {"actor": "command line"}).context["page"].object_list
    both = as_bob.get(URL, {"actor": "bob", "action": "schema.removed"})

    assert [e.action for e in by_carol] == [Action.SCHEMA_REMOVED]
    assert [e.action for e in by_command] == [Action.APPLICATION_CREATED]
    assert list(both.context["page"].object_list) == []
    assert "No entry matches these filters." in both.content.decode()


def test_it_refuses_an_unknown_filter_value_inline(as_bob, bob):
    audit_record(actor=bob, action=Action.KEY_ISSUED, target="web")

    response = as_bob.get(URL, {"action": "key.stolen"})

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert len(response.context["page"].object_list) == 1


def test_it_pages_through_many_entries(as_bob, bob):
    for i in range(60):
        audit_record(actor=bob, action=Action.KEY_ISSUED, target=f"app-{i:02d}")

    first = as_bob.get(URL)
    second = as_bob.get(URL, {"page": 2})

    assert len(first.context["page"].object_list) == 50
    assert first.context["page"].object_list[0].target == "app-59"
    assert [e.target for e in second.context["page"].object_list] == [
        f"app-{i:02d}" for i in range(9, -1, -1)
    ]
    assert "page=2" in first.content.decode()
    assert "page 1 of 2" in first.content.decode()


def test_it_says_when_the_log_is_empty(as_bob):
    assert "Nothing yet." in as_bob.get(URL).content.decode()
