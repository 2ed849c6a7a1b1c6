"""Saved insights and dashboards: create, open, edit, delete; the owner and staff may
change them, other viewers may only open them, and nobody signed out sees anything."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from insights.models import Dashboard, Insight
from tests.dashboard.support import NOW

FUNNEL_QUERY = (
    "range=7d&window=86400&step1=page+interaction%09pageview&step2=form+interaction%09submit"
)


@pytest.fixture
def events(put, web_app):
    for minutes in (10, 20, 30):
        session = f"00000000-0000-4000-8000-0000000000{minutes}"
        at = NOW - timedelta(hours=2, minutes=minutes)
        put(web_app, at, session=session, data={"path": "/"})
        if minutes != 30:
            put(
                web_app,
                at + timedelta(seconds=40),
                session=session,
                category="form interaction",
                name="submit",
            )


def save(client, **fields):
    body = {"kind": "funnel", "query": FUNNEL_QUERY, "name": "Sign-up", "description": "", **fields}
    return client.post(reverse("dashboard:insight_save"), body)


def test_it_saves_a_funnel_onto_a_new_dashboard_and_opens_it(as_alice, alice, events):
    response = save(as_alice, new_dashboard="Growth", description="landing to submit")

    dashboard = Dashboard.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:dashboard", args=[dashboard.pk])
    insight = Insight.objects.get()
    assert (insight.owner, insight.dashboard, insight.kind) == (alice, dashboard, "funnel")
    page = as_alice.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sign-up" in html and "landing to submit" in html
    assert "<strong data-number>3</strong> sessions entered, 67% converted" in html


def test_it_lists_dashboards_for_every_viewer(as_alice, as_carol, events):
    save(as_alice, new_dashboard="Growth")

    page = as_carol.get(reverse("dashboard:dashboards"))

    assert "Growth" in page.content.decode()


def test_it_lets_another_viewer_open_but_not_change_a_dashboard(as_alice, as_carol, events):
    save(as_alice, new_dashboard="Growth")
    dashboard, insight = Dashboard.objects.get(), Insight.objects.get()

    assert as_carol.get(reverse("dashboard:dashboard", args=[dashboard.pk])).status_code == 200
    edits = [
        (reverse("dashboard:dashboard_edit", args=[dashboard.pk]), {"name": "Mine"}),
        (reverse("dashboard:dashboard_delete", args=[dashboard.pk]), {}),
        (reverse("dashboard:insight_edit", args=[insight.pk]), {"name": "Mine"}),
        (reverse("dashboard:insight_delete", args=[insight.pk]), {}),
        (
            reverse("dashboard:insight_save"),
            {"kind": "explore", "name": "x", "dashboard": dashboard.pk},
        ),
    ]
    for url, body in edits:
        assert as_carol.post(url, body).status_code == 403, url
    dashboard.refresh_from_db()
    insight.refresh_from_db()
    assert (dashboard.name, insight.name, Insight.objects.count()) == ("Growth", "Sign-up", 1)


def test_it_lets_the_owner_edit_and_delete(as_alice, events):
    save(as_alice, new_dashboard="Growth")
    dashboard, insight = Dashboard.objects.get(), Insight.objects.get()

    as_alice.post(
        reverse("dashboard:insight_edit", args=[insight.pk]),
        {"name": "Landing to submit", "description": "weekly"},
    )
    as_alice.post(
        reverse("dashboard:dashboard_edit", args=[dashboard.pk]),
        {"name": "Growth team", "description": ""},
    )
    insight.refresh_from_db()
    dashboard.refresh_from_db()
    assert (insight.name, insight.description, dashboard.name) == (
        "Landing to submit",
        "weekly",
        "Growth team",
    )
    as_alice.post(reverse("dashboard:insight_delete", args=[insight.pk]))
    assert not Insight.objects.exists()
    as_alice.post(reverse("dashboard:dashboard_delete", args=[dashboard.pk]))
    assert not Dashboard.objects.exists()


def test_it_lets_staff_edit_and_delete_anyones(as_alice, as_bob, events):
    save(as_alice, new_dashboard="Growth")
    dashboard, insight = Dashboard.objects.get(), Insight.objects.get()

    response = as_bob.post(
        reverse("dashboard:insight_edit", args=[insight.pk]), {"name": "Checked", "description": ""}
    )
    assert response.status_code == 302
    insight.refresh_from_db()
    assert insight.name == "Checked"
    assert (
        as_bob.post(reverse("dashboard:dashboard_delete", args=[dashboard.pk])).status_code == 302
    )
    assert not Dashboard.objects.exists() and not Insight.objects.exists()


def test_it_adds_insights_after_those_already_on_a_dashboard(as_alice, events):
    save(as_alice, new_dashboard="Growth")
    dashboard = Dashboard.objects.get()
    save(as_alice, name="Events", kind="overview", query="range=24h", dashboard=dashboard.pk)
    save(
        as_alice,
        name="Paths",
        kind="breakdown",
        query="category=page+interaction&name=pageview&by=path",
        dashboard=dashboard.pk,
    )

    page = as_alice.get(reverse("dashboard:dashboard", args=[dashboard.pk]) + "?range=30d")

    html = page.content.decode()
    assert html.index("Sign-up") < html.index("Events") < html.index("Paths")
    assert [i.position for i in Insight.objects.order_by("id")] == [0, 1, 2]
    assert html.count('class="chart"') == 3


def test_it_refuses_an_insight_without_a_name(as_alice, events):
    response = save(as_alice, name="")

    assert response.status_code == 400
    assert not Insight.objects.exists()


def test_it_refuses_an_insight_on_no_dashboard(as_alice, events):
    response = save(as_alice, kind="overview", name="x")

    assert response.status_code == 400
    assert "dashboard: Choose a dashboard, or name a new one." in response.content.decode()
    assert not Insight.objects.exists() and not Dashboard.objects.exists()


def test_it_refuses_the_writes_to_get(as_alice, events):
    save(as_alice, new_dashboard="Growth")
    insight = Insight.objects.get()

    assert as_alice.get(reverse("dashboard:insight_delete", args=[insight.pk])).status_code == 405
    assert Insight.objects.exists()


def test_it_shows_nothing_to_anonymous_visitors(as_alice, events):
    save(as_alice, new_dashboard="Growth")
    dashboard = Dashboard.objects.get()
    client = Client()

    response = client.get(reverse("dashboard:dashboard", args=[dashboard.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert (
        client.post(reverse("dashboard:dashboard_delete", args=[dashboard.pk])).status_code == 302
    )
    assert Dashboard.objects.exists()


def test_it_evaluates_the_insights_of_a_committed_dashboard_side_by_side(store, web_app, carol):
    """Outside a transaction the insights are computed in threads, each on its own
    connection: the numbers are those of the same insights computed one by one."""
    from insights.evaluation import insight_evaluate, insights_evaluate
    from insights.services import dashboard_create, insight_create
    from tests.dashboard.support import Put

    put = Put()
    for minutes in (5, 15, 25):
        put(web_app, NOW - timedelta(minutes=minutes), data={"path": "/"})
    put(web_app, NOW - timedelta(minutes=4), category="form interaction", name="submit")
    dashboard = dashboard_create(owner=carol, name="Side by side")
    for kind, query in (
        ("funnel", FUNNEL_QUERY),
        ("overview", "range=24h"),
        ("explore", "range=24h&category=page+interaction"),
        ("breakdown", "category=page+interaction&name=pageview&by=path&range=24h"),
    ):
        insight_create(owner=carol, kind=kind, name=kind, query=query, dashboard=dashboard)
    insights = list(dashboard.insights.all())

    together = insights_evaluate(insights=insights, range_params=None)

    one_by_one = [insight_evaluate(insight=i) for i in insights]
    assert [e.number for e in together] == [e.number for e in one_by_one] == [1, 4, 3, 3]
    assert [e.result for e in together] == [e.result for e in one_by_one]


def test_the_time_limit_of_a_request_reaches_the_threads_its_cards_are_computed_on(
    store, web_app, carol, settings
):
    from events.insight_sql import DASHBOARD_SLOTS
    from insights.evaluation import insights_evaluate
    from insights.services import dashboard_create, insight_create
    from tests.dashboard.support import Put
    from tests.support import another_connection, table_held

    put = Put()
    put(web_app, NOW - timedelta(minutes=5), data={"path": "/"})
    put(web_app, NOW - timedelta(minutes=4), category="form interaction", name="submit")
    dashboard = dashboard_create(owner=carol, name="Held")
    for name in ("first", "second"):
        insight_create(
            owner=carol, kind="funnel", name=name, query=FUNNEL_QUERY, dashboard=dashboard
        )
    insights = list(dashboard.insights.all())
    settings.EYE_INSIGHT_TIMEOUT_SECONDS = 0.2

    with another_connection() as other, table_held(other, "events", for_seconds=1.5):
        stopped = insights_evaluate(insights=insights, range_params=None, slots=DASHBOARD_SLOTS)
    # Each card says it was stopped (insights.evaluation.TOO_SLOW), none is computed.
    assert [e.number for e in stopped] == [None, None]
    assert all(e.problem.startswith("Took longer than 0.2 seconds") for e in stopped)
    # Without a request's slot (the worker keeping them fresh) they wait and compute.
    with another_connection() as other, table_held(other, "events", for_seconds=0.5):
        computed = insights_evaluate(insights=insights, range_params=None)
    assert [e.number for e in computed] == [1, 1]


def test_it_offers_to_change_an_insight_only_to_those_who_may(as_alice, as_bob, as_carol, events):
    save(as_alice, new_dashboard="Growth")
    dashboard = Dashboard.objects.get()
    # Staff may add to anyone's dashboard; the insight stays theirs.
    save(as_bob, name="Checked by staff", dashboard=dashboard.pk)
    mine, staffs = Insight.objects.order_by("id")
    url = reverse("dashboard:dashboard", args=[dashboard.pk])

    def offered(client) -> set[int]:
        """The insights whose Edit and Delete forms the page shows."""
        html = client.get(url).content.decode()
        return {
            insight.pk
            for insight in (mine, staffs)
            if reverse("dashboard:insight_edit", args=[insight.pk]) in html
            and reverse("dashboard:insight_delete", args=[insight.pk]) in html
        }

    assert offered(as_alice) == {mine.pk}
    assert offered(as_bob) == {mine.pk, staffs.pk}
    assert offered(as_carol) == set()
    edit = reverse("dashboard:insight_edit", args=[staffs.pk])
    assert as_alice.post(edit, {"name": "Mine"}).status_code == 403


def test_a_dashboard_holds_at_most_its_cards(as_alice, alice):
    from insights.services import MAX_DASHBOARD_CARDS

    board = Dashboard.objects.create(owner=alice, name="Everything")
    for _ in range(MAX_DASHBOARD_CARDS):
        assert save(as_alice, dashboard=board.pk).status_code == 302

    refused = save(as_alice, dashboard=board.pk)

    assert refused.status_code == 400
    assert f"at most {MAX_DASHBOARD_CARDS} cards" in refused.content.decode()
    assert board.insights.count() == MAX_DASHBOARD_CARDS
