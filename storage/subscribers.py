"""Who receives the commitments' email: the subscribers, kept in the record.

The config file's ``[[recipient]]`` tables are subscribers an operator manages in the
file: ``sync`` keeps their rows in step with it (origin ``config``). Others are added with
``sendwatch subscribers add`` (origin ``cli``). Only active subscribers receive email; an
address that refuses mail for good several times in a row is suspended.

Leaving takes effect at once: removing a subscriber cancels every email queued for it
and not yet sent, digests in waiting included, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from config.errors import SendwatchError
from config.settings import RecipientSettings
from storage import locking
from storage.database import Database, rowcount
from storage.models import NotificationRecord, SubscriberRecord, utcnow

ACTIVE, PENDING, SUSPENDED, LEFT = "active", "pending", "suspended", "left"
CONFIG, CLI, SIGNUP = "config", "cli", "signup"
# At most one email an hour to an address that nobody's subscription asked for (a
# confirmation, a link asked for again): nobody can mail-bomb a third party through us.
UNASKED_EVERY = timedelta(hours=1)
# A sign-up not confirmed in this time is forgotten (the confirmation link lasts 48 hours).
UNCONFIRMED_FOR = timedelta(days=7)
CONFIRM, MANAGE_LINK = "confirm", "manage-link"  # the notification kinds of those emails
CANCELLED = "cancelled"  # a notification whose recipient left before it was sent
_UNSENT = ("pending", "held")


class SubscriberError(SendwatchError):
    """An operation a subscriber's row does not allow; ``str()`` says why, in one line."""


def address_of(email: str) -> str:
    """One row per mailbox: the local part in lower case (mail servers treat A@x.org and
    a@x.org as one), the domain as the DNS knows it (IDNA 2008, ASCII, lower case). Not
    Unicode case folding: it would make user@maß.com, a domain anyone can register, the
    same row as user@mass.com."""
    from email_validator import EmailNotValidError, validate_email

    email = email.strip()
    try:
        valid = validate_email(email, check_deliverability=False)
    except EmailNotValidError:  # not an address a subscriber can have: compare it as written
        return email.lower()
    return f"{valid.local_part.lower()}@{(valid.ascii_domain or valid.domain).lower()}"


def recipient_of(record: SubscriberRecord) -> RecipientSettings:
    return RecipientSettings(email=record.email, name=record.name, commitments=tuple(record.commitments),
                             mode=record.mode, at=record.at, weekday=record.weekday)


def _fields(recipient: RecipientSettings) -> dict:
    return {"email": recipient.email, "name": recipient.name, "commitments": list(recipient.commitments),
            "mode": recipient.mode, "at": recipient.at, "weekday": str(recipient.weekday)}


