"""manage.py create_app_key and revoke_app_key."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.keys import key_hash
from events.models import ApiKey, Application
from tests.support import SEED_EVENT


def create_key(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_app_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_prints_the_new_key_alone_on_the_last_line(db):
    out, _ = create_key("web", "--write")

    key = out.strip().splitlines()[-1]
    assert key.startswith("eye_") and " " not in key
    stored = ApiKey.objects.get()
    assert stored.application.name == "web"
    assert (stored.can_read, stored.can_write) == (False, True)


def test_it_stores_only_a_hash_of_the_key(db):
    out, _ = create_key("web")
    key = out.strip().splitlines()[-1]

    stored = ApiKey.objects.get()
    assert stored.key_hash == key_hash(key)
    assert key not in str(ApiKey.objects.values().get())


def test_it_gives_both_rights_when_none_is_named(db):
    create_key("web")

    assert ApiKey.objects.get().rights == "read+write"


def test_it_adds_keys_to_an_existing_application(db):
    create_key("web", "--read")
    create_key("web", "--write")

    assert Application.objects.count() == 1
    assert ApiKey.objects.count() == 2


def test_it_issues_a_key_that_works(api, db):
    key = create_key("web", "--read", "--write")[0].strip().splitlines()[-1]

    assert api.post(SEED_EVENT, key=key).status_code == 202
    assert api.get(key=key).status_code == 200


def test_it_revokes_a_key_by_its_prefix(api, db):
    key = create_key("web")[0].strip().splitlines()[-1]
    out = StringIO()

    call_command("revoke_app_key", key[:12], stdout=out)

    assert "Revoked" in out.getvalue()
    assert ApiKey.objects.get().revoked_at is not None
    assert api.post(SEED_EVENT, key=key).status_code == 401
    assert api.get(key=key).status_code == 401


def test_it_refuses_to_revoke_an_unknown_key(db):
    with pytest.raises(CommandError, match="no live key"):
        call_command("revoke_app_key", "eye_nothing0")


def test_it_issues_a_publishable_key_with_its_origins(db, settings):
    settings.EYE_PUBLISHABLE_KEY_RATE_LIMIT = 1200
    create_key("web", "--write")
    out, err = create_key(
        "web",
        "--publishable",
        "--origin",
        "https://Shop.Example.com/",
        "--origin",
        "https://*.example.org",
    )

    key = out.strip().splitlines()[-1]
    assert key.startswith("eye_pk_") and " " not in key
    stored = ApiKey.objects.get(key_hash=key_hash(key))
    assert stored.application.name == "web"
    assert Application.objects.count() == 1
    assert stored.is_publishable
    assert stored.origins == ["https://shop.example.com", "https://*.example.org"]
    assert (stored.can_read, stored.can_write) == (False, True)
    assert stored.rate_limit_per_minute == 1200
    assert "https://shop.example.com" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--publishable"], "at least one allowed origin"),
        (["--publishable", "--origin", "shop.example.com"], "http:// or https://"),
        (["--publishable", "--origin", "https://a.com/path"], "without a path"),
        (["--publishable", "--origin", "https://*.com"], "wildcard"),
        (["--publishable", "--read", "--origin", "https://a.com"], "never --read"),
        (["--origin", "https://a.com"], "add --publishable"),
    ],
)
def test_it_refuses_a_publishable_key_it_cannot_make(db, args, message):
    with pytest.raises(CommandError, match=message):
        create_key("web", *args)
    assert not ApiKey.objects.exists()


def test_it_issues_a_key_that_reads_every_application_with_a_flag(api, db):
    out, err = create_key("ops", "--read-all-applications")

    stored = ApiKey.objects.get()
    assert (stored.can_read, stored.can_write, stored.can_read_all_applications) == (
        True,
        False,
        True,
    )
    assert "with rights: read, reads every application" in err
    assert api.get(key=out.strip().splitlines()[-1]).status_code == 200


def test_it_issues_keys_for_one_application_by_default(db):
    create_key("web", "--read")

    assert ApiKey.objects.get().can_read_all_applications is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a" * 101], "the application name must be at most 100 characters"),
        (["   "], "the application name must not be empty"),
        (["web", "--rate-limit", "2147483648"], "--rate-limit must be from 1 to 1,000,000"),
        (["web", "--rate-limit", "0"], "--rate-limit must be from 1 to 1,000,000"),
    ],
)
def test_it_refuses_what_it_cannot_store_with_a_message(db, args, message):
    with pytest.raises(CommandError, match=message):
        create_key(*args)
    assert not ApiKey.objects.exists()


def test_it_revokes_a_key_given_whole_with_spaces_around(db):
    out, _ = create_key("web")
    key = out.strip().splitlines()[-1]

    call_command("revoke_app_key", f"  {key}\n", stdout=StringIO())

    assert ApiKey.objects.get().revoked_at is not None


@pytest.mark.parametrize(
    ("given", "message"),
    [
        # A prefix with something else after it is not the key it starts.
        (lambda key: key[:12] + "THIS_IS_NOT_THE_KEY", "no live key is"),
        (lambda key: key[:11], "give the whole key or its first 12 characters, not 11"),
    ],
)
def test_it_revokes_nothing_for_what_is_not_a_key_or_its_prefix(db, given, message):
    out, _ = create_key("web")
    key = out.strip().splitlines()[-1]

    with pytest.raises(CommandError, match=message):
        call_command("revoke_app_key", given(key))
    assert ApiKey.objects.get().revoked_at is None
