"""EYE_REDIS_URL in both its forms: one Redis, or the sentinels of a master."""

import pytest
from redis.sentinel import SentinelConnectionPool

from eye.redis_connections import redis_pool_from_url, sentinel_target_parse


def test_it_reads_every_sentinel_the_service_and_the_db():
    target = sentinel_target_parse(
        "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2,sen:5000/eye/3"
    )
    assert target.sentinels == [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("sen", 5000)]
    assert (target.service, target.db, target.password) == ("eye", 3, "s3cret")
    assert target.sentinel_password is None


def test_it_defaults_to_db_0_and_takes_the_sentinels_own_password():
    target = sentinel_target_parse("redis+sentinel://h:1/mymaster?sentinel_password=x%21")
    assert (target.service, target.db, target.password, target.sentinel_password) == (
        "mymaster",
        0,
        None,
        "x!",
    )


def test_a_plain_redis_url_is_not_a_sentinel_one():
    assert sentinel_target_parse("redis://127.0.0.1:6379/0") is None
    assert not isinstance(redis_pool_from_url("redis://127.0.0.1:6379/0"), SentinelConnectionPool)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis+sentinel://h:1", "names no Sentinel service"),
        ("redis+sentinel://h:1/eye/x", "DB a number"),
        ("redis+sentinel://h:1/eye/0/more", "DB a number"),
        ("redis+sentinel://h:port/eye", "not a number"),
        ("redis+sentinel://:1/eye", "has no host"),
    ],
)
def test_it_names_what_is_wrong_with_a_sentinel_url(url, complaint):
    with pytest.raises(ValueError, match=complaint):
        sentinel_target_parse(url)


def test_a_bad_sentinel_url_stops_the_settings_loudly():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={"DJANGO_SETTINGS_MODULE": "eye.settings", "EYE_REDIS_URL": "redis+sentinel://h:1"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "EYE_REDIS_URL: 'redis+sentinel://h:1' names no Sentinel service" in result.stderr
