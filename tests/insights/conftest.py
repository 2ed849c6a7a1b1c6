"""The dashboard's named actors and stopped clock, for the saved-insight tests: alice and
carol are viewers, bob is staff."""

import pytest

from tests.dashboard.conftest import alice, as_alice, as_bob, bob, clock, put  # noqa: F401


@pytest.fixture
def carol(db):
    from django.contrib.auth.models import User

    return User.objects.create_user("carol", password="carol-password-1")


@pytest.fixture
def as_carol(carol):
    from django.test import Client

    client = Client()
    client.force_login(carol)
    return client
