"""Schemathesis generates requests from the API's own OpenAPI schema: whatever it sends,
the API never answers 500, and every refusal says what was wrong."""

import schemathesis
from hypothesis import HealthCheck, settings

from eye.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@schema.include(path_regex="^/api/event/$").parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_it_never_fails_on_what_its_schema_allows(case, web_app, store):
    # `store`: the app is called through its WSGI handler, which closes database
    # connections between requests as in production, so the test cannot hold a
    # transaction open around it.
    response = case.call(headers={"Authorization": f"Bearer {web_app.both}"})

    assert response.status_code < 500, response.text
    # 405 is the answer to a method the endpoint does not have (schemathesis tries them).
    if response.status_code >= 400 and response.status_code != 405:
        body = response.json()
        assert body["success"] is False
        assert body["errors"] and all(error["message"] for error in body["errors"])
