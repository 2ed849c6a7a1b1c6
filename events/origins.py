"""Web origins that a publishable key accepts events from.

An allowed origin is exact (`https://shop.example.com`, `http://localhost:3000`) or a
wildcard over subdomains (`https://*.example.com`, which matches `https://a.example.com`
and `https://a.b.example.com` but not `https://example.com` itself). Browsers send the
Origin header as scheme, host and a port only when it is not the scheme's default, lower
case; allowed origins are stored in that same form so that matching is a comparison.
"""

import re
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


class OriginError(ValueError):
    """An allowed origin that is not one: the message says what is wrong."""


def origin_normalize(value: str) -> str:
    """The canonical spelling of an allowed origin, or OriginError saying why it is not one."""
    text = value.strip().lower().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise OriginError(f"{value!r} is not an origin like https://shop.example.com") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise OriginError(f"{value!r} must start with http:// or https:// and name a host")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise OriginError(
            f"{value!r} must be only a scheme, a host and a port, without a path or anything else"
        )
    host = parts.hostname
    labels = host.split(".")
    wildcard = labels[0] == "*"
    if wildcard:
        labels = labels[1:]
        if len(labels) < 2:
            raise OriginError(
                f"{value!r}: a wildcard covers the subdomains of a domain, like *.example.com"
            )
    if not labels or not all(HOST_LABEL.fullmatch(label) for label in labels):
        raise OriginError(
            f"{value!r} has an invalid host name (only * as the first label is allowed)"
        )
    spelled = ("*." if wildcard else "") + ".".join(labels)
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        spelled = f"{spelled}:{port}"
    return f"{parts.scheme}://{spelled}"


def origins_normalize(values: list[str]) -> list[str]:
    """Each origin once, in canonical form and in the order given; at least one."""
    found: list[str] = []
    for value in values:
        if not value.strip():
            continue
        origin = origin_normalize(value)
        if origin not in found:
            found.append(origin)
    if not found:
        raise OriginError("a publishable key needs at least one allowed origin")
    return found


def origin_allowed(origin: str, *, allowed: tuple[str, ...] | list[str]) -> bool:
    """Whether a request's Origin header is one of the allowed origins."""
    origin = origin.strip().lower()
    if origin in allowed:
        return True
    scheme, separator, rest = origin.partition("://")
    if not separator:
        return False
    for pattern in allowed:
        prefix = f"{scheme}://*."
        if pattern.startswith(prefix):
            # "https://*.example.com:8443" matches "https://a.example.com:8443".
            suffix = "." + pattern[len(prefix) :]
            host_and_port = rest
            if host_and_port.endswith(suffix) and len(host_and_port) > len(suffix):
                subdomain = host_and_port[: -len(suffix)]
                if all(HOST_LABEL.fullmatch(label) for label in subdomain.split(".")):
                    return True
    return False
