"""Bearer-key authentication and the rights each endpoint needs."""

from collections.abc import Callable

from django.http import HttpRequest
from ninja.security import HttpBearer

from api.cors import origin_check
from api.errors import api_error
from api.ratelimit import rate_limit_check
from api.refusals import refused_key_remember
from events.applications import application_id_named
from events.keys import KeyCheckUnavailable, KeyPrincipal, key_principal_get


def principal_of(raw_key: str, *, field: str) -> KeyPrincipal | None:
    """The live key behind a presented secret, or None; 503 when it cannot be checked."""
    try:
        return key_principal_get(raw_key=raw_key)
    except KeyCheckUnavailable:
        raise api_error(
            503,
            "the key cannot be checked right now; nothing was accepted, retry later",
            field=field,
        ) from None


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`; a missing, unknown or revoked key answers 401.

    Publishable keys are refused (403) unless the endpoint takes them (`publishable=True`,
    POST /api/event/ only), and then only from their allowed origins: so a public key can
    reach no endpoint that was not written for it.
    """

    def __init__(
        self, *, publishable: bool = False, admit: Callable[[KeyPrincipal], None] | None = None
    ) -> None:
        super().__init__()
        self.publishable = publishable
        # Checks of the key itself that must come before the request's parameters are
        # read (rights, the rate limit): a 422 must not be a way around them.
        self.admit = admit

    def authenticate(self, request: HttpRequest, token: str) -> KeyPrincipal | None:
        token = token.strip()
        if not token:
            return None
        principal = principal_of(token, field="Authorization")
        if principal is not None and principal.publishable:
            if not self.publishable:
                refused_key_remember(request, principal)
                raise api_error(
                    403,
                    "a publishable key may only send events (POST /api/event/)",
                    field="Authorization",
                )
            origin_check(request, principal)
        if principal is not None and self.admit is not None:
            self.admit(principal)
        return principal


def require_write(principal: KeyPrincipal) -> None:
    if not principal.can_write:
        raise api_error(
            403, "this key may not send events; it needs write rights", field="Authorization"
        )


def require_read(principal: KeyPrincipal) -> None:
    if not principal.can_read:
        raise api_error(
            403, "this key may not query events; it needs read rights", field="Authorization"
        )


def reading_admit(principal: KeyPrincipal) -> None:
    """What every read (events, insights) asks of its key before anything else."""
    require_read(principal)
    rate_limit_check(principal)


def readable_application_id(principal: KeyPrincipal, name: str | None) -> int | None:
    """The application a read asks for by `name` (None: the key's own, or every one for a
    key that reads them all), as an id for the selectors (None: every application)."""
    if name is None:
        return principal.read_application_id
    if principal.read_application_id is not None:
        if name == principal.application_name:
            return principal.application_id
        # The same answer whether or not that application exists: a key does not learn the
        # names of applications it may not read.
        raise api_error(
            403, "this key reads only its own application's events", field="application"
        )
    application_id = application_id_named(name)
    if application_id is None:
        raise api_error(422, "is not an application of this Eye", field="application")
    return application_id
