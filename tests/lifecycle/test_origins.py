"""Allowed origins of publishable keys: how they are written, and what they match."""

import pytest

from events.origins import OriginError, origin_allowed, origin_normalize, origins_normalize


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        (" HTTPS://Shop.Example.COM/ ", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://*.example.com", "https://*.example.com"),
        ("https://*.example.com:8443", "https://*.example.com:8443"),
    ],
)
def test_it_writes_origins_as_browsers_send_them(given, canonical):
    assert origin_normalize(given) == canonical


@pytest.mark.parametrize(
    "given",
    [
        "shop.example.com",
        "ftp://shop.example.com",
        "https://shop.example.com/path",
        "https://shop.example.com?x=1",
        "https://user@shop.example.com",
        "https://*.com",
        "https://a.*.example.com",
        "https://exa mple.com",
        "https://shop.example.com:99999",
    ],
)
def test_it_refuses_what_is_not_an_origin(given):
    with pytest.raises(OriginError):
        origin_normalize(given)


def test_it_keeps_each_origin_once_and_needs_one():
    assert origins_normalize(["https://a.com", "https://A.com/", ""]) == ["https://a.com"]
    with pytest.raises(OriginError):
        origins_normalize(["", "  "])


ALLOWED = ["https://shop.example.com", "https://*.example.org", "http://localhost:3000"]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example.com", True),
        ("https://SHOP.example.com", True),
        ("http://shop.example.com", False),
        ("https://shop.example.com:8443", False),
        ("https://evil-shop.example.com", False),
        ("https://shop.example.com.evil.net", False),
        ("https://blog.example.org", True),
        ("https://a.b.example.org", True),
        ("https://example.org", False),
        ("https://evilexample.org", False),
        ("https://blog.example.org:8443", False),
        ("http://localhost:3000", True),
        ("http://localhost:3001", False),
        ("null", False),
        ("", False),
    ],
)
def test_it_matches_exact_origins_and_subdomains_of_wildcards(origin, allowed):
    assert origin_allowed(origin, allowed=ALLOWED) is allowed
