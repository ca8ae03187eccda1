"""Undoing a response's Content-Encoding without ever holding more than a limit.

httpx decodes each chunk through every layer at once, with no bound on what one layer may
produce: a 1,827-byte body sent as ``Content-Encoding: gzip, gzip`` became 2 GB in a
single step, before any cap could look at it. Here each layer is asked for at most what
the limit still allows (zlib's ``max_length``), so the cap holds at every step and memory
stays within a few times the limit whatever the server sends.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from config.errors import SendwatchError

# What the fetcher asks for in Accept-Encoding, plus the old alias RFC 9110 keeps for gzip.
_GZIP = zlib.MAX_WBITS | 16
_WBITS = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": zlib.MAX_WBITS}


class OverLimit(SendwatchError):
    """A decoding layer would produce more than the limit."""


class DecodeFailed(SendwatchError):
    """The body does not decode as its Content-Encoding says, or uses one not supported."""


class _Layer:
    """One zlib stream (gzip or deflate), counting what it has produced."""

    def __init__(self, name: str, limit: int, keep_start: bool) -> None:
        self.name = name
        self.limit = limit
        self.keep_start = keep_start
        self.produced = 0
        self.full = False
        self._wbits = _WBITS[name]
        self._inflate = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes) -> bytes:
        if self.full:
            return b""
        first, self._started = not self._started, True
        room = self.limit - self.produced
        try:
            # max_length 0 means "no limit" to zlib, hence the +1; getting room+1 bytes back
            # is how we learn the layer is over the limit.
            out = self._inflate.decompress(data, room + 1)
        except zlib.error as exc:
            if not (first and self.name == "deflate"):
                raise DecodeFailed(f"{self.name}: {exc}") from None
            # Servers send "deflate" both as RFC 1950 (zlib-wrapped) and as raw RFC 1951.
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.feed(data)
        return _within(self, out)

    def flush(self) -> bytes:
        if self.full:
            return b""
        try:
            return _within(self, self._inflate.flush())
        except zlib.error as exc:
            raise DecodeFailed(f"{self.name}: {exc}") from None


class BoundedDecoder:
    """Decodes a body sent with ``Content-Encoding: <encodings>``; no layer may produce more
    than ``limit`` bytes (the last layer's output is the body itself).

    ``feed`` and ``flush`` raise ``OverLimit`` as soon as a layer goes over (with
    ``keep_start`` they return what came before the limit instead, and ``done`` turns
    true), and ``DecodeFailed`` for a body that is not what its header says or an
    encoding other than gzip, x-gzip, deflate and identity.
    """

    def __init__(self, encodings: Iterable[str], limit: int, *, keep_start: bool = False) -> None:
        names = [e.strip().lower() for e in encodings]
        names = [n for n in names if n and n != "identity"]
        unknown = [n for n in names if n not in _WBITS]
        if unknown:
            raise DecodeFailed(f"it is sent with Content-Encoding {unknown[0]!r}, which sendwatch does not "
                               "decode (it asks for gzip or deflate)")
        # The header lists encodings in the order they were applied: undo the last first.
        self.layers = [_Layer(name, limit, keep_start) for name in reversed(names)]
        self.limit = limit
        self.keep_start = keep_start
        self.produced = 0  # bytes of body so far
        self.full = False

    @property
    def done(self) -> bool:
        """With ``keep_start``: the limit is reached, and nothing more will come out."""
        return self.full or any(layer.full for layer in self.layers)

    def feed(self, data: bytes) -> bytes:
        for layer in self.layers:
            if not data:
                break
            data = layer.feed(data)
        return _within(self, data)

    def flush(self) -> bytes:
        data = b""
        for layer in self.layers:
            if data:
                data = layer.feed(data)
            data += layer.flush()
        return _within(self, data)


def _within(stage: _Layer | BoundedDecoder, out: bytes) -> bytes:
    """Count ``out`` against the stage's limit: over it, raise, or (``keep_start``) cut it
    there and mark the stage full."""
    stage.produced += len(out)
    over = stage.produced - stage.limit
    if over <= 0:
        return out
    if not stage.keep_start:
        raise OverLimit(getattr(stage, "name", "body"))
    stage.produced, stage.full = stage.limit, True
    return out[: len(out) - over]
