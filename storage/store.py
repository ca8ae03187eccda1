"""The queries the rest of sendwatch needs. Nothing outside ``storage`` writes SQL.

Every method is one transaction. Methods take and return domain values (Documents,
Changes) or the read-only records of ``storage.models``; sessions never leak out.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Date, bindparam, create_engine, delete, event, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from monitor.core.diff import Change
from monitor.core.document import Document
from monitor.core.drafts import (
    CONFIRMED,
    DEVELOPED,
    DEVELOPMENT,
    POSSIBLE,
    REJECTED,
    DevelopmentDraft,
    NotificationDraft,
    Rejection,
)
from storage import locking
from storage.models import (
    ChangeRecord,
    CheckRecord,
    CommitmentMarkRecord,
    DevelopmentRecord,
    LedgerEventRecord,
    NotificationRecord,
    SightingRecord,
    SnapshotRecord,
    SourceRecord,
    UTCDateTime,
    utcnow,
)

ANY_SNAPSHOT = object()  # record_document: record the change whatever the current snapshot is


@dataclass(frozen=True, slots=True)
class SourceState:
    """What a check needs to know about a source before fetching it."""

    etag: str | None
    last_modified: str | None
    snapshot_id: int | None
    content_hash: str | None
    consecutive_failures: int = 0


@dataclass(frozen=True, slots=True)
class CheckMeta:
    started_at: datetime
    duration_ms: int
    http_status: int | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a recording did. ``outcome`` is a check's outcome, or STALE: nothing was
    written, because another process recorded an older reading of the source since the
    caller read its state (compare with the new state and record again)."""

    check_id: int | None
    outcome: str
    snapshot_id: int | None = None
    change_id: int | None = None
    development_ids: tuple[int, ...] = ()  # developments this recording made, or made out of possible ones
    followed: tuple[str, ...] = ()  # ids of sources followed from now on
    possible_ids: tuple[int, ...] = ()  # possible developments it recorded, for a person to review
    developed: tuple[str, ...] = ()  # the commitments of development_ids, in order
    possible: tuple[str, ...] = ()  # the commitments of possible_ids, in order
    seen_again: tuple[int, ...] = ()  # developments (of any status) whose document it saw again
    queued: int = 0  # development emails it queued
    by_another: bool = False  # another process had already recorded what this check saw, or newer


STALE = "stale"

@dataclass(frozen=True, slots=True)
class PruneResult:
    checks: int
    changes: int
    snapshots: int


def compress_json(data) -> bytes:
    return zlib.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def decompress_json(blob: bytes):
    return json.loads(zlib.decompress(blob))


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets the web view read while a check writes; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


# The statements of the per-check hot path, built once so SQLAlchemy's compiled cache is
# all they cost (building them anew each check was a tenth of the check's CPU).
_SOURCE_STATE = (
    select(SourceRecord.etag, SourceRecord.last_modified, SourceRecord.current_snapshot_id,
           SnapshotRecord.content_hash, SourceRecord.consecutive_failures)
    .outerjoin(SnapshotRecord, SnapshotRecord.id == SourceRecord.current_snapshot_id)
    .where(SourceRecord.id == bindparam("source_id"))
)
# Guarded by the snapshot the check compared with: if another process has moved the
# source on meanwhile, no row comes back and the recording decides what the check means.
_SOURCE_SUCCEEDED = (
    update(SourceRecord).where(SourceRecord.id == bindparam("source_id"),
                               SourceRecord.current_snapshot_id.is_not_distinct_from(bindparam("seen_snapshot")))
    .values(last_checked_at=bindparam("at"), last_success_at=bindparam("at"), consecutive_failures=0,
            last_error=None, etag=bindparam("etag"), last_modified=bindparam("last_modified"))
    .returning(SourceRecord.current_snapshot_id)
)
# The first statement of every recording that may move a source's current snapshot. On
# PostgreSQL the UPDATE holds the source's row until commit, so a second process recording
# the same source waits and then reads what the first wrote; on SQLite it takes the
# database's write lock, with the same effect. What follows is then compared with the
# current snapshot as the last committed recording left it, never with a stale copy.
_CLAIM_SOURCE = (
    update(SourceRecord).where(SourceRecord.id == bindparam("source_id"))
    .values(consecutive_failures=SourceRecord.consecutive_failures)
    .returning(SourceRecord.current_snapshot_id, SourceRecord.last_success_at, SourceRecord.last_checked_at)
)
_SNAPSHOT_HASH = select(SnapshotRecord.content_hash).where(SnapshotRecord.id == bindparam("snapshot_id"))
_INSERT_CHECK = insert(CheckRecord).returning(CheckRecord.id)
_SNAPSHOT_SEEN = (update(SnapshotRecord).where(SnapshotRecord.id == bindparam("snapshot_id"))
                  .values(last_seen_at=bindparam("at")))
