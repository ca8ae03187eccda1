"""Fetching over HTTP: one client, polite per host, strict about what it accepts.

Everything that can go wrong with a request ends in a ``FetchError`` with a message for a
person: the check that made the request is recorded as failed, and the source's last good
snapshot stays as it was.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import metadata
from urllib.parse import urljoin, urlsplit

import httpx

from config.settings import FetchSettings
from monitor.core.backoff import backoff, not_before
from monitor.core.decoding import BoundedDecoder, DecodeFailed, OverLimit
from monitor.core.document import without_controls
from monitor.core.errors import FetchError

log = logging.getLogger(__name__)



def _version() -> str:
    """The installed package's version (pyproject.toml), for the User-Agent."""
    try:
        return metadata.version("sendwatch")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


VERSION = _version()
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server offered for conditional requests last time."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # after redirects
    status: int
    headers: httpx.Headers
    body: bytes = b""
    not_modified: bool = False

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for param in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))

    def json(self):
        """The body as JSON; a body that is not JSON fails the check."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            shown = self.media_type or "no Content-Type"
            raise FetchError(f"expected JSON from {self.url} but got {shown} that does not parse "
                             f"({exc.__class__.__name__}: {str(exc)[:80]})", status=self.status) from None


def user_agent(contact: str) -> str:
    base = f"sendwatch/{VERSION} (+https://github.com/sendwatch/sendwatch"
    return f"{base}; {contact})" if contact else f"{base})"


@dataclass
class _HostGate:
    """At most N requests in flight to one host, and a minimum gap between their starts."""

    semaphore: asyncio.Semaphore
    delay: float
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # the Fetcher's, so tests need not wait
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0

    async def __aenter__(self) -> None:
        await self.semaphore.acquire()
        try:
            async with self.lock:
                wait = self.next_start - time.monotonic()
                if wait > 0:
                    await self.sleep(wait)
                self.next_start = time.monotonic() + self.delay
        except BaseException:
            self.semaphore.release()
            raise

    async def __aexit__(self, *exc_info) -> None:
        self.semaphore.release()

    def defer(self, seconds: float) -> None:
        self.next_start = max(self.next_start, time.monotonic() + seconds)


class Fetcher:
    """An ``httpx.AsyncClient`` with sendwatch's rules. Use as ``async with Fetcher(s) as f``."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.sleep = sleep  # every wait of the fetcher's, and of retries: tests pass their own
        self._gates: dict[str, _HostGate] = {}
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        self._client = httpx.AsyncClient(
            headers={"User-Agent": user_agent(s.contact), "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(connect=s.connect_timeout, read=s.read_timeout,
                                  write=s.read_timeout, pool=s.total_timeout),
            follow_redirects=False,  # followed by hand, so each hop is checked and throttled
            event_hooks={"response": [_stop_at_redirect]},
            limits=httpx.Limits(max_connections=max(10, s.per_host_concurrency * 4)),
        )
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _gate(self, url: str) -> _HostGate:
        host = (urlsplit(url).hostname or "").lower()
        gate = self._gates.get(host)
        if gate is None:
            concurrency, delay = self.settings.limits_for(host)
            gate = _HostGate(asyncio.Semaphore(concurrency), delay, self.sleep)
            self._gates[host] = gate
        return gate

    async def get(
        self,
        url: str,
        *,
        validators: Validators | None = None,
        accept: str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    ) -> Response:
        """GET ``url`` once, following redirects; raise ``FetchError`` when it cannot.

        A failure worth another try is marked ``transient``; when to try again is the
        caller's decision (``retry_delay``), so that a failing page never keeps other
        requests waiting. A 429's Retry-After holds every request to the host until then:
        the server says it is asked too often, not that one page is unwell."""
        try:
            return await self._follow(url, validators, accept)
        except FetchError as error:
            wait = error.retry_after
            if wait is not None and wait > self.settings.max_retry_after:
                raise FetchError(
                    f"{error}; the server asks to wait {wait:g} s, "
                    f"longer than max_retry_after ({self.settings.max_retry_after:g} s)",
                    status=error.status, retry_after=wait, body=error.body,
                ) from None
            if wait is not None and error.status == 429:
                log.info("holding requests to %s for %.1f s, as the server asked", urlsplit(url).hostname, wait)
                self._gate(url).defer(wait)
            raise

    async def _follow(self, url: str, validators: Validators | None, accept: str) -> Response:
        seen: list[str] = []
        for _ in range(self.settings.max_redirects + 1):
            _refuse_unless_fetchable(url)
            if url in seen:
                raise FetchError(f"redirect loop: {' -> '.join(seen + [url])}")
            seen.append(url)
            # Validators belong to the URL they were given for; a redirect target gets none.
            response = await self._once(url, validators if len(seen) == 1 else None, accept)
            if response.status not in REDIRECT_STATUSES:
                return response
            location = response.headers.get("location")
            if not location:
                raise FetchError(f"HTTP {response.status} redirect without a Location", status=response.status)
            try:
                url = urljoin(url, location.strip())
            except ValueError as exc:  # urljoin's own check, e.g. an unclosed "[" in an IPv6 host
                raise FetchError(f"refusing to follow a redirect to {location!r}: {exc}",
                                 status=response.status) from None
        raise FetchError(f"more than {self.settings.max_redirects} redirects (last: {url})")

    async def _once(self, url: str, validators: Validators | None, accept: str) -> Response:
        assert self._client is not None, "use Fetcher as an async context manager"
        headers = {"Accept": accept, **(validators.headers() if validators else {})}
        cap = self.settings.max_bytes
        async with self._gate(url):
            try:
                # The total timeout starts once the host gate lets the request go: time spent
                # queueing behind other requests to a slow host is not the server's fault.
                async with asyncio.timeout(self.settings.total_timeout), \
                        self._client.stream("GET", url, headers=headers) as response:
                    status = response.status_code
                    if status == 304:
                        return Response(url, status, response.headers, not_modified=True)
                    if status >= 400:
                        # APIs explain a 4xx/5xx in the body; a bounded read keeps that reason.
                        raise self._status_error(url, response, await _start_of_body(response, 65536))
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > cap:
                        raise FetchError(f"the response is {int(declared):,} bytes, over the "
                                         f"{cap:,}-byte cap (max_bytes)")
                    try:
                        body = await _read_body(response, cap)
                    except OverLimit:
                        raise FetchError(f"the response is over the {cap:,}-byte cap (max_bytes)") from None
                    return Response(url, status, response.headers, body)
            except _Redirect as redirect:
                return Response(url, redirect.status, redirect.headers)
            # A timeout is not transient: another try would wait as long again.
            except httpx.TimeoutException as exc:
                raise FetchError(f"timed out ({_timeout_kind(exc)}) fetching {url}") from None
            except TimeoutError:
                raise FetchError(f"no complete answer from {url} within "
                                 f"{self.settings.total_timeout:g} s (total_timeout)") from None
            except httpx.RemoteProtocolError as exc:
                raise FetchError(f"the connection broke off mid-response ({exc}); the body is incomplete",
                                 transient=True) from None
            except httpx.ConnectError as exc:
                raise FetchError(f"cannot reach {urlsplit(url).netloc}: {connect_reason(exc)}",
                                 transient=True) from None
            except httpx.TransportError as exc:
                raise FetchError(f"cannot reach {urlsplit(url).netloc}: {exc or type(exc).__name__}",
                                 transient=True) from None
            except DecodeFailed as exc:
                raise FetchError(f"the response body cannot be decompressed: {exc}") from None

    def _status_error(self, url: str, response: httpx.Response, body: bytes) -> FetchError:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        reason = response.reason_phrase or ""
        message = f"HTTP {status} {reason}".rstrip() + f" from {url}"
        if explained := api_message(body, response.headers.get("content-type", "")):
            message += f": {explained}"
        return FetchError(message, status=status, retry_after=retry_after, body=body,
                          transient=status in RETRY_STATUSES)


