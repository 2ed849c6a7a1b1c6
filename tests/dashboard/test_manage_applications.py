"""Applications: the list with their volume and keys, creation, and each one's page."""

from datetime import UTC, timedelta

from django.urls import reverse
from django.utils import timezone

from events.models import Application, AuditEntry
from tests.dashboard.support import axis_time, figure_of, stacks

URL = reverse("dashboard:manage_applications")


def page_url(app) -> str:
    return reverse("dashboard:manage_application", args=[app.application.pk])


def test_it_lists_each_application_with_its_volume_last_event_and_live_keys(
    as_bob, put, web_app, mobile_app
):
    # The summaries count against the real clock, not the dashboard's stopped one.
    now = timezone.now()
    put(web_app, now - timedelta(hours=2))
    put(web_app, now - timedelta(days=3))
    put(web_app, now - timedelta(days=40))
    put(mobile_app, now - timedelta(minutes=5))
    key = web_app.stored(web_app.reader)
    key.revoked_at = now
    key.save()

    response = as_bob.get(URL)

    rows = {s.application.name: s for s in response.context["summaries"]}
    assert (rows["web"].events_24h, rows["web"].events_30d, rows["web"].live_keys) == (1, 2, 2)
    assert (rows["mobile"].events_24h, rows["mobile"].events_30d) == (1, 1)
    assert rows["mobile"].live_keys == 3
    html = response.content.decode()
    web_row = html.split('data-application="web"')[1].split("</tr>")[0]
    assert '<td class="num" data-stat="events_24h">1</td>' in web_row
    assert '<td class="num" data-stat="events_30d">2</td>' in web_row
    assert '<td class="num" data-stat="live_keys">2</td>' in web_row
    mobile_row = html.split('data-application="mobile"')[1].split("</tr>")[0]
    last = rows["mobile"].last_event_at
    assert last is not None and abs(last - (now - timedelta(minutes=5))) < timedelta(seconds=1)
    assert last.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") in mobile_row


def test_it_says_never_for_an_application_without_events(as_bob, web_app):
    html = as_bob.get(URL).content.decode()

    row = html.split('data-application="web"')[1].split("</tr>")[0]
    assert "never" in row


def test_it_creates_an_application_and_goes_to_its_page(as_bob, bob):
    response = as_bob.post(URL, {"name": "  checkout  "}, follow=True)

    application = Application.objects.get(name="checkout")
    assert response.redirect_chain == [
        (reverse("dashboard:manage_application", args=[application.pk]), 302)
    ]
    assert "Application checkout created." in response.content.decode()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.APPLICATION_CREATED)
    assert (entry.actor, entry.actor_name, entry.target) == (bob, "bob", "checkout")


def test_it_refuses_a_name_taken_already_inline(as_bob, web_app):
    response = as_bob.post(URL, {"name": "Web"})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_name_error">There is already an application called web.</p>' in html
    assert 'aria-invalid="true"' in html
    assert Application.objects.count() == 1
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.APPLICATION_CREATED).exists()


def test_it_refuses_an_empty_name(as_bob, db):
    response = as_bob.post(URL, {"name": "   "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Application.objects.exists()


def test_it_charts_the_events_of_the_last_30_days_per_day(as_bob, put, web_app, mobile_app):
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    put(web_app, today + timedelta(minutes=1))
    put(web_app, today - timedelta(days=2, hours=-3))
    put(web_app, today - timedelta(days=2, hours=-5))
    put(web_app, today - timedelta(days=35))  # older than the chart
    put(mobile_app, today - timedelta(days=2, hours=-3))  # another application

    response = as_bob.get(page_url(web_app))

    figure = figure_of(response, "volume")
    [(name, bars)] = stacks(figure).items()
    assert name == "web"
    days = list(bars)
    assert len(days) == 30
    assert (days[0], days[-1]) == (axis_time(today - timedelta(days=29)), axis_time(today))
    assert {x: y for x, y in bars.items() if y} == {
        axis_time(today - timedelta(days=2)): 2,
        axis_time(today): 1,
    }
    html = response.content.decode()
    assert '<dd data-stat="events_30d">3</dd>' in html
    assert '<script src="/static/plotly/plotly.min.js" defer></script>' in html


def test_it_says_so_when_an_application_sent_nothing_for_30_days(as_bob, web_app):
    response = as_bob.get(page_url(web_app))

    assert "No events in the last 30 days." in response.content.decode()
    assert 'id="volume-figure"' not in response.content.decode()


def test_it_answers_404_for_an_unknown_application(as_bob, db):
    assert as_bob.get(reverse("dashboard:manage_application", args=[999])).status_code == 404
