"""Inflating gzip request bodies, never further than the caller can afford."""

import zlib

# A gzip stream may hold several members one after the other, and each costs a copy of
# the rest of the body: fifty thousand empty members (a 1 MiB body) took 0.6 s of a
# thread. Clients write one.
MAX_MEMBERS = 64


class TooManyMembers(zlib.error):
    """More than MAX_MEMBERS gzip members; refused as a body that is not valid gzip."""


class TruncatedGzip(ValueError):
    """The gzip stream ended before its end marker; `inflated` is what it held until then."""

    def __init__(self, inflated: bytes) -> None:
        super().__init__("gzip body is truncated")
        self.inflated = inflated


def gunzip_at_most(body: bytes, *, limit: int) -> bytes:
    """The start of a gzip body inflated, at most `limit` bytes of it: inflating stops
    there, so a body that would inflate to gigabytes (a gzip bomb) costs `limit` bytes of
    memory and the time to produce them. A stream may hold several members one after the
    other, MAX_MEMBERS of them at most. Raises zlib.error for a body that is not gzip
    (TooManyMembers past that), and TruncatedGzip for one that ends early."""
    inflated = bytearray()
    rest = body
    members = 0
    while rest and len(inflated) < limit:
        members += 1
        if members > MAX_MEMBERS:
            raise TooManyMembers(f"it holds more than {MAX_MEMBERS} gzip members")
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        inflated += inflater.decompress(rest, limit - len(inflated))
        if len(inflated) >= limit:
            break
        if not inflater.eof:
            raise TruncatedGzip(bytes(inflated))
        rest = inflater.unused_data
    return bytes(inflated)
