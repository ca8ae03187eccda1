"""httpcore's AnyIO network backend, without its costliest question.

httpcore's connection pool asks every pooled connection ``get_extra_info("is_readable")``
each time it hands out or takes back a connection (about 36 asks a request with ten
connections), and AnyIO answers each by building its whole table of socket attributes.
Measured with bench/benchmark.py's site (the fetcher's CPU for 1,000 pages, ten at a
time, best of six) that was a quarter of fetching: 1.85 s with httpcore's backend, 1.41 s
with this one. Everything else is AnyIO's and httpcore's own: connecting (with Happy
Eyeballs across a host's addresses), TLS, timeouts, reading, writing, closing and the
mapping of errors. Only the socket is looked up once per connection, not per question.

An earlier version replaced the whole backend with asyncio streams (1.21 s); a review
showed what that gave up (proxies aside, which now get this backend too): no fallback to
a host's next address within the connect timeout, stray bytes from an idle connection
read as the next response, uvloop's RuntimeError on writing to a reset connection, TLS
closes that waited for the peer. AnyIO already gets those right.
"""

from __future__ import annotations

import os
import socket
import typing

import anyio
import httpcore
import httpx
from httpcore._backends.anyio import AnyIOBackend, AnyIOStream
from httpcore._utils import is_socket_readable

__all__ = ["FastAnyIOBackend", "FastAnyIOStream", "install"]


class FastAnyIOStream(AnyIOStream):
    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        super().__init__(stream)
        # The raw socket under a plain or TLS stream: the same object for the connection's
        # life (closed, its fileno() is -1 and it reads as readable: the pool drops it).
        self._socket = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        return super().get_extra_info(info)

    async def start_tls(self, *args, **kwargs) -> FastAnyIOStream:
        tls = await super().start_tls(*args, **kwargs)
        return FastAnyIOStream(tls._stream)


class FastAnyIOBackend(AnyIOBackend):
    async def connect_tcp(self, *args, **kwargs) -> FastAnyIOStream:
        try:
            stream = await super().connect_tcp(*args, **kwargs)
        except httpcore.ConnectError as exc:
            raise httpcore.ConnectError(_connect_reason(exc)) from exc
        return FastAnyIOStream(stream._stream)


def _connect_reason(exc: BaseException) -> str:
    """What the system said for each address, where AnyIO says "All connection attempts
    failed" (the attempts themselves sit in an exception group behind it)."""
    said: list[str] = []
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:  # a cause chain can, in principle, loop
            continue
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        elif isinstance(current, socket.gaierror):  # its errno is the resolver's, not errno's
            if str(current) not in said:
                said.append(str(current))  # "[Errno -2] Name or service not known"
        elif isinstance(current, OSError) and isinstance(current.errno, int) and current.errno > 0:
            # asyncio words a refusal "Connect call failed ('127.0.0.1', 8080)": the
            # system's own words for the errno say what happened.
            reason = f"[Errno {current.errno}] {os.strerror(current.errno)}"
            if reason not in said:
                said.append(reason)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return "; ".join(said) or str(exc) or type(exc).__name__


def install(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Put FastAnyIOBackend under every connection pool of ``client``: its own transport
    and those httpx mounted for proxies named in the environment (HTTP_PROXY and so on).

    httpx (0.28) has no argument for a network backend, so the pools it built are given
    one; tests/test_net.py checks that requests really go through it, so an httpx upgrade
    that moves the pools fails a test instead of silently going back to the slow path.
    """
    backend = FastAnyIOBackend()
    # Private attributes of httpx: should a release move them, fetching still works, on
    # httpcore's own backend (and tests/test_net.py fails, to say so).
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore.AsyncConnectionPool):
            pool._network_backend = backend
    return client