# The same three for many unchanged checks at once (executemany). Each is guarded by what
# the check saw: a pass's batch is written after the fact, and meanwhile another process
# (serve beside a check) may have recorded a newer change, failure or check of a source,
# which an older "unchanged" must not overwrite. The check itself is always recorded.
_SOURCES_SUCCEEDED = (
    update(SourceRecord)
    .where(SourceRecord.id == bindparam("of_source"),
           SourceRecord.current_snapshot_id == bindparam("seen_snapshot"),
           or_(SourceRecord.last_checked_at.is_(None), SourceRecord.last_checked_at <= bindparam("at")))
    .values(last_checked_at=bindparam("at"), last_success_at=bindparam("at"), consecutive_failures=0,
            last_error=None, etag=bindparam("etag"), last_modified=bindparam("last_modified"))
)
_SNAPSHOTS_SEEN = (
    update(SnapshotRecord)
    .where(SnapshotRecord.id == bindparam("seen_snapshot"),
           or_(SnapshotRecord.last_seen_at.is_(None), SnapshotRecord.last_seen_at < bindparam("at")))
    .values(last_seen_at=bindparam("at"))
)


@dataclass(frozen=True, slots=True)
class Unchanged:
    """A successful check whose content equals the snapshot it was compared with."""

    source_id: str
    meta: CheckMeta
    snapshot_id: int
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None


