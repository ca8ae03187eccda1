"""Delivering one email: over SMTP, or into a local Maildir when no server is configured.

Failures are sorted into the two kinds the outbox needs: ``TransientMailError`` (try
again later: the server is down, or answered 4xx) and ``PermanentMailError`` (5xx: this
recipient will not take it, and retrying will not change that).
"""

from __future__ import annotations

import logging
import mailbox
import os
import smtplib
import ssl
import time
from email.message import EmailMessage
from pathlib import Path

from config.errors import SendwatchError
from config.settings import SmtpSettings

log = logging.getLogger("sendwatch.mail")


class MailError(SendwatchError):
    """An email could not be delivered; the message says why, for the outbox's record."""


class TransientMailError(MailError):
    """Worth another attempt later: a connection that failed, a 4xx reply, a Maildir that
    cannot be written now."""


class PermanentMailError(MailError):
    """Another attempt would fail the same way: a 5xx reply, a login refused, no way to log in."""


class BudgetSpent(TransientMailError):
    """The outbox run's time ran out while this email was being sent: not the server's
    fault, so not an attempt; the email waits, as it was, for the next run."""


class MaildirDelivery:
    """Writes each email into a Maildir (new/), atomically, for a local mail reader."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"Maildir {self.path}"

    def __enter__(self) -> MaildirDelivery:
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def deliver(self, message: EmailMessage, recipient: str, deadline: float | None = None) -> None:
        try:
            # The folders made here, not by mailbox.Maildir(create=True): it makes tmp/, new/
            # and cur/ only when the Maildir itself is new, so a second process starting at
            # the same moment finds the folder and no tmp/ in it.
            for folder in ("tmp", "new", "cur"):
                (self.path / folder).mkdir(parents=True, exist_ok=True)
            mailbox.Maildir(self.path, create=False).add(message)
        except OSError as exc:
            raise TransientMailError(f"cannot write to {self.path}: {exc}") from exc


class _SMTP(smtplib.SMTP):
    """smtplib's client, with each wait (connecting, every command and every reply) bound by
    the per-operation ``timeout`` and by ``deadline`` (``time.monotonic()``), so that a server
    which accepts connections and never answers holds a run of the outbox no longer than
    its budget. smtplib sends and reads only through these methods, TLS or not."""

    def __init__(self, *args, deadline: float | None = None, **kwargs) -> None:
        self.deadline = deadline  # before connecting, which the constructor does
        super().__init__(*args, **kwargs)

    def _wait(self) -> float:
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the outbox's send_budget ran out")
        return min(self.timeout, left)

    def _get_socket(self, host, port, timeout):
        return super()._get_socket(host, port, self._wait())

    def send(self, s) -> None:
        if self.sock is not None:
            self.sock.settimeout(self._wait())
        super().send(s)

    def getreply(self):
        if self.sock is not None:
            self.sock.settimeout(self._wait())
        return super().getreply()


class _SMTPS(_SMTP, smtplib.SMTP_SSL):
    """The same over TLS from the start: SMTP_SSL's own socket, with the same bounds."""


class SmtpDelivery:
    """Sends over one SMTP connection per batch (opened lazily, reopened after a failure)."""

    def __init__(self, settings: SmtpSettings, env=os.environ) -> None:
        self.settings = settings
        self.password = env.get(settings.password_env) if settings.username else None
        self._smtp: _SMTP | None = None

    def describe(self) -> str:
        s = self.settings
        return f"SMTP {s.host}:{s.effective_port} ({s.security})"

    def __enter__(self) -> SmtpDelivery:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.ca_file:
            context.load_verify_locations(cafile=str(self.settings.ca_file))
        return context

    def _connect(self, deadline: float | None) -> _SMTP:
        s = self.settings
        smtp: _SMTP
        try:
            if s.security == "tls":
                smtp = _SMTPS(s.host, s.effective_port, timeout=s.timeout, context=self._tls(), deadline=deadline)
            else:
                smtp = _SMTP(s.host, s.effective_port, timeout=s.timeout, deadline=deadline)
                if s.security == "starttls":
                    smtp.starttls(context=self._tls())
            if s.username:
                if self.password is None:
                    raise PermanentMailError(f"SMTP username is set but ${s.password_env} is empty")
                _login(smtp, s.username, self.password)
            return smtp
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentMailError(f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentMailError(f"the SMTP server does not support {s.security}: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientMailError(f"cannot connect to {s.host}:{s.effective_port}: {exc}") from exc

    def deliver(self, message: EmailMessage, recipient: str, deadline: float | None = None) -> None:
        """Send one message; no wait in it goes past ``deadline`` (``time.monotonic()``)."""
        try:
            self._deliver(message, recipient, deadline)
        except TransientMailError as exc:
            if deadline is not None and time.monotonic() >= deadline:
                raise BudgetSpent(str(exc)) from exc
            raise

    def _deliver(self, message: EmailMessage, recipient: str, deadline: float | None) -> None:
        if self._smtp is None:
            self._smtp = self._connect(deadline)
        self._smtp.deadline = deadline
        try:
            self._smtp.send_message(message, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients.get(recipient, (550, b"refused"))
            raise _by_code(code, f"{recipient} refused: {code} {_text(text)}") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _by_code(exc.smtp_code, f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientMailError(f"SMTP connection failed: {exc}") from exc


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    # One mechanism, not smtplib's "try each in turn": after a refused PLAIN, some servers
    # wait for a LOGIN exchange smtplib does not finish, and the refusal becomes a timeout.
    smtp.ehlo_or_helo_if_needed()
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    smtp.user, smtp.password = username, password
    for mechanism in ("PLAIN", "LOGIN"):
        if mechanism in offered:
            smtp.auth(mechanism, getattr(smtp, f"auth_{mechanism.lower()}"))
            return
    raise PermanentMailError(f"the SMTP server offers no AUTH PLAIN or LOGIN (offers: {' '.join(offered) or 'none'})")


def _by_code(code: int, text: str) -> MailError:
    return PermanentMailError(text) if 500 <= code < 600 else TransientMailError(text)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def delivery_for(email_settings, env=os.environ):
    if email_settings.smtp is None:
        return MaildirDelivery(email_settings.maildir)
    return SmtpDelivery(email_settings.smtp, env)
