"""Rules that staff set on what may be accepted: event schemas and retention. Checked
after the contract's own validation, with errors in the same shape."""

from datetime import datetime, timedelta

from api.errors import ApiError, api_error
from api.schemas import EventIn
from events.event_schemas import event_data_checker
from events.reloading import ConfigUnavailable
from events.retention import retention_days_lookup


def _located(entry: dict, index: int, *, batch: bool) -> dict:
    return {"index": index, **entry} if batch else entry


def event_policies_check(
    events: list[EventIn], *, application_id: int, now: datetime, batch: bool
) -> None:
    """Raise a 422 naming every event (by index in a batch) that a staff rule refuses."""
    errors = []
    try:
        retention_days = retention_days_lookup()
        data_errors = event_data_checker()
        if retention_days is None and data_errors is None:
            return  # no rule is set: nothing to look up for each event
        for index, event in enumerate(events):
            days = retention_days(application_id, event.category) if retention_days else None
            if days is not None and event.timestamp < now - timedelta(days=days):
                entry = {
                    "field": "timestamp",
                    "message": f"is older than {days} day{'s' if days != 1 else ''}, "
                    "the retention period for events "
                    "of its application and category; it would be deleted at once",
                }
                errors.append(_located(entry, index, batch=batch))
            problems = (
                data_errors(application_id, event.category, event.name, event.data)
                if data_errors
                else ()
            )
            for problem in problems:
                entry = {"field": problem.field, "message": problem.message}
                errors.append(_located(entry, index, batch=batch))
    except ConfigUnavailable:
        raise api_error(
            503, "event rules cannot be read right now; nothing was accepted, retry later"
        ) from None
    if errors:
        raise ApiError(422, errors)
