"""The commitments ledger: developments, a person's verdicts on them, and events.

A development is a document that shows a commitment moving, with the change it was
found in as evidence; one found again (by another source, or later) is a sighting of
the same development. A possible development waits for a person's review; a rejected
one is never raised again for that commitment. Marks are a person's statement of where
a commitment stands; events (overdue, say) are recorded once however many processes
find them due.

What the ledger records it records together with the notifications that tell of it and
the sources it starts or stops following, in one transaction: ``record_developments``
runs inside the history's recording of the change the developments come from.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Date, func, insert, literal, select, update
from sqlalchemy.orm import Session

from monitor.core.drafts import (
    CONFIRMED,
    DEVELOPED,
    DEVELOPMENT,
    POSSIBLE,
    REJECTED,
    DevelopmentDraft,
    NotificationDraft,
    Rejection,
    RestatementDraft,
)
from monitor.core.ledger import Restated
from storage import outbox, sources
from storage.database import Database
from storage.models import (
    CommitmentMarkRecord,
    DevelopmentRecord,
    LedgerEventRecord,
    RestatementRecord,
    SightingRecord,
    UTCDateTime,
)

_REJECTIONS = (select(DevelopmentRecord.commitment_id, DevelopmentRecord.document_key,
                      func.coalesce(DevelopmentRecord.document_title, DevelopmentRecord.title),
                      DevelopmentRecord.reviewed_at, DevelopmentRecord.detected_at)
               .where(DevelopmentRecord.status == REJECTED)
               .order_by(DevelopmentRecord.reviewed_at, DevelopmentRecord.id))


class Ledger:
    """Developments, reviews, marks and events of the commitments."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._session = database.session

    def developments(self, *, commitment_id: str | None = None, since: datetime | None = None,
                     change_id: int | None = None,
                     statuses: tuple[str, ...] | None = DEVELOPED) -> list[DevelopmentRecord]:
        """Newest first. By default only what counts as a development (recorded as one, or
        confirmed by a person); ``statuses=None`` for every status."""
        with self._session() as session:
            # Newest by when subscribers were told: a confirmed one is news the day it is confirmed.
            announced = func.coalesce(DevelopmentRecord.reviewed_at, DevelopmentRecord.detected_at)
            query = select(DevelopmentRecord).order_by(announced.desc(), DevelopmentRecord.id.desc())
            if statuses is not None:
                query = query.where(DevelopmentRecord.status.in_(statuses))
            if commitment_id is not None:
                query = query.where(DevelopmentRecord.commitment_id == commitment_id)
            if since is not None:
                query = query.where(announced >= since)
            if change_id is not None:
                query = query.where(DevelopmentRecord.change_id == change_id)
            return list(session.scalars(query))

    def development(self, development_id: int) -> DevelopmentRecord | None:
        with self._session() as session:
            return session.get(DevelopmentRecord, development_id)

    def sightings(self, *, development_id: int | None = None, change_id: int | None = None) -> list[SightingRecord]:
        """Later sightings of developments' documents, oldest first."""
        with self._session() as session:
            query = select(SightingRecord).order_by(SightingRecord.seen_at, SightingRecord.id)
            if development_id is not None:
                query = query.where(SightingRecord.development_id == development_id)
            if change_id is not None:
                query = query.where(SightingRecord.change_id == change_id)
            return list(session.scalars(query))

    def review(self, development_id: int, verdict: str, at: datetime,
               notifications: Iterable[NotificationDraft] = ()) -> bool:
        """A person's verdict: CONFIRMED (a possible development becomes one, and its
        ``notifications`` are queued with it) or REJECTED (a possible development, or a
        development, is set aside for good, and a document followed from it no longer is).
        False when the development is not, or no longer, in a state the verdict applies to
        (another person got there first)."""
        allowed = {CONFIRMED: (POSSIBLE,), REJECTED: (POSSIBLE, DEVELOPMENT, CONFIRMED)}[verdict]
        with self._session.begin() as session:
            done = session.scalar(update(DevelopmentRecord).where(
                DevelopmentRecord.id == development_id, DevelopmentRecord.status.in_(allowed))
                .values(status=verdict, reviewed_at=at).returning(DevelopmentRecord.id))
            if done is None:
                return False
            development = session.get_one(DevelopmentRecord, development_id)
            if verdict == CONFIRMED:
                outbox.enqueue(session, notifications, at, development_id=development_id)
                if development.follow:  # as it would have been, had it scored a development
                    sources.follow(session, development.follow, development_id, at)
                return True
            # A document that is not a development is not followed either, unless it is
            # still one for another commitment: then that one follows it from now on.
            other = None
            if development.document_key is not None:
                other = session.scalars(select(DevelopmentRecord).where(
                    DevelopmentRecord.document_key == development.document_key,
                    DevelopmentRecord.id != development_id,
                    DevelopmentRecord.status.in_(DEVELOPED)).order_by(DevelopmentRecord.id).limit(1)).first()
            sources.hand_over(session, development_id, other)
            return True

    def restatements(self, *, commitment_id: str | None = None, change_id: int | None = None,
                     development_id: int | None = None, since: datetime | None = None,
                     counted: bool = False) -> list[RestatementRecord]:
        """Restatements, oldest first by the day said. ``counted``: only those that move a
        commitment's date: from a statistics release, or from an answer or statement that is
        a development (not one only possible, or rejected, for it)."""
        with self._session() as session:
            query = select(RestatementRecord).order_by(RestatementRecord.said_on, RestatementRecord.id)
            if commitment_id is not None:
                query = query.where(RestatementRecord.commitment_id == commitment_id)
            if change_id is not None:
                query = query.where(RestatementRecord.change_id == change_id)
            if development_id is not None:
                query = query.where(RestatementRecord.development_id == development_id)
            if since is not None:
                query = query.where(RestatementRecord.recorded_at >= since)
            if counted:
                developed = select(DevelopmentRecord.id).where(DevelopmentRecord.status.in_(DEVELOPED))
                query = query.where(RestatementRecord.development_id.is_(None)
                                    | RestatementRecord.development_id.in_(developed))
            return list(session.scalars(query))

    def restated(self, commitment_id: str | None = None) -> dict[str, list[Restated]]:
        """The restatements that count, by commitment, as the ledger core takes them."""
        found: dict[str, list[Restated]] = {}
        for r in self.restatements(commitment_id=commitment_id, counted=True):
            found.setdefault(r.commitment_id, []).append(restated(r))
        return found

    def rejections(self) -> list[Rejection]:
        """Every document a person rejected, and for which commitment, oldest first."""
        with self._engine.connect() as conn:  # every change of a pass asks: no ORM session (0.34 to 0.12 ms)
            rows = conn.execute(_REJECTIONS)
            return [Rejection(c, key, title, reviewed or detected) for c, key, title, reviewed, detected in rows]

    def mark(self, commitment_id: str, state: str, note: str, at: datetime) -> None:
        with self._session.begin() as session:
            session.add(CommitmentMarkRecord(commitment_id=commitment_id, state=state, note=note, marked_at=at))

    def latest_marks(self) -> dict[str, CommitmentMarkRecord]:
        with self._session() as session:
            marks = session.scalars(select(CommitmentMarkRecord)
                                    .order_by(CommitmentMarkRecord.marked_at, CommitmentMarkRecord.id))
            return {m.commitment_id: m for m in marks}  # later marks overwrite earlier ones

    def events(self, commitment_id: str | None = None) -> list[LedgerEventRecord]:
        """Oldest first."""
        with self._session() as session:
            query = select(LedgerEventRecord).order_by(LedgerEventRecord.at, LedgerEventRecord.id)
            if commitment_id is not None:
                query = query.where(LedgerEventRecord.commitment_id == commitment_id)
            return list(session.scalars(query))

    def record_event(self, commitment_id: str, kind: str, expected_by, at: datetime,
                     notifications: Iterable[NotificationDraft] = (), *,
                     unless_since: datetime | None = None) -> int | None:
        """Record a ledger event, unless one for the same commitment and expected-by date
        exists already (since ``unless_since``, or ever when it is None): two processes
        that both find a commitment overdue record it, and email it, once. None when skipped."""
        with self._session.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Serialises the check-then-insert per commitment across processes.
                session.execute(select(func.pg_advisory_xact_lock(func.hashtext(commitment_id))))
            same = [LedgerEventRecord.commitment_id == commitment_id, LedgerEventRecord.expected_by == expected_by]
            if unless_since is not None:
                same.append(LedgerEventRecord.at >= unless_since)
            row = select(literal(commitment_id), literal(kind), literal(expected_by, Date()),
                         literal(at, UTCDateTime())).where(~select(LedgerEventRecord.id).where(*same).exists())
            # One statement: on SQLite it runs under the write lock, so the check cannot race.
            event_id = session.execute(
                insert(LedgerEventRecord).from_select(["commitment_id", "kind", "expected_by", "at"], row)
                .returning(LedgerEventRecord.id)).scalar()
            if event_id is not None:
                outbox.enqueue(session, notifications, at, ledger_event_id=event_id)
            return event_id


