"""Inflating gzip request bodies, never further than the caller can afford."""

import zlib


class TruncatedGzip(ValueError):
    """The gzip stream ended before its end marker; `inflated` is what it held until then."""

    def __init__(self, inflated: bytes) -> None:
        super().__init__("gzip body is truncated")
        self.inflated = inflated


def gunzip_at_most(body: bytes, *, limit: int) -> bytes:
    """The start of a gzip body inflated, at most `limit` bytes of it: inflating stops
    there, so a body that would inflate to gigabytes (a gzip bomb) costs `limit` bytes of
    memory and the time to produce them. A stream may hold several members one after the
    other. Raises zlib.error for a body that is not gzip, and TruncatedGzip for one that
    ends early."""
    inflated = bytearray()
    rest = body
    while rest and len(inflated) < limit:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        inflated += inflater.decompress(rest, limit - len(inflated))
        if len(inflated) >= limit:
            break
        if not inflater.eof:
            raise TruncatedGzip(bytes(inflated))
        rest = inflater.unused_data
    return bytes(inflated)
