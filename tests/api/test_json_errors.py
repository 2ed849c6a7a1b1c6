"""Every answer under /api/ is JSON in the API's error shape, whichever layer refuses:
a crash, too many fields, a Host the server does not serve, an unknown path or method."""

import json
import logging

import pytest
from django.test import Client

from tests.support import SEED_EVENT


@pytest.fixture
def plain_client() -> Client:
    # The test client re-raises a view's exception by default; a real client gets the 500.
    return Client(raise_request_exception=False)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response.content
    body = json.loads(response.content)
    assert body["success"] is False
    [error] = body["errors"]
    assert error["message"]
    return error


def test_it_answers_a_crash_in_json_and_logs_it(plain_client, web_app, monkeypatch, caplog):
    def broken(**_: object) -> None:
        raise RuntimeError("the selector broke")

    monkeypatch.setattr("api.pagination.event_list", broken)
    headers = {"Authorization": f"Bearer {web_app.reader}"}

    with caplog.at_level(logging.ERROR, logger="eye.api"):
        response = plain_client.get("/api/event/", headers=headers)

    assert "internal error" in error_of(response, 500)["message"]
    assert any(
        record.exc_info and "selector broke" in str(record.exc_info[1]) for record in caplog.records
    )


def test_it_answers_a_crash_while_accepting_in_json(plain_client, web_app, monkeypatch):
    def broken(_: object) -> None:
        raise RuntimeError("the queue broke oddly")

    monkeypatch.setattr("api.views.store_events_enqueue", broken)

    response = plain_client.post(
        "/api/event/",
        SEED_EVENT,
        content_type="application/json",
        headers={"Authorization": f"Bearer {web_app.writer}"},
    )

    assert "nothing was accepted" in error_of(response, 500)["message"]


def test_it_answers_too_many_fields_in_json(plain_client, web_app, settings):
    query = "&".join(f"category=c{i}" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = plain_client.get(
        f"/api/event/?{query}", headers={"Authorization": f"Bearer {web_app.reader}"}
    )

    error = error_of(response, 400)
    assert f"the limit is {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}" in error["message"]


def test_it_answers_a_host_it_does_not_serve_in_json(plain_client, web_app):
    response = plain_client.get(
        "/api/event/",
        headers={"Authorization": f"Bearer {web_app.reader}"},
        HTTP_HOST="evil.example",
    )

    assert error_of(response, 400)["field"] == "Host"


def test_it_answers_an_unknown_path_and_method_in_json(plain_client, db):
    assert error_of(plain_client.get("/api/nothing-here/"), 404)["message"] == "not found"
    response = plain_client.patch("/api/event/")
    assert "allowed: " in error_of(response, 405)["message"]
    assert "GET" in response["Allow"] and "POST" in response["Allow"]


def test_it_keeps_html_error_pages_outside_the_api(plain_client, db):
    response = plain_client.get("/explore/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_its_500_handler_answers_in_json_under_the_api_only(rf):
    from api.fallback import server_error

    api_answer = server_error(rf.get("/api/event/"))
    page_answer = server_error(rf.get("/explore/"))

    assert "internal error" in error_of(api_answer, 500)["message"]
    assert page_answer.status_code == 500
    assert not page_answer["Content-Type"].startswith("application/json")
