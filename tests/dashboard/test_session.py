"""One session as a story: every event in order, the time between steps, payloads at hand."""

import html
from datetime import timedelta

from django.urls import reverse

from tests.dashboard.support import NOW, SESSION_A, SESSION_B

START = NOW - timedelta(days=3, hours=2)


def url(session) -> str:
    return reverse("dashboard:session", args=[session])


def story(put, web_app, mobile_app) -> list:
    steps = [
        (timedelta(0), "page interaction", "pageview", {"path": "/"}),
        (timedelta(seconds=4.2), "page interaction", "cta click", {"element": "chat bubble"}),
        (timedelta(seconds=42.2), "form interaction", "submit", {"form": "signup"}),
        (timedelta(minutes=6, seconds=12), "commerce", "purchase", {"product": "lamp"}),
    ]
    ids = [
        put(web_app, START + offset, category=category, name=name, data=data)
        for offset, category, name, data in steps
    ]
    # Another session at the same time must not leak in.
    put(mobile_app, START + timedelta(seconds=1), session=SESSION_B, name="noise")
    return ids


def test_it_tells_the_session_in_order_with_the_time_between_steps(
    as_alice, put, web_app, mobile_app
):
    ids = story(put, web_app, mobile_app)

    response = as_alice.get(url(SESSION_A))

    assert response.status_code == 200
    steps = response.context["steps"]
    assert [step.event.event_id for step in steps] == ids
    assert [step.gap for step in steps] == [
        None,
        timedelta(seconds=4.2),
        timedelta(seconds=38),
        timedelta(minutes=5, seconds=29.8),
    ]
    page = response.content.decode()
    assert page.index("+4.2 s") < page.index("+38 s") < page.index("+5 min 30 s")
    assert '<span class="step-name">noise</span>' not in page


def test_it_heads_the_page_with_app_count_duration_and_first_time(
    as_alice, put, web_app, mobile_app
):
    story(put, web_app, mobile_app)

    response = as_alice.get(url(SESSION_A))

    page = response.content.decode()
    assert "<dt>App</dt><dd>web</dd>" in page
    assert '<dd data-stat="events">4</dd>' in page
    assert "<dd>6 min 12 s</dd>" in page
    assert f"{START:%Y-%m-%d %H:%M:%S}</time> UTC" in page


def test_it_shows_the_category_name_path_with_repeats_folded(as_alice, put, web_app):
    for i, name in enumerate(["pageview", "pageview", "pageview", "cta click", "pageview"]):
        put(web_app, START + timedelta(seconds=i), name=name)

    response = as_alice.get(url(SESSION_A))

    path = [(part.name, part.times) for part in response.context["path"]]
    assert path == [("pageview", 3), ("cta click", 1), ("pageview", 1)]
    assert "\u00d73" in response.content.decode()


def test_it_keeps_each_payload_one_click_away(as_alice, put, web_app, mobile_app):
    ids = story(put, web_app, mobile_app)

    page = as_alice.get(url(SESSION_A)).content.decode()

    pretty = html.escape('{\n  "element": "chat bubble"\n}')
    assert f'<pre id="payload-{ids[1]}">{pretty}</pre>' in page
    assert page.count('<details class="step">') == 4
    # The step line says what happened without opening anything.
    assert "chat bubble" in page.split(f'<pre id="payload-{ids[1]}"')[0]


def test_it_answers_404_for_a_session_without_events(as_alice, db):
    response = as_alice.get(url(SESSION_B))

    assert response.status_code == 404
    assert "No stored event belongs to this session" in response.content.decode()


def test_it_links_the_session_to_explore_and_export(as_alice, put, web_app, mobile_app):
    story(put, web_app, mobile_app)

    page = as_alice.get(url(SESSION_A)).content.decode()

    assert f"{reverse('dashboard:explore')}?range=all&amp;session={SESSION_A}" in page
    assert f"{reverse('dashboard:export_csv')}?range=all&amp;session={SESSION_A}" in page


def test_it_cuts_a_runaway_session_and_says_how_many_events_it_has(
    as_alice, put, web_app, monkeypatch
):
    monkeypatch.setattr("dashboard.views.sessions.SESSION_STEPS", 3)
    for i in range(5):
        put(web_app, START + timedelta(seconds=i))

    response = as_alice.get(url(SESSION_A))

    assert len(response.context["steps"]) == 3
    page = response.content.decode()
    assert '<dd data-stat="events">5</dd>' in page
    assert "Showing the first 3 events." in page
    assert "<dd>4.0 s</dd>" in page  # the duration runs to the last event, not the last shown