class Subscribers:
    """The subscribers, and what leaving does to the mail queued for them."""

    def __init__(self, database: Database) -> None:
        self._session = database.session

    def sync(self, recipients: Iterable[RecipientSettings]) -> None:
        """Make the config file's recipients subscribers as the file says; a config
        subscriber no longer in the file stops being one. A suspended one stays suspended:
        editing the file does not make its address work again (``resume`` does)."""
        wanted = {address_of(r.email): r for r in recipients}
        # Every check and every outbox run syncs: when the record already says what the
        # file says (nearly always), a plain read settles it, with no write lock taken.
        with self._session() as session:
            if not _out_of_step({r.address: r for r in session.scalars(select(SubscriberRecord))}, wanted):
                return
        now = utcnow()
        with self._session.begin() as session:
            # Processes started together (serve and a check) would each add the same row.
            locking.exclusive(session.connection(), locking.SUBSCRIBERS)
            known = {r.address: r for r in session.scalars(select(SubscriberRecord))}
            for address, recipient in wanted.items():
                record = known.get(address)
                fields = _fields(recipient)
                if record is None:
                    session.add(SubscriberRecord(address=address, status=ACTIVE, origin=CONFIG, failures=0,
                                                 created_at=now, updated_at=now, **fields))
                    continue
                if record.origin == CONFIG and all(getattr(record, k) == v for k, v in fields.items()):
                    continue
                for key, value in fields.items():
                    setattr(record, key, value)
                if record.status == PENDING:  # the operator's file vouches for the address
                    record.status = ACTIVE
                record.origin, record.updated_at = CONFIG, now
            for address, record in known.items():
                # One who left by link stays recorded as left, so the entry coming back (or a
                # command run with another file meanwhile) never subscribes them again.
                if record.origin == CONFIG and address not in wanted and record.status != LEFT:
                    _cancel_unsent(session, record)
                    session.delete(record)

    def active(self) -> list[RecipientSettings]:
        """Everyone who receives the commitments' email now, oldest first."""
        with self._session() as session:
            rows = session.scalars(select(SubscriberRecord).where(SubscriberRecord.status == ACTIVE)
                                   .order_by(SubscriberRecord.id))
            return [recipient_of(r) for r in rows]

    def all(self) -> list[SubscriberRecord]:
        with self._session() as session:
            return list(session.scalars(select(SubscriberRecord).order_by(SubscriberRecord.id)))

    def get(self, email: str) -> SubscriberRecord | None:
        with self._session() as session:
            return session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address_of(email)))

    def add(self, recipient: RecipientSettings) -> SubscriberRecord:
        """Subscribe ``recipient`` as an operator does: active at once. An address already
        subscribed takes the new choices (and works again if it was suspended)."""
        address, now = address_of(recipient.email), utcnow()
        with self._session.begin() as session:
            record = session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address))
            if record is not None and record.origin == CONFIG:
                raise SubscriberError(f"{recipient.email} is a [[recipient]] of the config file: change it there")
            if record is None:
                record = SubscriberRecord(address=address, origin=CLI, created_at=now, **_fields(recipient))
                session.add(record)
            else:
                for key, value in _fields(recipient).items():
                    setattr(record, key, value)
            record.status, record.failures, record.updated_at = ACTIVE, 0, now
            return record

    def resume(self, email: str) -> SubscriberRecord:
        """A suspended address works again (the operator says its mailbox is fixed)."""
        with self._session.begin() as session:
            record = session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address_of(email)))
            if record is None:
                raise SubscriberError(f"{email} is not a subscriber")
            record.status, record.failures, record.updated_at = ACTIVE, 0, utcnow()
            return record

    def remove(self, email: str, *, forget: bool = False) -> int:
        """Unsubscribe ``email``: the row goes, and every email queued for it and not yet
        sent is cancelled. With ``forget``, every notification ever written to the address
        goes too, so the record keeps nothing of it. The number of notifications cancelled
        or forgotten."""
        address = address_of(email)
        with self._session.begin() as session:
            record = session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address))
            if record is not None and record.origin == CONFIG:
                raise SubscriberError(f"{email} is a [[recipient]] of the config file: remove it there")
            if record is None and not forget:
                raise SubscriberError(f"{email} is not a subscriber")
            if forget:
                to = _to(record) if record is not None else or_(
                    NotificationRecord.recipient == email.strip(), func.lower(NotificationRecord.recipient) == address)
                count = rowcount(session.execute(delete(NotificationRecord).where(to)))
            elif record is not None:
                count = _cancel_unsent(session, record)
            if record is not None:
                session.delete(record)
            return count

    def bounced(self, email: str, limit: int) -> bool:
        """Count a permanent refusal of ``email``; True when it makes ``limit`` in a row and
        the subscriber is suspended by it (that once)."""
        with self._session.begin() as session:
            record = session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address_of(email)))
            if record is None or record.status != ACTIVE:
                return False
            record.failures += 1
            record.updated_at = utcnow()
            if record.failures < limit:
                return False
            record.status = SUSPENDED
            _cancel_unsent(session, record)
            return True

    # -- the public pages: sign-up, confirmation, managing by link --------------------------

    def sign_up(self, recipient: RecipientSettings, now: datetime) -> tuple[str, str] | None:
        """Someone asked, on the public page, to subscribe ``recipient``. What to email, and
        to which address (the one the record holds): ``CONFIRM`` (a confirmation link,
        which carries the choices asked for), ``MANAGE_LINK`` (it is subscribed already: a
        link to manage that), or None (it was written to in the last hour, or its mail is
        refused). The page says the same whatever this is."""
        try:
            return self._sign_up(recipient, now)
        except IntegrityError:
            # The same new address signed up twice at the same moment: the other request's
            # row (and its one email) stands.
            return None

    def _sign_up(self, recipient: RecipientSettings, now: datetime) -> tuple[str, str] | None:
        address = address_of(recipient.email)
        with self._session.begin() as session:
            record = session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address))
            if record is None:
                # The choices wait in the confirmation link, not here: see ``confirm``.
                session.add(SubscriberRecord(address=address, status=PENDING, origin=SIGNUP, failures=0,
                                             created_at=now, updated_at=now, mailed_at=now,
                                             **_fields(recipient)))
                return CONFIRM, recipient.email
            # A row is never rewritten by a request on the public page: whoever asks, the
            # email goes to the address the row holds, and only its owner can change it.
            if record.status == SUSPENDED:
                return None
            kind = MANAGE_LINK if record.status == ACTIVE else CONFIRM
            return (kind, record.email) if _unasked(session, record, now) else None

    def confirm(self, email: str, now: datetime, choices: RecipientSettings | None = None) -> SubscriberRecord | None:
        """The address's owner followed the confirmation link: it receives from now on,
        with ``choices`` (the ones its link carries, never another request's). None when
        there is nothing to confirm (the address was removed or suspended since)."""
        with self._session.begin() as session:
            record = session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address_of(email)))
            if record is None or record.status == SUSPENDED:
                return None
            if record.status != ACTIVE:
                if choices is not None and record.origin != CONFIG:
                    for key, value in _fields(choices).items():
                        if key != "email":
                            setattr(record, key, value)
                record.status, record.updated_at = ACTIVE, now
            return record

    def request_link(self, email: str, now: datetime) -> bool:
        """Someone asked for a link to manage ``email``'s subscription: True when one is to
        be sent (it is subscribed, and was not written to in the last hour)."""
        with self._session.begin() as session:
            record = session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address_of(email)))
            return record is not None and record.status == ACTIVE and _unasked(session, record, now)

    def choose(self, email: str, recipient: RecipientSettings, now: datetime) -> SubscriberRecord:
        """The subscriber changed their commitments or how often, by their link."""
        with self._session.begin() as session:
            record = session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address_of(email)))
            if record is None or record.status not in (ACTIVE, PENDING):
                raise SubscriberError(f"{email} is not subscribed")
            if record.origin == CONFIG:
                raise SubscriberError("this subscription is managed by the operator in sendwatch's config file")
            fields = _fields(recipient)
            fields["email"] = record.email  # the address is what the link was for; never another
            for key, value in fields.items():
                setattr(record, key, value)
            record.updated_at = now
            return record

    def unsubscribe(self, email: str, now: datetime) -> int | None:
        """The subscriber left by their link (or their mail program's one-click request):
        at once, what is queued for them cancelled. A subscriber of the config file stays
        recorded as left, so the file does not subscribe them again. None when the address
        was not subscribed; else the emails cancelled."""
        address = address_of(email)
        with self._session.begin() as session:
            record = session.scalar(select(SubscriberRecord).where(SubscriberRecord.address == address))
            if record is None or record.status == LEFT:
                return None
            cancelled = _cancel_unsent(session, record)
            if record.origin == CONFIG:
                record.status, record.updated_at = LEFT, now
            else:
                session.delete(record)
            return cancelled

    def forget_unconfirmed(self, before: datetime) -> int:
        """Forget sign-ups never confirmed since ``before``: the address and every email
        written to it (its confirmations). Someone else may have typed it; we keep nothing
        of an address its owner never confirmed. How many were forgotten."""
        with self._session.begin() as session:
            stale = list(session.scalars(select(SubscriberRecord).where(
                SubscriberRecord.status == PENDING, SubscriberRecord.origin == SIGNUP,
                SubscriberRecord.updated_at < before)))
            for record in stale:
                session.execute(delete(NotificationRecord).where(
                    _to(record), NotificationRecord.status.in_(("sent", "failed", "pending", CANCELLED))))
                session.delete(record)
            return len(stale)

    def delivered(self, email: str) -> None:
        """The address took an email: its run of refusals is over."""
        with self._session.begin() as session:
            session.execute(update(SubscriberRecord).where(
                SubscriberRecord.address == address_of(email), SubscriberRecord.failures > 0).values(failures=0))