class _Redirect(Exception):
    """A redirect, taken out of httpx's hands before it reads the Location itself."""

    def __init__(self, status: int, headers: httpx.Headers):
        super().__init__(status)
        self.status, self.headers = status, headers


async def _stop_at_redirect(response: httpx.Response) -> None:
    # Even with follow_redirects off, httpx builds the next request of a redirect, and a
    # Location it cannot turn into one (javascript:alert(1), a bad port) escapes as
    # InvalidURL or reads as a broken connection. sendwatch judges each Location itself.
    if response.status_code in REDIRECT_STATUSES:
        raise _Redirect(response.status_code, response.headers)


def _refuse_unless_fetchable(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"refusing to fetch {url!r}: only http and https are allowed")
    try:
        parts.port  # noqa: B018 (raises for a port out of range, which httpx lets through)
        if not httpx.URL(url).host:
            raise ValueError("no host")
    except (ValueError, httpx.InvalidURL) as exc:
        raise FetchError(f"refusing to fetch {url!r}: not a usable URL ({exc})") from None


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    """The decoded body; ``OverLimit`` once it, or any step of its decoding, passes ``limit``.
    The raw stream is decoded here rather than by httpx, whose decoders have no bound."""
    decoder = BoundedDecoder(response.headers.get_list("content-encoding", split_commas=True), limit)
    chunks = [decoder.feed(raw) async for raw in response.aiter_raw()]
    chunks.append(decoder.flush())
    return b"".join(chunks)


