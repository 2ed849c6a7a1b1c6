"""Fixtures of the alerts tests: a real webhook receiver and mail server, and a real
consumer that delivers to them (with short retries and timeouts, so that failing
receivers are given up on within seconds)."""

import pytest

from tests.alerts.support import SmtpSink, WebhookReceiver

PUBLIC_URL = "http://eye.test"


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    server = SmtpSink()
    yield server
    server.stop()


@pytest.fixture
def delivery_env(monkeypatch, smtp):
    """What the consumer reads at start; the test process's own settings are left as
    they are."""
    monkeypatch.setenv("EYE_EMAIL_URL", smtp.url)
    monkeypatch.setenv("EYE_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("EYE_ALERT_DELIVERY_ATTEMPTS", "3")
    monkeypatch.setenv("EYE_ALERT_RETRY_SECONDS", "0.2")
    monkeypatch.setenv("EYE_ALERT_WEBHOOK_TIMEOUT", "1")


@pytest.fixture
def alert_consumer(store, delivery_env):
    """A consumer without the periodic tasks: the tests run the check themselves, at the
    instants they choose."""
    from tests.support import start_consumer, stop_process

    process = start_consumer(periodic=False)
    yield process
    stop_process(process)