class Store:
    """sendwatch's record, on SQLite or PostgreSQL."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.service_lock = locking.ServiceLock(self.engine)
        self._discovered: tuple | None = None  # discovered_texts' last answer, and what it was of
        if migrate:
            self.migrate()

    def migrate(self) -> None:
        from storage.migrate import upgrade

        upgrade(self.engine)

    def close(self) -> None:
        self.service_lock.release()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- sources -------------------------------------------------------------------------

    def sync_sources(self, sources: Iterable, reads: Mapping[str, int] | None = None) -> None:
        """Make the configured sources known; those no longer configured become inactive.
        ``reads`` is each kind's reading now (``monitor.sources.READS``): a source whose
        kind reads differently from when it was last synced starts a new baseline, as an
        edit of its options does."""
        sources = list(sources)
        reads = reads or {}
        with self._session.begin() as session:
            locking.exclusive(session.connection(), locking.SOURCES)  # two processes would add each source
            known = {r.id: r for r in session.scalars(select(SourceRecord))}
            for settings in sources:
                data = settings.model_dump(mode="json")
                if reads.get(settings.kind, 1) > 1:  # absent for 1, so a first reading costs no baseline
                    data["reads"] = reads[settings.kind]
                record = known.get(settings.id)
                if record is None:
                    session.add(SourceRecord(id=settings.id, kind=settings.kind, url=settings.url,
                                             settings=data, origin="config", active=True,
                                             consecutive_failures=0, created_at=utcnow()))
                    continue
                if _reading(record.settings) != _reading(data):
                    # A new URL, kind or option reads the source differently: comparing
                    # the next reading with the old one would report the edit as news.
                    # The history stays; the next check starts a new baseline.
                    record.etag = record.last_modified = None
                    record.current_snapshot_id = None
                record.kind, record.url, record.settings = settings.kind, settings.url, data
                record.active = True
            configured = {s.id for s in sources}
            for record in known.values():
                if record.origin == "config" and record.id not in configured:
                    record.active = False

    def sources(self, *, include_inactive: bool = False) -> list[SourceRecord]:
        with self._session() as session:
            query = select(SourceRecord).order_by(SourceRecord.id)
            if not include_inactive:
                query = query.where(SourceRecord.active.is_(True))
            return list(session.scalars(query))

    def source(self, source_id: str) -> SourceRecord | None:
        with self._session() as session:
            return session.get(SourceRecord, source_id)

    def source_state(self, source_id: str) -> SourceState:
        with self.engine.connect() as conn:
            return SourceState(*conn.execute(_SOURCE_STATE, {"source_id": source_id}).one())

    # -- recording checks ----------------------------------------------------------------

    def record_unchanged(self, source_id: str, meta: CheckMeta, *, not_modified: bool = False,
                         etag: str | None = None, last_modified: str | None = None,
                         notifications: Iterable[NotificationDraft] = (),
                         seen_snapshot_id: int | None | object = ANY_SNAPSHOT) -> Recorded:
        """A successful check whose content equals the current snapshot.

        Most checks end here, so this is three plain statements in one transaction rather
        than ORM objects: it is the write path of almost every check. ``seen_snapshot_id``
        is the snapshot the check compared with; if another process has recorded a
        different one since, see ``_moved_on``.
        """
        outcome = "not-modified" if not_modified else "unchanged"
        at = meta.started_at
        with self.engine.begin() as conn:
            if seen_snapshot_id is ANY_SNAPSHOT:
                seen_snapshot_id = conn.execute(_SOURCE_STATE, {"source_id": source_id}).one()[2]
            snapshot_id = conn.execute(_SOURCE_SUCCEEDED, {
                "source_id": source_id, "seen_snapshot": seen_snapshot_id, "at": at, "etag": etag,
                "last_modified": last_modified}).scalar_one_or_none()
            if snapshot_id is None:
                moved = self._moved_on(conn, source_id, meta, outcome, seen_snapshot_id, has_document=not not_modified)
                if moved.outcome != STALE:
                    _succeeded_if_newest(conn, source_id, meta)
                return moved  # STALE has written nothing but the no-op claim
            check_id = conn.execute(_INSERT_CHECK, {
                "source_id": source_id, "outcome": outcome, "snapshot_id": snapshot_id, **_meta(meta)}).scalar_one()
            conn.execute(_SNAPSHOT_SEEN, {"snapshot_id": snapshot_id, "at": at})
            rows = [_notification_row(draft, at) for draft in notifications]
            if rows:
                conn.execute(insert(NotificationRecord), rows)
            return Recorded(check_id, outcome, snapshot_id)

    @staticmethod
    def _moved_on(conn, source_id: str, meta: CheckMeta, outcome: str, seen_snapshot_id: int | None, *,
                  has_document: bool, content_hash: str | None = None) -> Recorded:
        """Another process recorded a new version of the source after this check read its
        state. Whichever reading is newer wins, so a page's versions are recorded in the
        order they were seen and each change once:

        - the other reading is newer (it started later), or this one has no document to
          compare (a 304): this check is recorded as having seen nothing new;
        - this reading is the same content as the new current one: likewise;
        - this reading is newer and different: STALE, nothing is written, and the caller
          compares it with the new current version and records again.
        """
        current, last_success, _ = conn.execute(_CLAIM_SOURCE, {"source_id": source_id}).one()
        same = content_hash is not None and current is not None and \
            conn.execute(_SNAPSHOT_HASH, {"snapshot_id": current}).scalar_one() == content_hash
        newer_recorded = last_success is not None and last_success > meta.started_at
        if not (same or newer_recorded or not has_document):
            return Recorded(None, STALE)
        check_id = conn.execute(_INSERT_CHECK, {
            "source_id": source_id, "outcome": outcome, "snapshot_id": current, **_meta(meta)}).scalar_one()
        return Recorded(check_id, outcome, current, by_another=True)

    def record_unchanged_many(self, checks: Iterable[Unchanged]) -> None:
        """Many unchanged checks in one transaction, as ``record_unchanged`` records one.

        A pass over many sources writes its unchanged checks so: three statements for the
        lot instead of three and a commit each (0.19 ms a check alone, 0.033 ms in a batch,
        on SQLite; on PostgreSQL each of those was a round trip). Every check is recorded;
        a source's state and a snapshot's "last seen" move only forward and only for the
        snapshot the check compared with (see the statements above).
        """
        checks = list(checks)
        if not checks:
            return
        sources = [{"of_source": c.source_id, "seen_snapshot": c.snapshot_id, "at": c.meta.started_at,
                    "etag": c.etag, "last_modified": c.last_modified} for c in checks]
        rows = [{"source_id": c.source_id, "snapshot_id": c.snapshot_id,
                 "outcome": "not-modified" if c.not_modified else "unchanged", **_meta(c.meta)} for c in checks]
        with self.engine.begin() as conn:
            conn.execute(_SOURCES_SUCCEEDED, sources)
            conn.execute(insert(CheckRecord), rows)
            conn.execute(_SNAPSHOTS_SEEN, [{"seen_snapshot": c.snapshot_id, "at": c.meta.started_at} for c in checks])

    def record_document(self, source_id: str, document: Document, change: Change | None,
                        meta: CheckMeta, *, summary: str | None = None, etag: str | None = None,
                        last_modified: str | None = None,
                        developments: Iterable[DevelopmentDraft] = (),
                        notifications: Iterable[NotificationDraft] = (),
                        expected_snapshot_id: int | None | object = ANY_SNAPSHOT) -> Recorded:
        """A successful check that produced a new version (or the first one) of the document.

        ``change`` is the difference from the current snapshot, None for the first one;
        ``summary`` its one-line account (default: the generic summary of the change).
        ``developments`` are written in the same transaction as the change they come from,
        so a crash can never leave a change without its developments or the reverse.
        ``expected_snapshot_id`` is the snapshot the change was computed against. When
        another process (a ``sendwatch check`` beside ``serve``, or a second ``check``) has
        recorded a different one meanwhile, nothing of this reading becomes current without
        its change: see ``_moved_on`` (the result is either "recorded by another process"
        or STALE, which the caller answers by diffing against the new current version).
        """
        content_hash = document.content_hash()
        with self._session.begin() as session:
            conn = session.connection()
            previous_id = conn.execute(_CLAIM_SOURCE, {"source_id": source_id}).one()[0]
            if expected_snapshot_id is not ANY_SNAPSHOT and previous_id != expected_snapshot_id:
                moved = self._moved_on(conn, source_id, meta, "unchanged", expected_snapshot_id,
                                       has_document=True, content_hash=content_hash)
                if moved.outcome != STALE:
                    _succeeded_if_newest(conn, source_id, meta)
                return moved  # STALE has written nothing but the no-op claim
            _enqueue(session, notifications, meta.started_at)
            source = session.get(SourceRecord, source_id)
            snapshot = session.scalars(select(SnapshotRecord).where(
                SnapshotRecord.source_id == source_id, SnapshotRecord.content_hash == content_hash)
            ).first()
            if snapshot is None:
                raw = document.to_json().encode("utf-8")
                snapshot = SnapshotRecord(source_id=source_id, content_hash=content_hash,
                                          content=zlib.compress(raw, 6), size=len(raw),
                                          first_seen_at=meta.started_at, last_seen_at=meta.started_at)
                session.add(snapshot)
            else:
                snapshot.last_seen_at = meta.started_at  # content went back to an earlier version
            session.flush()
            if previous_id == snapshot.id:
                outcome = "unchanged"  # another process recorded this very content first
            else:
                outcome = "first" if previous_id is None else "changed"
            check = CheckRecord(source_id=source_id, outcome=outcome, snapshot_id=snapshot.id, **_meta(meta))
            session.add(check)
            session.flush()
            change_id = None
            development_ids: list[int] = []
            possible_ids: list[int] = []
            developed: list[str] = []
            possible: list[str] = []
            seen_again: list[int] = []
            queued = 0
            followed: list[str] = []
            if previous_id is not None and change is not None and outcome == "changed":
                record = ChangeRecord(source_id=source_id, check_id=check.id, from_snapshot_id=previous_id,
                                      to_snapshot_id=snapshot.id, detected_at=meta.started_at,
                                      summary=summary or change.summary, detail=compress_json(change.to_dict()))
                session.add(record)
                session.flush()
                change_id = record.id
                source.last_changed_at = meta.started_at
                # In one order in every process: two recording the same documents for two
                # sources at once would otherwise wait on each other's rows (a deadlock).
                for draft in sorted(developments, key=lambda d: (d.commitment_id, d.document_key or "")):
                    development, fresh = _development(session, draft, change_id, source_id, meta.started_at)
                    if not fresh:
                        seen_again.append(development.id)
                        session.add(SightingRecord(
                            development_id=development.id, change_id=change_id, source_id=source_id,
                            title=draft.title, url=draft.url, score=draft.score, evidence=draft.evidence,
                            seen_at=meta.started_at))
                        if not (development.status == POSSIBLE and draft.status == DEVELOPMENT):
                            continue
                        # Seen again with evidence enough: no longer a question for a person.
                        development.status = DEVELOPMENT
                        development.reviewed_at = meta.started_at  # when subscribers are told
                    elif development.status == POSSIBLE:
                        possible_ids.append(development.id)
                        possible.append(development.commitment_id)
                        continue
                    development_ids.append(development.id)
                    developed.append(development.commitment_id)
                    queued += len(_enqueue(session, draft.notify, meta.started_at, development_id=development.id))
                    if draft.follow and _follow(session, draft.follow, development.id, meta.started_at):
                        followed.append(draft.follow["id"])
            source.current_snapshot_id = snapshot.id
            _succeeded(source, meta, etag, last_modified)
            return Recorded(check.id, outcome, snapshot.id, change_id, tuple(development_ids), tuple(followed),
                            tuple(possible_ids), tuple(developed), tuple(possible), tuple(seen_again), queued)

    def record_failure(self, source_id: str, error: str, meta: CheckMeta,
                       notifications: Iterable[NotificationDraft] = ()) -> Recorded:
        """A failed check: counted and explained; the current snapshot is left alone."""
        with self._session.begin() as session:
            _enqueue(session, notifications, meta.started_at)
            source = session.get(SourceRecord, source_id)
            check = CheckRecord(source_id=source_id, outcome="failed", error=error, **_meta(meta))
            session.add(check)
            source.last_checked_at = meta.started_at
            # In SQL, not read-then-written: two processes failing at once count twice.
            source.consecutive_failures = SourceRecord.consecutive_failures + 1
            source.last_error = error
            session.flush()
            return Recorded(check.id, "failed", source.current_snapshot_id)

    # -- reading the record --------------------------------------------------------------

    def document(self, snapshot_id: int) -> Document:
        with self._session() as session:
            blob = session.scalar(select(SnapshotRecord.content).where(SnapshotRecord.id == snapshot_id))
        if blob is None:
            raise KeyError(snapshot_id)
        return Document.from_json(zlib.decompress(blob))

    def discovered_texts(self, kinds: Iterable[str]) -> tuple[str, ...]:
        """The title and note of every document the current snapshots of sources of these
        kinds (the discovery kinds) hold, each document once: what matching measures how
        common a phrase is against."""
        kinds = sorted(kinds)
        current = (select(SourceRecord.current_snapshot_id)
                   .where(SourceRecord.kind.in_(kinds), SourceRecord.active.is_(True),
                          SourceRecord.current_snapshot_id.is_not(None)))
        with self._session() as session:
            # Every change of a pass asks; the answer moves only when a discovery source
            # records a new version, so it is kept until then (one small query instead of
            # decompressing every discovery source's snapshot for every change).
            version = (tuple(kinds), tuple(sorted(session.scalars(current))))
            cached = self._discovered
            if cached is not None and cached[0] == version:
                return cached[1]
            blobs = list(session.scalars(select(SnapshotRecord.content)
                                         .where(SnapshotRecord.id.in_(version[1]))))
        seen: dict[str, str] = {}
        for blob in blobs:
            for item in Document.from_json(zlib.decompress(blob)).items:
                # Two sources finding one document count it once (it is known by its address),
                # with the fuller of their texts, whichever source is read first.
                text = " / ".join(t for t in (item.title, item.note) if t)
                key = item.url or item.key
                if len(text) > len(seen.get(key, "")):
                    seen[key] = text
        self._discovered = (version, tuple(seen.values()))
        return self._discovered[1]

    def snapshots(self, source_id: str) -> list[SnapshotRecord]:
        with self._session() as session:
            return list(session.scalars(select(SnapshotRecord).where(SnapshotRecord.source_id == source_id)
                                        .order_by(SnapshotRecord.first_seen_at, SnapshotRecord.id)))

    def snapshot(self, snapshot_id: int) -> SnapshotRecord | None:
        with self._session() as session:
            return session.get(SnapshotRecord, snapshot_id)

    def checks(self, source_id: str, limit: int = 50) -> list[CheckRecord]:
        with self._session() as session:
            return list(session.scalars(select(CheckRecord).where(CheckRecord.source_id == source_id)
                                        .order_by(CheckRecord.started_at.desc(), CheckRecord.id.desc())
                                        .limit(limit)))

    def changes(self, *, since: datetime | None = None, source_id: str | None = None,
                limit: int | None = None) -> list[ChangeRecord]:
        """Newest first."""
        with self._session() as session:
            query = select(ChangeRecord).order_by(ChangeRecord.detected_at.desc(), ChangeRecord.id.desc())
            if since is not None:
                query = query.where(ChangeRecord.detected_at >= since)
            if source_id is not None:
                query = query.where(ChangeRecord.source_id == source_id)
            if limit is not None:
                query = query.limit(limit)
            return list(session.scalars(query))

    def change(self, change_id: int) -> ChangeRecord | None:
        with self._session() as session:
            return session.get(ChangeRecord, change_id)

    @staticmethod
    def change_detail(record: ChangeRecord) -> Change:
        return Change.from_dict(decompress_json(record.detail))

    def stored_bytes(self) -> int:
        """Compressed bytes of snapshots and change details: what history costs on disk."""
        with self._session() as session:
            snapshots = session.scalar(select(func.coalesce(func.sum(func.length(SnapshotRecord.content)), 0)))
            changes = session.scalar(select(func.coalesce(func.sum(func.length(ChangeRecord.detail)), 0)))
            return int(snapshots) + int(changes)

    # -- the commitments ledger ----------------------------------------------------------

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
            development = session.get(DevelopmentRecord, development_id)
            if verdict == CONFIRMED:
                _enqueue(session, notifications, at, development_id=development_id)
                if development.follow:  # as it would have been, had it scored a development
                    _follow(session, development.follow, development_id, at)
                return True
            # A document that is not a development is not followed either, unless it is
            # still one for another commitment: then that one follows it from now on.
            other = None
            if development.document_key is not None:
                other = session.scalars(select(DevelopmentRecord).where(
                    DevelopmentRecord.document_key == development.document_key,
                    DevelopmentRecord.id != development_id,
                    DevelopmentRecord.status.in_(DEVELOPED)).order_by(DevelopmentRecord.id).limit(1)).first()
            for followed in session.scalars(select(SourceRecord).where(SourceRecord.origin == "followed",
                                                                       SourceRecord.followed_from == development_id)):
                if other is None:
                    followed.active = False
                else:
                    followed.followed_from = other.id
                    followed.settings = {**followed.settings, "commitments": [other.commitment_id]}
            return True

    def rejections(self) -> list[Rejection]:
        """Every document a person rejected, and for which commitment, oldest first."""
        with self._session() as session:
            rows = session.execute(select(DevelopmentRecord.commitment_id, DevelopmentRecord.document_key,
                                          func.coalesce(DevelopmentRecord.document_title, DevelopmentRecord.title),
                                          DevelopmentRecord.reviewed_at,
                                          DevelopmentRecord.detected_at)
                                   .where(DevelopmentRecord.status == REJECTED)
                                   .order_by(DevelopmentRecord.reviewed_at, DevelopmentRecord.id))
            return [Rejection(c, key, title, reviewed or detected) for c, key, title, reviewed, detected in rows]

    def mark(self, commitment_id: str, state: str, note: str, at: datetime) -> None:
        with self._session.begin() as session:
            session.add(CommitmentMarkRecord(commitment_id=commitment_id, state=state, note=note, marked_at=at))

    def latest_marks(self) -> dict[str, CommitmentMarkRecord]:
        with self._session() as session:
            marks = session.scalars(select(CommitmentMarkRecord)
                                    .order_by(CommitmentMarkRecord.marked_at, CommitmentMarkRecord.id))
            return {m.commitment_id: m for m in marks}  # later marks overwrite earlier ones

    def ledger_events(self, commitment_id: str | None = None) -> list[LedgerEventRecord]:
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
            if session.bind.dialect.name == "postgresql":
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
                _enqueue(session, notifications, at, ledger_event_id=event_id)
            return event_id

    def followed_sources(self) -> list[SourceRecord]:
        with self._session() as session:
            return list(session.scalars(select(SourceRecord).where(SourceRecord.origin == "followed",
                                                                   SourceRecord.active.is_(True))
                                        .order_by(SourceRecord.id)))

    # -- the outbox ----------------------------------------------------------------------

    def enqueue(self, notifications: Iterable[NotificationDraft], at: datetime) -> list[int]:
        with self._session.begin() as session:
            return _enqueue(session, notifications, at)

    def recover_interrupted(self, before: datetime) -> int:
        """Put back notifications claimed before ``before`` by a sender that never finished
        them. Those the server had already accepted go out twice: the one window an outbox
        cannot close."""
        with self._session.begin() as session:
            return session.execute(update(NotificationRecord).where(
                NotificationRecord.status == "sending", NotificationRecord.next_attempt_at < before)
                .values(status="pending")).rowcount

    def claim_due(self, now: datetime, limit: int = 1, due_by: datetime | None = None) -> list[NotificationRecord]:
        """Notifications due by ``due_by`` (default: ``now``), marked as being sent at
        ``now``. The claim is a conditional update, so two senders (``serve`` and a
        ``sendwatch check`` beside it) never both take one notification."""
        with self._session.begin() as session:
            query = (select(NotificationRecord.id)
                     .where(NotificationRecord.status == "pending",
                            NotificationRecord.next_attempt_at <= (now if due_by is None else due_by))
                     .order_by(NotificationRecord.next_attempt_at, NotificationRecord.id).limit(limit))
            if session.bind.dialect.name == "postgresql":
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
            record = session.get(NotificationRecord, notification_id)
            record.status, record.sent_at, record.last_error = "sent", at, None

    def mark_retry(self, notification_id: int, error: str, next_attempt_at: datetime) -> None:
        with self._session.begin() as session:
            record = session.get(NotificationRecord, notification_id)
            record.status, record.last_error, record.next_attempt_at = "pending", error, next_attempt_at

    def mark_failed(self, notification_id: int, error: str) -> None:
        with self._session.begin() as session:
            record = session.get(NotificationRecord, notification_id)
            record.status, record.last_error = "failed", error

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
            return session.execute(update(NotificationRecord).where(
                NotificationRecord.recipient == recipient, NotificationRecord.status == "held")
                .values(**values)).rowcount

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
            if session.bind.dialect.name == "postgresql":
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

    # -- retention -----------------------------------------------------------------------

    def prune(self, before: datetime) -> PruneResult:
        """Forget checks and changes older than ``before``, and snapshots nothing refers to.

        A source's current snapshot is always kept, so the next check still compares
        against it, and so is every change that is a development (with its snapshots):
        the ledger's evidence is the record, not history to trim.
        """
        with self._session.begin() as session:
            checks = session.execute(delete(CheckRecord).where(CheckRecord.started_at < before)).rowcount
            # Changes that are developments are the ledger's evidence: they are kept.
            changes = session.execute(delete(ChangeRecord).where(
                ChangeRecord.detected_at < before,
                ChangeRecord.id.not_in(select(DevelopmentRecord.change_id)),
                ChangeRecord.id.not_in(select(SightingRecord.change_id)))).rowcount
            referenced = (
                select(SourceRecord.current_snapshot_id).where(SourceRecord.current_snapshot_id.is_not(None))
                .union(select(ChangeRecord.from_snapshot_id), select(ChangeRecord.to_snapshot_id),
                       select(CheckRecord.snapshot_id).where(CheckRecord.snapshot_id.is_not(None)))
            )
            snapshots = session.execute(
                delete(SnapshotRecord).where(
                    SnapshotRecord.last_seen_at < before,
                    SnapshotRecord.id.not_in(referenced),
                )
            ).rowcount
            return PruneResult(checks, changes, snapshots)


def _notification_row(draft: NotificationDraft, at: datetime, **links) -> dict:
    return {"recipient": draft.recipient, "kind": draft.kind, "commitment_id": draft.commitment_id,
            "source_id": draft.source_id, "payload": draft.payload or {},
            "status": "held" if draft.held else "pending", "attempts": 0, "next_attempt_at": at,
            "created_at": at, **links}


def _reading(settings: dict | None) -> dict:
    """The settings that decide what a source's document is (not when or for whom)."""
    return {k: v for k, v in (settings or {}).items() if k not in ("interval", "commitments", "enabled", "expected")}


