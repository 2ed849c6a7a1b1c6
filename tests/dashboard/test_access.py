"""Who may see the dashboard: everyone logged in reads every page; nobody else sees any."""

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from dashboard import urls as dashboard_urls
from tests.dashboard.support import SESSION_A

# A URL for every dashboard route, with whatever each needs to render a real page.
PAGES = {
    "overview": reverse("dashboard:overview"),
    "explore": reverse("dashboard:explore"),
    "export_csv": reverse("dashboard:export_csv"),
    "export_ndjson": reverse("dashboard:export_ndjson"),
    "export_progress": reverse("dashboard:export_progress") + "?token=" + "0" * 32,
    "sessions": reverse("dashboard:sessions"),
    "session": reverse("dashboard:session", args=[SESSION_A]),
    "category": reverse("dashboard:category") + "?category=page+interaction",
    "name": reverse("dashboard:name") + "?name=pageview",
    "live": reverse("dashboard:live"),
    "live_rows": reverse("dashboard:live_rows"),
    "errors": reverse("dashboard:errors"),
    "digest": reverse("dashboard:digest"),
    "funnels": reverse("dashboard:funnels"),
    "dashboards": reverse("dashboard:dashboards"),
}


def test_it_lists_every_dashboard_route_here():
    routes = {p.name for p in dashboard_urls.urlpatterns if isinstance(p, URLPattern)}
    assert routes == set(PAGES), "a new page needs its access tests"


@pytest.mark.parametrize("page", sorted(PAGES))
def test_it_sends_anonymous_visitors_to_the_login_page(client, db, page):
    response = client.get(PAGES[page])

    assert response.status_code == 302
    login, _, next_url = response["Location"].partition("?next=")
    assert login == reverse("login")
    assert next_url


@pytest.mark.parametrize("page", sorted(PAGES))
def test_it_shows_every_page_to_a_viewer(as_alice, known_events, page):
    response = as_alice.get(PAGES[page])

    # The session page answers 404 for a session with no events; SESSION_A has none here.
    assert response.status_code == (404 if page == "session" else 200)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_it_shows_every_page_to_staff(as_bob, known_events, page):
    response = as_bob.get(PAGES[page])

    assert response.status_code == (404 if page == "session" else 200)


@pytest.mark.parametrize("page", ["overview", "explore", "live", "errors"])
def test_it_only_reads(as_alice, page):
    assert as_alice.post(PAGES[page]).status_code == 405


def test_it_logs_a_viewer_in_and_lands_on_the_overview(alice, db):
    client = Client(enforce_csrf_checks=True)
    form = client.get(reverse("login"))
    token = form.cookies["csrftoken"].value

    response = client.post(
        reverse("login"),
        {"username": "alice", "password": "alice-password-1", "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:overview")
    assert client.get(reverse("dashboard:overview")).status_code == 200


def test_it_returns_to_the_page_asked_for_after_login(alice, client):
    target = reverse("dashboard:explore") + "?range=30d"

    response = client.post(
        reverse("login") + "?next=" + target,
        {"username": "alice", "password": "alice-password-1", "next": target},
    )

    assert response["Location"] == target


def test_it_refuses_a_wrong_password(alice, client):
    response = client.post(reverse("login"), {"username": "alice", "password": "guess"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert client.get(reverse("dashboard:overview")).status_code == 302


def test_it_refuses_a_login_without_its_csrf_token(alice, db):
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"})

    assert response.status_code == 403


def test_it_logs_out_only_by_post_with_a_csrf_token(alice, db):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = client.get(reverse("dashboard:overview"))
    html = page.content.decode()
    assert f'action="{reverse("logout")}"' in html
    assert 'name="csrfmiddlewaretoken"' in html

    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 403
    response = client.post(
        reverse("logout"), {"csrfmiddlewaretoken": page.cookies["csrftoken"].value}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("dashboard:overview")).status_code == 302


def test_it_shows_who_is_logged_in_and_their_role(as_alice, as_bob):
    viewer = as_alice.get(reverse("dashboard:overview")).content.decode()
    staff = as_bob.get(reverse("dashboard:overview")).content.decode()

    assert "alice" in viewer and ">staff<" not in viewer
    assert "bob" in staff and ">staff<" in staff


def test_it_marks_the_current_page_in_the_nav(as_alice):
    html = as_alice.get(reverse("dashboard:explore")).content.decode()

    assert f'href="{reverse("dashboard:explore")}" aria-current="page"' in html
    assert f'href="{reverse("dashboard:overview")}" aria-current="page"' not in html