def _out_of_step(known: dict[str, SubscriberRecord], wanted: dict[str, RecipientSettings]) -> bool:
    """Would ``sync`` change anything? (The same tests it makes, without writing.)"""
    for address, recipient in wanted.items():
        record = known.get(address)
        if record is None or record.origin != CONFIG or record.status == PENDING:
            return True
        if any(getattr(record, k) != v for k, v in _fields(recipient).items()):
            return True
    return any(r.origin == CONFIG and a not in wanted and r.status != LEFT for a, r in known.items())


def _unasked(session, record: SubscriberRecord, now: datetime) -> bool:
    """May sendwatch write to this address now, unasked by a subscription? Once an hour:
    one conditional UPDATE, so requests at the same moment cannot all pass the check."""
    session.flush()
    taken = session.execute(update(SubscriberRecord).where(
        SubscriberRecord.id == record.id,
        or_(SubscriberRecord.mailed_at.is_(None), SubscriberRecord.mailed_at <= now - UNASKED_EVERY))
        .values(mailed_at=now).execution_options(synchronize_session=False))
    return rowcount(taken) == 1


def _to(record: SubscriberRecord):
    """Notifications written to the subscriber: to the address as the row holds it (how they
    are queued), or in another case of ASCII letters (the database's lower() knows no more)."""
    return or_(NotificationRecord.recipient == record.email, func.lower(NotificationRecord.recipient) == record.address)


def _cancel_unsent(session, record: SubscriberRecord) -> int:
    return rowcount(session.execute(update(NotificationRecord).where(
        _to(record), NotificationRecord.status.in_(_UNSENT))
        .values(status=CANCELLED, last_error="the recipient left before it was sent")))