def _enqueue(session: Session, drafts: Iterable[NotificationDraft], at: datetime, **links) -> list[int]:
    ids = []
    for draft in drafts:
        record = NotificationRecord(**_notification_row(draft, at, **links))
        session.add(record)
        session.flush()
        ids.append(record.id)
    return ids


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
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    new_id = session.scalar(dialect.insert(DevelopmentRecord).values(**values)
                            .on_conflict_do_nothing(index_elements=["commitment_id", "document_key"])
                            .returning(DevelopmentRecord.id))
    query = select(DevelopmentRecord).where(DevelopmentRecord.commitment_id == draft.commitment_id,
                                            DevelopmentRecord.document_key == draft.document_key)
    if new_id is None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()  # a person reviewing it, or another sighting, waits
    return session.scalars(query.execution_options(populate_existing=True)).one(), new_id is not None


def _follow(session: Session, settings: dict, development_id: int, at: datetime) -> bool:
    """Start following a discovered document, unless something already watches its URL.
    One followed before and set aside (its development rejected) is followed again."""
    existing = session.get(SourceRecord, settings["id"]) or session.scalars(
        select(SourceRecord).where(SourceRecord.url == settings["url"]).limit(1)).first()
    if existing is not None:
        if existing.origin != "followed" or existing.active:
            return False
        existing.active, existing.followed_from, existing.settings = True, development_id, settings
        return True
    session.add(SourceRecord(id=settings["id"], kind=settings["kind"], url=settings["url"], settings=settings,
                             origin="followed", followed_from=development_id, active=True,
                             consecutive_failures=0, created_at=at))
    return True


def _meta(meta: CheckMeta) -> dict:
    return {"started_at": meta.started_at, "duration_ms": meta.duration_ms,
            "http_status": meta.http_status, "size": meta.size}


def _succeeded_if_newest(conn, source_id: str, meta: CheckMeta) -> None:
    """A successful check that another process had overtaken still clears the failure
    count, unless a later check has been recorded since. Its validators are not kept:
    they describe its reading, not the current version."""
    conn.execute(update(SourceRecord).where(
        SourceRecord.id == source_id,
        or_(SourceRecord.last_checked_at.is_(None), SourceRecord.last_checked_at <= meta.started_at),
    ).values(last_checked_at=meta.started_at, last_success_at=meta.started_at, consecutive_failures=0,
             last_error=None))


def _succeeded(source: SourceRecord, meta: CheckMeta, etag: str | None, last_modified: str | None) -> None:
    source.last_checked_at = source.last_success_at = meta.started_at
    source.consecutive_failures = 0
    source.last_error = None
    source.etag, source.last_modified = etag, last_modified


__all__ = ["STALE", "CheckMeta", "PruneResult", "Recorded", "SourceState", "Store"]
