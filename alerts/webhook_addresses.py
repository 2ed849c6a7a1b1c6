"""Which addresses a webhook may reach, and a connection made only to those.

A webhook is a request that The Eye's worker makes to a URL staff typed, from inside the
network The Eye runs in. A cloud's metadata service (169.254.169.254 and its kin) answers
that network's credentials to whoever asks, so no webhook ever reaches it. With
`EYE_ALERT_WEBHOOK_PRIVATE=deny`, neither does one reach a loopback, private, link-local or
otherwise reserved address: what a deployment sets when its internal services are none of
its staff's business.

A name is resolved once, every address it resolves to is checked (a name that resolves to
one allowed and one refused address is refused), and the connection goes to the addresses
checked, not to a second lookup that a name server could answer differently.
"""

import ipaddress
import socket
from collections.abc import Callable

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The metadata services of the clouds: AWS, GCP, Azure, OpenStack and most others on the
# IPv4 link-local range (so all of it), AWS's IPv6 one, Alibaba's.
METADATA_NETWORKS = [
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
]


class AddressRefused(Exception):
    """A webhook's host is, or resolves to, an address it may not reach."""


def unmapped(address: IPAddress) -> IPAddress:
    """An IPv4 address written as IPv6 (::ffff:10.0.0.1) as the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_refusal(address: IPAddress) -> str | None:
    """What `address` is that a webhook may not reach, or None when it may."""
    address = unmapped(address)
    if any(address in network for network in METADATA_NETWORKS):
        return "a cloud metadata address"
    # Not global: loopback, private, link-local, shared and reserved ranges. 0.0.0.0 and
    # :: are among them: connected to, they reach the local host itself.
    internal = not address.is_global or address.is_multicast
    if internal and settings.EYE_ALERT_WEBHOOK_PRIVATE == "deny":
        return "an internal address (EYE_ALERT_WEBHOOK_PRIVATE=deny)"
    return None


def literal_address_refusal(host: str) -> str | None:
    """Why a host written as an address may not be reached, or None; None for a name too,
    whose addresses are known only when it is resolved, at delivery."""
    try:
        address = unmapped(ipaddress.ip_address(host))
    except ValueError:
        return None
    refusal = address_refusal(address)
    return None if refusal is None else f"{address}, {refusal}"


SocketAddress = tuple[int, tuple]


def receiver_addresses(host: str, port: int) -> list[SocketAddress]:
    """The (family, socket address) pairs to connect to for `host`, every one allowed;
    AddressRefused when one is not, OSError when the name does not resolve."""
    literal_refusal = literal_address_refusal(host)
    if literal_refusal is not None:
        raise AddressRefused(literal_refusal)
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys((family, sockaddr) for family, _, _, _, sockaddr in found))
    for _, sockaddr in addresses:
        # An IPv6 socket address may carry a zone ("fe80::1%eth0"), which ip_address refuses.
        address = unmapped(ipaddress.ip_address(sockaddr[0].split("%")[0]))
        refusal = address_refusal(address)
        if refusal is not None:
            raise AddressRefused(f"{host} resolves to {address}, {refusal}")
    return addresses


def connector(addresses: list[SocketAddress]) -> Callable[..., socket.socket]:
    """A stand-in for socket.create_connection that connects to `addresses` (tried in
    order, as create_connection tries a name's) whatever host it is asked for."""

    def connect(
        _address: tuple[str, int], timeout: float | None = None, source_address: object = None
    ) -> socket.socket:
        last_error: OSError | None = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                if source_address is not None:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                last_error = exc
        raise last_error or OSError("no address to connect to")

    return connect
