"""A new key's secret, carried from the POST that made it to the one page that shows it.

The POST redirects (so that a reload cannot issue a second key); the secret waits in the
server-side session for the GET that follows, which takes it out: a reload of that page
no longer shows it, and it is nowhere else to be found.
"""

from typing import TypedDict

from django.http import HttpRequest

from events.models import ApiKey, Application

SESSION_KEY = "dashboard:new-key"


class NewKey(TypedDict):
    application_id: int
    prefix: str
    rights: str
    secret: str
    # What happened: "issued" or "rotated".
    action: str


def secret_stash(request: HttpRequest, *, api_key: ApiKey, secret: str, action: str) -> None:
    request.session[SESSION_KEY] = NewKey(
        application_id=api_key.application_id,
        prefix=api_key.prefix,
        rights=api_key.rights,
        secret=secret,
        action=action,
    )


def secret_pop(request: HttpRequest, *, application: Application) -> NewKey | None:
    """The secret waiting for this application's page, taken out of the session."""
    waiting = request.session.get(SESSION_KEY)
    if waiting is None or waiting["application_id"] != application.pk:
        return None
    del request.session[SESSION_KEY]
    return waiting
