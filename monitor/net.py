"""httpcore's network layer on plain asyncio streams.

httpx's default transport reaches the network through httpcore's AnyIO backend. Measured
in ``bench/benchmark.py`` (1,000 GETs of 50 KB pages, ten at a time), that backend was
most of the fetcher's cost: httpcore's connection pool asks every pooled connection
``get_extra_info("is_readable")`` each time it hands out or takes back a connection
(about 36 asks a request with ten connections), and AnyIO answers each by building its
whole table of socket attributes. The pool, HTTP/1.1 (h11), TLS verification, timeouts
and httpx's API are all unchanged: only the stream under them is different, through
httpcore's documented ``network_backend`` hook.

Errors are httpcore's own (``ConnectError``, ``ReadTimeout``, ...), which httpx turns into
its exceptions as it does for the default backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import typing

import httpcore
import httpx
from httpcore._utils import is_socket_readable

__all__ = ["AsyncioBackend", "transport"]


@contextlib.contextmanager
def _mapped(timeout_error: type[Exception], other_error: type[Exception]):
    try:
        yield
    except TimeoutError as exc:
        raise timeout_error(str(exc) or "timed out") from exc
    except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
        raise other_error(_reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    # asyncio words a refused connection "Connect call failed ('127.0.0.1', 8080)": the
    # system's own words for the errno say what happened.
    errno = getattr(exc, "errno", None)
    if type(exc) in (OSError, ConnectionRefusedError) and isinstance(errno, int) and errno > 0:
        return f"[Errno {errno}] {os.strerror(errno)}"
    return str(exc) or type(exc).__name__


def _deadline(timeout: float | None):
    return asyncio.timeout(timeout) if timeout is not None else contextlib.nullcontext()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: an asyncio StreamReader/StreamWriter pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with _deadline(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            async with _deadline(timeout):
                self._writer.write(buffer)
                await self._writer.drain()

    async def aclose(self) -> None:
        # Closing never waits for the peer: a server that has stopped answering must not
        # hold up the pool (AnyIO's stream closes the same way).
        self._writer.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> AsyncioStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            try:
                async with _deadline(timeout):
                    await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
            except BaseException:
                self._writer.transport.abort()
                raise
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            # Asked of idle pooled connections: "has the server closed it (or sent something
            # unasked)?" The loop may already have read the end of stream into the reader.
            return self._reader.at_eof() or is_socket_readable(self._writer.get_extra_info("socket"))
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    # Bodies are read in httpcore's 64 KiB pieces; the reader may buffer twice that before
    # it stops reading from the socket.
    READ_LIMIT = 64 * 1024

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable | None = None) -> AsyncioStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with _deadline(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, limit=self.READ_LIMIT,
                    local_addr=(local_address, 0) if local_address else None)
            sock = writer.get_extra_info("socket")
            for option in socket_options or ():
                sock.setsockopt(*option)  # asyncio already sets TCP_NODELAY
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable | None = None) -> AsyncioStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with _deadline(timeout):
                reader, writer = await asyncio.open_unix_connection(path, limit=self.READ_LIMIT)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def transport(*, limits: httpx.Limits, verify: ssl.SSLContext | str | bool = True) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, its connection pool on AsyncioBackend.

    httpx (0.28) has no argument for a network backend, so the pool it built is given one;
    tests/test_fetch.py checks that requests really go through it, so an httpx upgrade that
    moves the pool fails a test instead of silently going back to the slow path.
    """
    made = httpx.AsyncHTTPTransport(limits=limits, verify=verify)
    made._pool._network_backend = AsyncioBackend()
    return made
