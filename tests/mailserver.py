"""A real SMTP server for tests (aiosmtpd on 127.0.0.1), with switchable faults."""

from __future__ import annotations

import email
import socket
import threading
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Handler:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse: dict[str, str] = {}  # address -> SMTP reply
        self.temporary: str | None = None  # a reply to every RCPT while set

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.temporary:
            return self.temporary
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class MailServer:
    """``with MailServer() as server``: ``server.port``, ``server.handler.messages``."""

    def __init__(self, *, tls_context=None, require_starttls=False, credentials=None, port=None) -> None:
        self.handler = Handler()
        self.port = port or free_port()
        kwargs = {}
        if credentials is not None:
            user, password = credentials

            def authenticate(server, session, envelope, mechanism, auth_data):
                ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                    and auth_data.password.decode() == password
                return AuthResult(success=ok, handled=False)  # let the server answer 535

            kwargs.update(authenticator=authenticate, auth_require_tls=tls_context is not None)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, tls_context=tls_context,
                                     require_starttls=require_starttls, **kwargs)

    @property
    def messages(self) -> list[EmailMessage]:
        return [message for _rcpts, message in self.handler.messages]

    def __enter__(self) -> MailServer:
        self.controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.controller.stop()


class SilentServer:
    """An SMTP server that accepts TCP connections and never says a word (not even the
    greeting), as a wedged mail server does."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-smtp", daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _address = self.listener.accept()
            except OSError:  # the listener was closed: the server is stopping
                return
            self._held.append(connection)  # open and silent until the server stops

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way; close() alone does not
        self.listener.close()
        self._thread.join(5)
        for connection in self._held:
            connection.close()
