"""The Digest page: every signed-in user subscribes to a daily or weekly digest of the
overview (of all applications or one), changes it, or unsubscribes."""

from datetime import timedelta

from django.test import Client
from django.urls import reverse

from alerts.models import DigestSubscription
from insights.services import dashboard_create, insight_create
from tests.dashboard.support import NOW

URL = reverse("dashboard:digest")


def test_it_subscribes_changes_and_unsubscribes(as_alice, alice, web_app, known_events):
    page = as_alice.get(URL).content.decode()
    assert 'data-subscription="none"' in page and "A weekly digest looks like this" in page
    assert "Events: " in page

    response = as_alice.post(
        URL, {"frequency": "weekly", "email": "alice@example.com"}, follow=True
    )
    assert "You will get a weekly digest at alice@example.com" in response.content.decode()
    subscription = DigestSubscription.objects.get(user=alice)
    assert (subscription.frequency, subscription.application) == ("weekly", None)
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"

    as_alice.post(
        URL,
        {"frequency": "daily", "application": web_app.application.pk, "email": "a@example.com"},
    )
    subscription = DigestSubscription.objects.get(user=alice)
    assert (subscription.frequency, subscription.application) == ("daily", web_app.application)
    page = as_alice.get(URL).content.decode()
    assert 'data-subscription="daily"' in page and "of web at a@example.com" in page

    as_alice.post(URL, {"frequency": "", "email": "a@example.com"})
    assert not DigestSubscription.objects.exists()


def test_it_needs_an_address(as_alice, alice):
    response = as_alice.post(URL, {"frequency": "daily", "email": ""})

    assert response.status_code == 400
    assert 'id="id_email_error"' in response.content.decode()
    assert not DigestSubscription.objects.exists()


def test_it_refuses_an_address_longer_than_an_account_holds(as_alice, alice):
    response = as_alice.post(URL, {"frequency": "daily", "email": "x" * 250 + "@example.com"})

    assert response.status_code == 400
    assert 'id="id_email_error"' in response.content.decode()
    assert not DigestSubscription.objects.exists()


def test_it_is_offered_to_everyone_signed_in(as_alice):
    assert f'href="{URL}"' in as_alice.get(reverse("dashboard:overview")).content.decode()
    anonymous = Client().get(URL)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))


def test_it_subscribes_to_a_saved_dashboards_digest(as_alice, alice, web_app, known_events):
    board = dashboard_create(owner=alice, name="Growth")
    insight_create(owner=alice, kind="overview", name="All", query="range=7d", dashboard=board)

    as_alice.post(
        URL,
        {
            "frequency": "weekly",
            "dashboard": board.pk,
            "application": web_app.application.pk,
            "email": "a@example.com",
        },
    )

    subscription = DigestSubscription.objects.get(user=alice)
    # The dashboard's insights name their own applications.
    assert (subscription.frequency, subscription.dashboard, subscription.application) == (
        "weekly",
        board,
        None,
    )
    page = as_alice.get(URL).content.decode()
    assert "of the dashboard Growth at a@example.com" in page
    assert "[The Eye] Your week: Growth" in page and "All: " in page


def preview_of(response) -> str:
    return response.content.decode().split('<pre class="digest-preview">')[1].split("</pre>")[0]


def test_it_shows_event_categories_and_names_in_the_preview_as_text(
    as_alice, put, web_app, clock, monkeypatch
):
    # The view took utc_now by name when it was imported, before the clock was stopped.
    monkeypatch.setattr("dashboard.views.digest.utc_now", lambda: clock)
    # In the weekly digest's period: the week from Monday 2026-03-09 to Monday 2026-03-16.
    put(web_app, NOW - timedelta(days=5), category='<a href="//evil.test">x</a>', name="<b>n</b>")

    preview = preview_of(as_alice.get(URL))

    assert "&lt;a href=&quot;//evil.test&quot;&gt;x&lt;/a&gt; / &lt;b&gt;n&lt;/b&gt;: 1" in preview
    assert "<a" not in preview and "<b>" not in preview


def test_it_shows_dashboard_and_insight_names_in_the_preview_as_text(as_alice, alice):
    board = dashboard_create(owner=alice, name="<i>board</i>")
    insight_create(
        owner=alice, kind="overview", name="<img src=x>", query="range=7d", dashboard=board
    )
    DigestSubscription.objects.create(user=alice, frequency="weekly", dashboard=board)

    preview = preview_of(as_alice.get(URL))

    assert "&lt;i&gt;board&lt;/i&gt;" in preview and "&lt;img src=x&gt;" in preview
    assert "<i>" not in preview and "<img" not in preview
