"""The fetcher's connections against real servers on 127.0.0.1: plain and TLS connections,
proxies, keep-alive, connections the server closes, refused connections."""

import asyncio
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import trustme

from monitor.core.errors import FetchError
from monitor.sources.fetch import Fetcher, connect_reason
from tests.test_fetch import FAST, fetch


def _server(body: bytes, seen: list[str] | None = None, wrap=None,
            clients: list[int] | None = None) -> ThreadingHTTPServer:
    """A server on 127.0.0.1 answering every GET with ``body``; request targets go to ``seen``,
    and the client's port of each request to ``clients``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            if seen is not None:
                seen.append(self.path)
            if clients is not None:
                clients.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if wrap is not None:
        server.socket = wrap(server.socket)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


def test_a_proxy_named_in_the_environment_is_used(monkeypatch):
    seen = []  # a proxy is asked for the absolute URL
    proxy = _server(b"<html><body><p>via the proxy</p></body></html>", seen)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # nothing listens there: only the proxy can answer
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    try:
        response = fetch(f"http://127.0.0.1:{port}/page")
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert response.body == b"<html><body><p>via the proxy</p></body></html>"
    assert seen == [f"http://127.0.0.1:{port}/page"]


class _OneShotServer:
    """HTTP/1.1 that answers each connection once (keep-alive promised, no Connection:
    close) and then hangs up, counting the connections it was given."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.closed = threading.Semaphore(0)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/p"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                body = f"<html><body><p>answer {self.connections}</p></body></html>".encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            self.closed.release()

    def stop(self) -> None:
        self.sock.close()


def test_a_connection_the_server_closed_is_not_reused():
    server = _OneShotServer()
    try:
        async def go():
            async with Fetcher(FAST) as fetcher:  # retries=0: a dead connection would fail the check
                first = await fetcher.get(server.url)
                await asyncio.to_thread(server.closed.acquire)  # the server has hung up
                second = await fetcher.get(server.url)
                return first.body, second.body

        first, second = asyncio.run(go())
    finally:
        server.stop()
    assert b"answer 1" in first and b"answer 2" in second
    assert server.connections == 2


def test_keep_alive_connections_are_reused():
    ports: list[int] = []
    server = _server(b"<html><body><p>hi</p></body></html>", clients=ports)

    async def go():
        async with Fetcher(FAST) as fetcher:
            for _ in range(3):
                await fetcher.get(f"http://127.0.0.1:{server.server_address[1]}/p")

    try:
        asyncio.run(go())
    finally:
        server.shutdown()
        server.server_close()
    assert len(ports) == 3 and len(set(ports)) == 1  # one connection, three requests


def test_a_refused_connection_fails_the_fetch_with_the_reason():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    with pytest.raises(FetchError, match=f"cannot reach 127.0.0.1:{port}: .*refused"):
        fetch(f"http://127.0.0.1:{port}/p")


def test_a_socks_proxy_in_the_environment_is_used_not_a_crash(monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # no SOCKS proxy listens there
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", f"socks5://127.0.0.1:{port}")
    with pytest.raises(FetchError, match=f"cannot reach .*127.0.0.1:{port}|Connection refused"):
        fetch("http://example.invalid/page")


def test_connect_failures_are_named_in_the_systems_words():
    # As httpx raises them: its error caused by httpcore's, raised while handling AnyIO's,
    # whose cause is the group of each address's attempt.
    anyio_error = OSError("All connection attempts failed")
    anyio_error.__cause__ = ExceptionGroup("attempts", [ConnectionRefusedError(111, "Connect call failed"),
                                                        ConnectionRefusedError(111, "Connect call failed")])
    inner = RuntimeError("All connection attempts failed")
    inner.__context__, inner.__suppress_context__ = anyio_error, True
    refused = httpx.ConnectError("All connection attempts failed")
    refused.__cause__ = inner
    assert connect_reason(refused) == "[Errno 111] Connection refused"
    # A resolver error keeps its own words, whatever its number means to errno.
    unknown = httpx.ConnectError("x")
    unknown.__cause__ = socket.gaierror(8, "nodename nor servname provided, or not known")
    assert connect_reason(unknown) == "[Errno 8] nodename nor servname provided, or not known"
    # A cause chain that loops does not hang.
    a, b = httpx.ConnectError("a"), OSError("b")
    a.__cause__, b.__cause__ = b, a
    assert connect_reason(a) == "a"


@pytest.fixture
def tls_site(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate from a throwaway CA."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    server = _server(b"<html><body><p>over TLS</p></body></html>",
                     wrap=lambda sock: context.wrap_socket(sock, server_side=True))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield f"https://127.0.0.1:{server.server_address[1]}/p", ca_file
    server.shutdown()
    server.server_close()


def test_https_with_a_trusted_certificate(tls_site, monkeypatch):
    url, ca_file = tls_site
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # as an operator with a private CA would

    response = fetch(url)
    assert response.status == 200 and response.body == b"<html><body><p>over TLS</p></body></html>"


def test_https_with_an_untrusted_certificate_fails(tls_site, monkeypatch):
    url, _ = tls_site
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(FetchError, match="certificate verify failed"):
        fetch(url)
