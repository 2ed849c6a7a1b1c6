"""Named actors and a known set of events for the dashboard's tests.

alice is a viewer (a logged-in member of a product team), bob is staff. The dashboard's
clock is stopped at NOW so that "last 24 hours" always means the same instants, and events
are stored through the real write path (events.services.event_bulk_create), which also
keeps the rollups that the pages read.
"""

from datetime import datetime, timedelta

import pytest

from tests.dashboard.support import NOW, Put, known_rows


@pytest.fixture
def alice(db):
    from django.contrib.auth.models import User

    return User.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def bob(db):
    from django.contrib.auth.models import User

    return User.objects.create_user("bob", password="bob-password-1", is_staff=True)


@pytest.fixture
def as_alice(alice, client):
    client.force_login(alice)
    return client


@pytest.fixture
def as_bob(bob):
    from django.test import Client

    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> datetime:
    """The dashboard's clock, stopped at NOW."""
    monkeypatch.setattr("insights.ranges.utc_now", lambda: NOW)
    return NOW


@pytest.fixture
def put(db) -> Put:
    return Put()


@pytest.fixture
def known_events(put, web_app, mobile_app) -> None:
    """Events of two apps over the last 70 days: enough for every range and the period
    before it to hold data, with buckets of every size left empty somewhere."""
    put.many(web_app, known_rows(1400, seed=1, span=timedelta(days=70)))
    put.many(mobile_app, known_rows(500, seed=4, span=timedelta(days=9)))