@dataclass(slots=True)
class Developed:
    """What the developments of one change came to."""

    development_ids: list[int] = field(default_factory=list)  # developments made, or made out of possible ones
    developed: list[str] = field(default_factory=list)  # their commitments, in order
    possible_ids: list[int] = field(default_factory=list)  # possible developments, for a person to review
    possible: list[str] = field(default_factory=list)  # their commitments, in order
    seen_again: list[int] = field(default_factory=list)  # developments (of any status) whose document was seen again
    followed: list[str] = field(default_factory=list)  # ids of sources followed from now on
    queued: int = 0  # development emails queued


def record_developments(session: Session, drafts: Iterable[DevelopmentDraft], change_id: int, source_id: str,
                        at: datetime) -> Developed:
    """Record, in ``session``'s transaction, the developments found in a change: new
    ones with their notifications and the documents they follow, and sightings of those
    already recorded."""
    developed = Developed()
    # In one order in every process: two recording the same documents for two
    # sources at once would otherwise wait on each other's rows (a deadlock).
    for draft in sorted(drafts, key=lambda d: (d.commitment_id, d.document_key or "")):
        development, fresh = _development(session, draft, change_id, source_id, at)
        # Seen again or not, what it says now is read: a corrected answer's new sentence counts.
        record_restatements(session, draft.restatements, change_id, source_id, at, development.id)
        if not fresh:
            developed.seen_again.append(development.id)
            session.add(SightingRecord(
                development_id=development.id, change_id=change_id, source_id=source_id,
                title=draft.title, url=draft.url, score=draft.score, evidence=draft.evidence,
                seen_at=at))
            if not (development.status == POSSIBLE and draft.status == DEVELOPMENT):
                continue
            # Seen again with evidence enough: no longer a question for a person.
            development.status = DEVELOPMENT
            development.reviewed_at = at  # when subscribers are told
        elif development.status == POSSIBLE:
            developed.possible_ids.append(development.id)
            developed.possible.append(development.commitment_id)
            continue
        developed.development_ids.append(development.id)
        developed.developed.append(development.commitment_id)
        developed.queued += len(outbox.enqueue(session, draft.notify, at, development_id=development.id))
        if draft.follow and sources.follow(session, draft.follow, development.id, at):
            developed.followed.append(draft.follow["id"])
    return developed


