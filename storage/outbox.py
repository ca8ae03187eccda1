"""The outbox: email waiting to be sent, being sent, sent or given up on.

Whatever decides that someone should be told (a development, a confirmed review, an
overdue commitment, a failing source) queues a notification here in the same
transaction as what it tells of, so nothing is told that was not recorded and nothing
recorded goes untold. Senders then claim due notifications with conditional updates,
so two processes sending at once (``serve`` and a ``sendwatch check`` beside it) never
take the same one; digests gather a recipient's held notifications the same way.

``enqueue`` and ``row`` are for the other parts, which queue inside their own
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.core.drafts import NotificationDraft
from storage.database import Database, rowcount
from storage.models import (
    ChangeRecord,
    DevelopmentRecord,
    LedgerEventRecord,
    NotificationRecord,
    SourceRecord,
)


class Outbox:
    """The notifications, from queued to sent."""

    def __init__(self, database: Database) -> None:
        self._session = database.session

    def enqueue(self, notifications: Iterable[NotificationDraft], at: datetime) -> list[int]:
        with self._session.begin() as session:
            return enqueue(session, notifications, at)

    def recover_interrupted(self, before: datetime) -> int:
        """Put back notifications claimed before ``before`` by a sender that never finished
        them. Those the server had already accepted go out twice: the one window an outbox
        cannot close."""
        with self._session.begin() as session:
            return rowcount(session.execute(update(NotificationRecord).where(
                NotificationRecord.status == "sending", NotificationRecord.next_attempt_at < before)
                .values(status="pending")))

    def claim_due(self, now: datetime, limit: int = 1, due_by: datetime | None = None) -> list[NotificationRecord]:
        """Notifications due by ``due_by`` (default: ``now``), marked as being sent at
        ``now``. The claim is a conditional update, so two senders (``serve`` and a
        ``sendwatch check`` beside it) never both take one notification."""
        with self._session.begin() as session:
            query = (select(NotificationRecord.id)
                     .where(NotificationRecord.status == "pending",
                            NotificationRecord.next_attempt_at <= (now if due_by is None else due_by))
                     .order_by(NotificationRecord.next_attempt_at, NotificationRecord.id).limit(limit))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            while True:
                candidates = list(session.scalars(query))
                if not candidates:
                    return []
                claimed = list(session.scalars(
                    update(NotificationRecord)
                    .where(NotificationRecord.id.in_(candidates), NotificationRecord.status == "pending")
                    .values(status="sending", attempts=NotificationRecord.attempts + 1, next_attempt_at=now)
                    .returning(NotificationRecord.id)))
                if claimed:
                    break
                # Another sender claimed them between the look and the claim (on SQLite the
                # look is not yet in the write transaction): look again. Returning nothing
                # here would end this sender's run with email still due.
            return list(session.scalars(select(NotificationRecord).where(NotificationRecord.id.in_(claimed))
                                        .order_by(NotificationRecord.id)
                                        .execution_options(populate_existing=True)))

    def unclaim(self, notification_id: int, due: datetime) -> None:
        """Put back a claimed notification that was not tried to the end (the sender's time
        ran out): pending again, due at ``due``, its attempt not counted."""
        with self._session.begin() as session:
            session.execute(update(NotificationRecord).where(
                NotificationRecord.id == notification_id, NotificationRecord.status == "sending")
                .values(status="pending", attempts=NotificationRecord.attempts - 1, next_attempt_at=due))

    def mark_sent(self, notification_id: int, at: datetime) -> None:
        with self._session.begin() as session:
            record = session.get_one(NotificationRecord, notification_id)
            record.status, record.sent_at, record.last_error = "sent", at, None

    def mark_retry(self, notification_id: int, error: str, next_attempt_at: datetime) -> None:
        with self._session.begin() as session:
            record = session.get_one(NotificationRecord, notification_id)
            record.status, record.last_error, record.next_attempt_at = "pending", error, next_attempt_at

    def mark_failed(self, notification_id: int, error: str, notify: Iterable[NotificationDraft] = (),
                    at: datetime | None = None) -> None:
        """Give a notification up, and queue ``notify`` (the operators' notice of it) with it,
        in one transaction: the failure is never recorded without its notice."""
        with self._session.begin() as session:
            record = session.get_one(NotificationRecord, notification_id)
            record.status, record.last_error = "failed", error
            if notify:
                enqueue(session, notify, at or datetime.now(UTC))

    def notifications(self, *, status: str | None = None, recipient: str | None = None,
                      digest_id: int | None = None) -> list[NotificationRecord]:
        """Oldest first."""
        with self._session() as session:
            query = select(NotificationRecord).order_by(NotificationRecord.id)
            if status is not None:
                query = query.where(NotificationRecord.status == status)
            if recipient is not None:
                query = query.where(NotificationRecord.recipient == recipient)
            if digest_id is not None:
                query = query.where(NotificationRecord.digest_id == digest_id)
            return list(session.scalars(query))

    def held_recipients(self) -> set[str]:
        with self._session() as session:
            return set(session.scalars(select(NotificationRecord.recipient).distinct()
                                       .where(NotificationRecord.status == "held")))

    def release_held(self, recipient: str, *, error: str | None = None) -> int:
        """Held notifications of a recipient who no longer takes digests: sent on their own,
        or, with ``error``, recorded as failed (the recipient is gone from the config)."""
        with self._session.begin() as session:
            values = {"status": "failed", "last_error": error} if error else {"status": "pending"}
            return rowcount(session.execute(update(NotificationRecord).where(
                NotificationRecord.recipient == recipient, NotificationRecord.status == "held")
                .values(**values)))

    def last_digest_at(self, recipient: str) -> datetime | None:
        with self._session() as session:
            return session.scalar(select(func.max(NotificationRecord.created_at)).where(
                NotificationRecord.recipient == recipient, NotificationRecord.kind == "digest"))

    def make_digest(self, recipient: str, at: datetime, held_before: datetime) -> int | None:
        """Gather a recipient's notifications held since before ``held_before`` into one
        digest notification; None when there are none. The held rows are taken with a
        conditional update, so two processes never both digest them (nor send an empty one)."""
        with self._session.begin() as session:
            query = select(NotificationRecord.id).where(
                NotificationRecord.recipient == recipient, NotificationRecord.status == "held",
                NotificationRecord.created_at <= held_before)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            candidates = list(session.scalars(query))
            if not candidates:
                return None
            digest = NotificationRecord(recipient=recipient, kind="digest", status="pending", payload={},
                                        attempts=0, next_attempt_at=at, created_at=at)
            session.add(digest)
            session.flush()
            taken = list(session.scalars(
                update(NotificationRecord)
                .where(NotificationRecord.id.in_(candidates), NotificationRecord.status == "held")
                .values(status="digested", digest_id=digest.id).returning(NotificationRecord.id)))
            if not taken:
                session.delete(digest)
                return None
            digest.payload = {"items": len(taken)}
            return digest.id

    def context(self, notification: NotificationRecord) -> dict:
        """The records a message about this notification is made from."""
        with self._session() as session:
            development = session.get(DevelopmentRecord, notification.development_id) \
                if notification.development_id else None
            change = session.get(ChangeRecord, development.change_id) if development else None
            event = session.get(LedgerEventRecord, notification.ledger_event_id) \
                if notification.ledger_event_id else None
            source_id = notification.source_id or (development.source_id if development else None)
            source = session.get(SourceRecord, source_id) if source_id else None
            return {"development": development, "change": change, "event": event, "source": source}


def row(draft: NotificationDraft, at: datetime, **links) -> dict:
    """The values of a notification queued at ``at`` (``links``: what it is about)."""
    return {"recipient": draft.recipient, "kind": draft.kind, "commitment_id": draft.commitment_id,
            "source_id": draft.source_id, "payload": draft.payload or {},
            "status": "held" if draft.held else "pending", "attempts": 0, "next_attempt_at": at,
            "created_at": at, **links}


def enqueue(session: Session, drafts: Iterable[NotificationDraft], at: datetime, **links) -> list[int]:
    """Queue ``drafts`` in ``session``'s transaction; their ids."""
    ids = []
    for draft in drafts:
        record = NotificationRecord(**row(draft, at, **links))
        session.add(record)
        session.flush()
        ids.append(record.id)
    return ids
