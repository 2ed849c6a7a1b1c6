"""Bearer-key authentication and the rights each endpoint needs."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from api.errors import api_error
from events.keys import KeyCheckUnavailable, KeyPrincipal, key_principal_get


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`; a missing, unknown or revoked key answers 401."""

    def authenticate(self, request: HttpRequest, token: str) -> KeyPrincipal | None:
        token = token.strip()
        if not token:
            return None
        try:
            return key_principal_get(raw_key=token)
        except KeyCheckUnavailable:
            raise api_error(
                503,
                "the key cannot be checked right now; nothing was accepted, retry later",
                field="Authorization",
            ) from None


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