async def _start_of_body(response: httpx.Response, limit: int) -> bytes:
    """The first ``limit`` bytes of an error response's body, decoded (what decoded before
    an error, if it does not): enough for an API's explanation."""
    chunks: list[bytes] = []
    try:
        decoder = BoundedDecoder(response.headers.get_list("content-encoding", split_commas=True), limit,
                                 keep_start=True)
        async for raw in response.aiter_raw():
            chunks.append(decoder.feed(raw))
            if decoder.done:
                return b"".join(chunks)
        chunks.append(decoder.flush())
    except DecodeFailed:
        pass
    return b"".join(chunks)


def retry_delay(error: BaseException, attempt: int, settings: FetchSettings) -> float | None:
    """Seconds before a source is read again within the same check, after its
    ``attempt``-th read (1 for the first) failed with ``error``; None when it is not.

    Only a transient failure is tried again, ``retries`` times at most, after ``backoff``
    doubling each time, or after the server's Retry-After when that is longer."""
    if not isinstance(error, FetchError) or not error.transient or attempt > settings.retries:
        return None
    return not_before(backoff(settings.backoff, attempt) * random.uniform(0.9, 1.1), error.retry_after)


def connect_reason(exc: BaseException) -> str:
    """What the system said for each address tried, where httpx says only "All connection
    attempts failed"; for a TLS handshake that failed, what TLS said. The attempts are
    further down the exception's chain: httpcore raises its own error while handling
    AnyIO's, which holds each address's error as its cause."""
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
        elif isinstance(current, socket.gaierror | ssl.SSLError):  # errno numbers of their own, not errno's
            if str(current) not in said:
                said.append(str(current))  # "[Errno -2] Name or service not known", "[SSL: ...] certificate ..."
        elif isinstance(current, OSError) and isinstance(current.errno, int) and current.errno > 0:
            # asyncio words a refusal "Connect call failed ('127.0.0.1', 8080)": the
            # system's own words for the errno say what happened.
            reason = f"[Errno {current.errno}] {os.strerror(current.errno)}"
            if reason not in said:
                said.append(reason)
        # Both links: httpcore hides AnyIO's error as the context of its own ("from None").
        pending += [link for link in (current.__cause__, current.__context__) if link is not None]
    return "; ".join(said) or str(exc) or type(exc).__name__


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "pool",
    }.get(type(exc), "timeout")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def api_message(body: bytes, content_type: str) -> str | None:
    """The error message an API put in its JSON error body, if any (first 300 characters)."""
    if "json" not in content_type.lower() or not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    found = _find_message(data)
    return " ".join(without_controls(found).split())[:300] if found else None


def _find_message(data, depth: int = 0) -> str | None:
    if depth > 3:
        return None
    if isinstance(data, str):
        return data or None
    if isinstance(data, list):
        parts = [m for item in data[:3] if (m := _find_message(item, depth + 1))]
        return "; ".join(parts) or None
    if isinstance(data, dict):
        for key in ("message", "error_description", "detail", "title", "error", "errors", "Message"):
            if key in data and (found := _find_message(data[key], depth + 1)):
                return found
    return None
