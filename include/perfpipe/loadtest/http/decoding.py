"""A kept response body decoded as it arrives (``Content-Encoding``), never past a cap on its decoded size.

``max_body_bytes`` caps what is received; a gzip bomb is small on the wire (256 MB of zeros gzip to 256 KB)
and httpx decodes it whole, in one call. ``BodyDecoder`` undoes the codings piece by piece with
``zlib.decompressobj().decompress(data, max_length)``, so no call makes more than the room left under the
cap, and past the cap the request fails (``BodyTooLarge``) with memory flat: one VU's peak RSS with a
256 MB gzip body went from 614 MB to 122 MB, against 105 MB for a plain response in the same sitting (the
difference is the decoded body kept up to the default 10 MB cap; ``python -m benchmarks.hostile``).

The codings httpx decodes in this environment are decoded here (``gzip``, ``deflate``, several in a row;
``x-gzip`` as RFC 9110 says); any other is left as received, as httpx leaves a coding it does not know
(``br`` and ``zstd``: neither brotli nor zstandard is installed, so httpx did not decode them either).
"""

from __future__ import annotations

import zlib

import httpx


class BodyTooLarge(Exception):
    """The decoded body would exceed the cap."""


class _Zlib:
    """One zlib stage: gzip (``wbits`` 16 + 15) or deflate (zlib-wrapped, or raw as some servers send it)."""

    __slots__ = ("_decoder", "_wbits", "_first")

    def __init__(self, wbits: int) -> None:
        self._wbits, self._first = wbits, True
        self._decoder = zlib.decompressobj(wbits)

    def decode(self, data: bytes, limit: int) -> bytes:
        """At most ``limit`` bytes of output (input beyond them is not decoded)."""
        try:
            out = self._decoder.decompress(data, limit)
        except zlib.error:
            if not (self._first and self._wbits == zlib.MAX_WBITS):
                raise
            self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate (httpx does the same)
            out = self._decoder.decompress(data, limit)
        self._first = False
        return out


_STAGES = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyDecoder:
    """``feed(piece)`` returns the decoded bytes of ``piece``; ``BodyTooLarge`` once more than ``cap``
    bytes would come out (of the last stage, or of any stage before it)."""

    __slots__ = ("_stages", "_cap", "_made")

    def __init__(self, codings: list[str], cap: int) -> None:
        self._stages = [_Zlib(_STAGES[c]) for c in reversed(codings)]  # the last coding applied is undone first
        self._cap, self._made = cap, [0] * len(codings)

    @classmethod
    def of(cls, headers: list[tuple[bytes, bytes]], cap: int) -> BodyDecoder | None:
        """A decoder for the response's Content-Encoding, or None when it has none this module decodes."""
        for name, _ in headers:
            if len(name) == 16 and name.lower() == b"content-encoding":
                break
        else:
            return None  # the usual case, on the hot path: one pass over the names, nothing built
        codings = []
        for name, value in headers:
            if len(name) == 16 and name.lower() == b"content-encoding":
                codings += [c.strip().lower() for c in value.decode("latin-1").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if not codings or not all(c in _STAGES for c in codings):
            return None
        return cls(codings, cap)

    def feed(self, data: bytes) -> bytes:
        for i, stage in enumerate(self._stages):
            room = self._cap - self._made[i]
            try:
                data = stage.decode(data, room + 1)
            except zlib.error:
                raise ValueError("the body does not decode as its Content-Encoding says") from None
            self._made[i] += len(data)
            if len(data) > room:
                raise BodyTooLarge()
        return data


class DecodedResponse(httpx.Response):
    """An ``httpx.Response`` around a body already decoded (``BodyDecoder``): its headers as received,
    Content-Encoding included, and no second decoding by httpx."""

    def _get_content_decoder(self):
        return httpx._decoders.IdentityDecoder()
