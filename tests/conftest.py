"""Shared fixtures: a real HTTP server on 127.0.0.1, databases, a CLI runner."""

from __future__ import annotations

import gzip
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# The property tests (tests/test_properties.py) try a fixed number of generated cases each,
# the same cases on every run (derandomize), and keep no example database in the checkout.
# No deadline: this machine is shared, and a slow case is not a failing one.
PROPERTY_CASES = 200
settings.register_profile("sendwatch", max_examples=PROPERTY_CASES, derandomize=True, database=None,
                          deadline=None, print_blob=False, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sendwatch")


@pytest.fixture(autouse=True)
def scratch_home(tmp_path, monkeypatch):
    """Every test, and every process it starts, gets a home of its own: sendwatch's
    defaults (data, status file, service lock) live under the user's home, where a real
    ``sendwatch serve`` may be running."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, below in (("XDG_DATA_HOME", ".local/share"), ("XDG_CONFIG_HOME", ".config"),
                        ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
        monkeypatch.setenv(name, str(home / below))
    return home


# -- a local web site whose answers the test controls ----------------------------------------


@dataclass
class Reply:
    """One canned answer. ``body`` may be a callable giving fresh bytes per request."""

    body: bytes | Callable[[], bytes] = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    # Misbehaviours:
    hang: bool = False  # send nothing until the test ends
    truncate_to: int | None = None  # promise the full length, send this many bytes, close
    close_delimited: bool = False  # no Content-Length: the body ends when the connection closes
    gzip: bool = False


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # several sendwatch processes connect at once in the concurrency tests


class Site:
    """Routes by path. Each request is logged, so tests can see what sendwatch sent."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply | list[Reply]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.arrived: list[float] = []  # time.monotonic() of each request, as self.requests
        self.release = threading.Event()
        self.log_lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        # A short poll interval: shutting down waits for the next poll.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, reply: Reply | list[Reply]) -> None:
        """A list of replies is served in order, the last one repeating."""
        self.routes[path] = list(reply) if isinstance(reply, list) else reply

    def page(self, path: str, html: str | bytes, **kwargs) -> None:
        body = html.encode("utf-8") if isinstance(html, str) else html
        self.set(path, Reply(body=body, **kwargs))

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]

    def hit_times(self, path: str) -> list[float]:
        """When each request for ``path`` arrived (time.monotonic())."""
        return [at for (p, _), at in zip(self.requests, self.arrived, strict=True) if p == path]

    def start(self) -> Site:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def _handler(site: Site):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            with site.log_lock:  # the two logs stay in step across the server's threads
                site.arrived.append(time.monotonic())
                site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = site.routes.get(self.path) or site.routes.get(self.path.split("?")[0])
            if route is None:
                self._send(Reply(b"<html><body><p>not found</p></body></html>", status=404))
                return
            if isinstance(route, list):
                reply = route.pop(0) if len(route) > 1 else route[0]
            else:
                reply = route
            if reply.hang:
                site.release.wait(60)
                return
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            body = reply.body() if callable(reply.body) else reply.body
            if reply.gzip:
                body = gzip.compress(body)
            self.send_response(reply.status)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            if reply.gzip:
                self.send_header("Content-Encoding", "gzip")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.close_delimited:
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: reply.truncate_to] if reply.truncate_to is not None else body)
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(body)))
            if reply.truncate_to is not None:
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: reply.truncate_to])
                self.wfile.flush()
                self.close_connection = True
                return
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def site():
    server = Site().start()
    yield server
    server.stop()


# -- databases -------------------------------------------------------------------------------


def database_kinds() -> list[str]:
    """SQLite always; PostgreSQL too when SENDWATCH_TEST_DATABASE_URL points at a server."""
    return ["sqlite"] + (["postgres"] if os.environ.get("SENDWATCH_TEST_DATABASE_URL") else [])


@contextmanager
def fresh_database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file in ``directory``, or a new
    PostgreSQL database beside SENDWATCH_TEST_DATABASE_URL's (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'sendwatch.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(os.environ["SENDWATCH_TEST_DATABASE_URL"])
    name = f"sendwatch_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=database_kinds())
def database_url(request, tmp_path):
    """A fresh, empty database for one test (see ``fresh_database``)."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


def config_head(database_url: str, *, retries: int = 0, **extra) -> str:
    """The top of a test's sendwatch.toml: its database, and fetching tuned for a local
    server (no delay between requests, short timeouts). ``extra`` adds [fetch] keys."""
    fetch = {"contact": '"tests@example.org"', "per_host_delay": 0, "retries": retries, "backoff": 0.01,
             "connect_timeout": 1, "read_timeout": 1, "total_timeout": 3, **extra}
    return f'database_url = "{database_url}"\n[fetch]\n' + "".join(f"{k} = {v}\n" for k, v in fetch.items())


# The commitment most tests follow, as a user would write it in sendwatch.toml.
CODE_OF_PRACTICE = """
[[commitment]]
id = "code-of-practice"
title = "A revised SEND Code of Practice"
promise = "Revise the SEND Code of Practice."
made_in = "Government response to the Education Committee"
made_on = 2020-07-23
phrases = ["SEND code of practice", "SEN support"]
documents = ["SEND code of practice: 0 to 25 years"]
"""

# A commitment that was due long ago and has no development: overdue.
UPDATE_LATER = """
[[commitment]]
id = "update-later-in-the-year"
title = "An update later in the year"
promise = "Give the Committee an update later in 2020."
made_in = "Government response to the Education Committee"
made_on = 2020-07-23
expected_by = 2020-12-31
expected_note = "an update later in the year"
phrases = ["update to the Committee"]
"""


def stored_followed_source(database_url: str, source_id: str, url: str, kind: str = "page") -> None:
    """A followed source as an earlier sendwatch could store it, whatever its settings."""
    from datetime import UTC, datetime

    from sqlalchemy import create_engine, insert

    from storage.models import SourceRecord

    settings = {"id": source_id, "kind": kind, "url": url, "interval": 3600.0, "commitments": [], "enabled": True}
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(insert(SourceRecord).values(id=source_id, kind=kind, url=url, settings=settings,
                                                 origin="followed", active=True, consecutive_failures=0,
                                                 created_at=datetime.now(UTC)))
    engine.dispose()


# -- running the CLI in-process ---------------------------------------------------------------


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def sendwatch(tmp_path, monkeypatch, capsys):
    """Run ``sendwatch ARGS`` in a scratch directory; returns code, stdout and stderr."""
    monkeypatch.chdir(tmp_path)
    for name in ("SENDWATCH_CONFIG", "SENDWATCH_DATABASE_URL", "SENDWATCH_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))

    from monitor.app.cli import main

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))  # usage errors and --help too: an exit status, never SystemExit
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
