"""Schemathesis generates requests from the API's own OpenAPI schema and runs every one of
its checks on the answers: no 500, every status, header and body as documented, what the
schema allows accepted and what it forbids refused."""

from datetime import UTC, datetime, timedelta

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from eye.wsgi import application

# Every check, as configured by default, but for one status: the contract answers a batch
# of more than 1,000 events (past the schema's maxItems) with 413, which is a refusal.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
config = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}}
)
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=config)

RANGE_PARAMETERS = {
    "timestamp_start": "2000-01-01",
    "timestamp_after": "2000-01-01",
    "timestamp_end": "2999-12-31T23:59:59Z",
    "timestamp_before": "2999-12-31T23:59:59Z",
}


@schema.hook
def map_case(context: object, case: schemathesis.Case) -> schemathesis.Case:
    """Valid cases as the contract's rules that a JSON Schema cannot state want them:
    timestamps no later than now and real calendar days (not 31 February), a range that
    does not end before it starts, and a cursor only as `next` or `previous` gave it.
    Invalid cases are sent as generated."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    if case.method == "POST":
        recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        events = case.body if isinstance(case.body, list) else [case.body]
        for event in events:
            if isinstance(event, dict) and "timestamp" in event:
                event["timestamp"] = recent
    else:
        case.query.pop("cursor", None)
        for name, value in RANGE_PARAMETERS.items():
            if name in case.query:
                case.query[name] = value
    return case


@schema.include(path_regex="^/api/event/$").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_it_passes_every_check_on_what_its_schema_describes(case, web_app, store):
    # `store`: the app is called through its WSGI handler, which closes database
    # connections between requests as in production, so the test cannot hold a
    # transaction open around it.
    case.call_and_validate(headers={"Authorization": f"Bearer {web_app.both}"})