def restated(record: RestatementRecord) -> Restated:
    return Restated(record.said_on, record.resolves_to, record.rule, record.sentence, record.said_by, record.url)


def record_restatements(session: Session, drafts: Iterable[RestatementDraft], change_id: int, source_id: str,
                        at: datetime, development_id: int | None = None) -> int:
    """Record, in ``session``'s transaction, the restatements not recorded before (once per
    commitment, document, sentence and the words in it that gave the date, whichever process
    gets there first); how many were new."""
    dialect = _dialect(session)
    new = 0
    for draft in drafts:
        values = {"commitment_id": draft.commitment_id, "document_key": draft.document_key,
                  "finding_hash": hashlib.sha256(f"{draft.sentence}\n{draft.words}".encode()).hexdigest(),
                  "development_id": development_id, "change_id": change_id, "source_id": source_id,
                  "said_on": draft.said_on, "said_by": draft.by, "url": draft.url, "sentence": draft.sentence,
                  "words": draft.words, "rule": draft.rule, "resolves_to": draft.resolves_to, "recorded_at": at}
        new += session.scalar(dialect.insert(RestatementRecord).values(**values).on_conflict_do_nothing(
            index_elements=["commitment_id", "document_key", "finding_hash"])
            .returning(RestatementRecord.id)) is not None
    return new


def _dialect(session: Session):
    # Each dialect's module is loaded when first used: PostgreSQL's brings its drivers'
    # modules with it, which a run on SQLite has no use for (30 ms of every start).
    name = "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"
    return importlib.import_module(f"sqlalchemy.dialects.{name}")


def _development(session: Session, draft: DevelopmentDraft, change_id: int, source_id: str,
                 at: datetime) -> tuple[DevelopmentRecord, bool]:
    """The development of ``draft``'s commitment and document: a new row (True), or the
    row already recorded for that document (False), whatever route found it first.

    The insert does nothing when the row exists: on PostgreSQL it waits for another
    process inserting the same row and then finds it, so two sources recording one
    document at once still make one development."""
    values = {"commitment_id": draft.commitment_id, "change_id": change_id, "source_id": source_id,
              "item_key": draft.item_key, "title": draft.title, "url": draft.url, "score": draft.score,
              "evidence": draft.evidence, "detected_at": at, "document_key": draft.document_key,
              "document_title": draft.document_title, "status": draft.status,
              "follow": draft.follow if draft.status == POSSIBLE else None}
    if draft.document_key is None:
        record = DevelopmentRecord(**values)
        session.add(record)
        session.flush()
        return record, True
    new_id = session.scalar(_dialect(session).insert(DevelopmentRecord).values(**values)
                            .on_conflict_do_nothing(index_elements=["commitment_id", "document_key"])
                            .returning(DevelopmentRecord.id))
    query = select(DevelopmentRecord).where(DevelopmentRecord.commitment_id == draft.commitment_id,
                                            DevelopmentRecord.document_key == draft.document_key)
    if new_id is None and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # a person reviewing it, or another sighting, waits
    return session.scalars(query.execution_options(populate_existing=True)).one(), new_id is not None
