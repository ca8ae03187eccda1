"""The history of each source: its checks, the versions it has had, and its changes.

Every check is recorded here: unchanged (most of them, so that path is a few plain
statements, and a batch of them one transaction), failed, or a new version with the
change from the last one. Recording a new version is a compare-and-set on the source's
current snapshot (claimed first, see ``storage.sources.claim``), so two processes
reading one source record each change once and in order. A change's developments, their
notifications and the documents they follow are written in the same transaction
(``storage.ledger.record_developments``): a crash never leaves one without the other.

The history is also what is read back: snapshots as documents, changes with their
diffs, and ``prune``, which forgets what is old but never the ledger's evidence.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final, Literal

from sqlalchemy import bindparam, delete, func, insert, or_, select, update

from monitor.core.diff import Change
from monitor.core.document import Document
from monitor.core.drafts import DevelopmentDraft, NotificationDraft, RestatementDraft
from storage import ledger, outbox, sources
from storage.database import Database, rowcount
from storage.models import (
    ChangeRecord,
    CheckRecord,
    DevelopmentRecord,
    NotificationRecord,
    RestatementRecord,
    SightingRecord,
    SnapshotRecord,
    SourceRecord,
)


class _Any(Enum):
    SNAPSHOT = "any snapshot"


# record_document: record the change whatever the current snapshot is. (An enum member, not
# a bare object(), so that ``is ANY_SNAPSHOT`` tells the type checker which it is.)
ANY_SNAPSHOT: Final = _Any.SNAPSHOT


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


# The statements of the per-check hot path, built once so SQLAlchemy's compiled cache is
# all they cost (building them anew each check was a tenth of the check's CPU). The
# source's state and its claim are built in storage.sources.

# Guarded by the snapshot the check compared with: if another process has moved the
# source on meanwhile, no row comes back and the recording decides what the check means.
_SOURCE_SUCCEEDED = (
    update(SourceRecord).where(SourceRecord.id == bindparam("source_id"),
                               SourceRecord.current_snapshot_id.is_not_distinct_from(bindparam("seen_snapshot")))
    .values(last_checked_at=bindparam("at"), last_success_at=bindparam("at"), consecutive_failures=0,
            last_error=None, etag=bindparam("etag"), last_modified=bindparam("last_modified"))
    .returning(SourceRecord.current_snapshot_id)
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


# The statements of recording a new version (record_document), likewise built once.
_SNAPSHOT_OF = (select(SnapshotRecord.id).where(SnapshotRecord.source_id == bindparam("source_id"),
                                                SnapshotRecord.content_hash == bindparam("content_hash")).limit(1))
_INSERT_SNAPSHOT = insert(SnapshotRecord).returning(SnapshotRecord.id)
# Read for every change of a pass (the previous version, and what matching measures
# phrases against), on a plain connection: an ORM session for one column cost five times
# the query (0.28 against 0.12 ms for a previous version, 0.52 against 0.26 ms for the
# discovery snapshots' ids, on SQLite with 1,000 sources).
_SNAPSHOT_CONTENT = select(SnapshotRecord.content).where(SnapshotRecord.id == bindparam("snapshot_id"))
_SNAPSHOT_CONTENTS = select(SnapshotRecord.content).where(SnapshotRecord.id.in_(bindparam("snapshot_ids",
                                                                                          expanding=True)))
_DISCOVERY_SNAPSHOTS = (select(SourceRecord.current_snapshot_id)
                        .where(SourceRecord.kind.in_(bindparam("kinds", expanding=True)),
                               SourceRecord.active.is_(True), SourceRecord.current_snapshot_id.is_not(None)))
_INSERT_CHANGE = insert(ChangeRecord).returning(ChangeRecord.id)
_SOURCE_VALUES = dict(current_snapshot_id=bindparam("snapshot_id"), last_checked_at=bindparam("at"),
                      last_success_at=bindparam("at"), consecutive_failures=0, last_error=None,
                      etag=bindparam("etag"), last_modified=bindparam("last_modified"))
_SOURCE_RECORDED = update(SourceRecord).where(SourceRecord.id == bindparam("source_id")).values(**_SOURCE_VALUES)
_SOURCE_CHANGED = (update(SourceRecord).where(SourceRecord.id == bindparam("source_id"))
                   .values(last_changed_at=bindparam("at"), **_SOURCE_VALUES))


@dataclass(frozen=True, slots=True)
class Unchanged:
    """A successful check whose content equals the snapshot it was compared with."""

    source_id: str
    meta: CheckMeta
    snapshot_id: int
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None


class History:
    """Checks, snapshots and changes of the sources."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._session = database.session
        self._discovered: tuple | None = None  # discovered_texts' last answer, and what it was of

    def record_unchanged(self, source_id: str, meta: CheckMeta, *, not_modified: bool = False,
                         etag: str | None = None, last_modified: str | None = None,
                         notifications: Iterable[NotificationDraft] = (),
                         seen_snapshot_id: int | None | Literal[_Any.SNAPSHOT] = ANY_SNAPSHOT) -> Recorded:
        """A successful check whose content equals the current snapshot.

        Most checks end here, so this is three plain statements in one transaction rather
        than ORM objects: it is the write path of almost every check. ``seen_snapshot_id``
        is the snapshot the check compared with; if another process has recorded a
        different one since, see ``_moved_on``.
        """
        outcome = "not-modified" if not_modified else "unchanged"
        at = meta.started_at
        with self._engine.begin() as conn:
            if seen_snapshot_id is ANY_SNAPSHOT:
                seen_snapshot_id = conn.execute(sources.STATE, {"source_id": source_id}).one()[2]
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
            rows = [outbox.row(draft, at) for draft in notifications]
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
        current, last_success, _ = sources.claim(conn, source_id)
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
        with self._engine.begin() as conn:
            conn.execute(_SOURCES_SUCCEEDED, sources)
            conn.execute(insert(CheckRecord), rows)
            conn.execute(_SNAPSHOTS_SEEN, [{"seen_snapshot": c.snapshot_id, "at": c.meta.started_at} for c in checks])

    def record_document(self, source_id: str, document: Document, change: Change | None,
                        meta: CheckMeta, *, summary: str | None = None, etag: str | None = None,
                        last_modified: str | None = None,
                        developments: Iterable[DevelopmentDraft] = (),
                        notifications: Iterable[NotificationDraft] = (),
                        restatements: Iterable[RestatementDraft] = (),
                        expected_snapshot_id: int | None | Literal[_Any.SNAPSHOT] = ANY_SNAPSHOT) -> Recorded:
        """A successful check that produced a new version (or the first one) of the document.

        ``change`` is the difference from the current snapshot, None for the first one;
        ``summary`` its one-line account (default: the generic summary of the change).
        ``developments`` are written in the same transaction as the change they come from,
        so a crash can never leave a change without its developments or the reverse;
        ``restatements`` (a statistics release that moved) with them.
        ``expected_snapshot_id`` is the snapshot the change was computed against. When
        another process (a ``sendwatch check`` beside ``serve``, or a second ``check``) has
        recorded a different one meanwhile, nothing of this reading becomes current without
        its change: see ``_moved_on`` (the result is either "recorded by another process"
        or STALE, which the caller answers by diffing against the new current version).
        """
        content_hash = document.content_hash()
        at = meta.started_at
        with self._session.begin() as session:
            # Plain statements on the session's connection (the session itself is only for
            # the developments and emails a change may bring): the ORM's unit of work
            # cost 1.3 ms a recording, most of a first pass's storage time.
            conn = session.connection()
            previous_id = sources.claim(conn, source_id)[0]
            if expected_snapshot_id is not ANY_SNAPSHOT and previous_id != expected_snapshot_id:
                moved = self._moved_on(conn, source_id, meta, "unchanged", expected_snapshot_id,
                                       has_document=True, content_hash=content_hash)
                if moved.outcome != STALE:
                    _succeeded_if_newest(conn, source_id, meta)
                return moved  # STALE has written nothing but the no-op claim
            outbox.enqueue(session, notifications, at)
            snapshot_id = conn.execute(_SNAPSHOT_OF, {"source_id": source_id, "content_hash": content_hash}).scalar()
            if snapshot_id is None:
                raw = document.to_json().encode("utf-8")
                snapshot_id = conn.execute(_INSERT_SNAPSHOT, {
                    "source_id": source_id, "content_hash": content_hash, "content": zlib.compress(raw, 6),
                    "size": len(raw), "first_seen_at": at, "last_seen_at": at}).scalar_one()
            else:  # content went back to an earlier version
                conn.execute(_SNAPSHOT_SEEN, {"snapshot_id": snapshot_id, "at": at})
            if previous_id == snapshot_id:
                outcome = "unchanged"  # another process recorded this very content first
            else:
                outcome = "first" if previous_id is None else "changed"
            check_id = conn.execute(_INSERT_CHECK, {"source_id": source_id, "outcome": outcome,
                                                    "snapshot_id": snapshot_id, **_meta(meta)}).scalar_one()
            change_id = None
            developed = ledger.Developed()
            succeeded = {"source_id": source_id, "snapshot_id": snapshot_id, "at": at, "etag": etag,
                         "last_modified": last_modified}
            if previous_id is not None and change is not None and outcome == "changed":
                change_id = conn.execute(_INSERT_CHANGE, {
                    "source_id": source_id, "check_id": check_id, "from_snapshot_id": previous_id,
                    "to_snapshot_id": snapshot_id, "detected_at": at, "summary": summary or change.summary,
                    "detail": compress_json(change.to_dict())}).scalar_one()
                conn.execute(_SOURCE_CHANGED, succeeded)
                developed = ledger.record_developments(session, developments, change_id, source_id, at)
                ledger.record_restatements(session, restatements, change_id, source_id, at)
            else:
                conn.execute(_SOURCE_RECORDED, succeeded)
            return Recorded(check_id, outcome, snapshot_id, change_id, tuple(developed.development_ids),
                            tuple(developed.followed), tuple(developed.possible_ids), tuple(developed.developed),
                            tuple(developed.possible), tuple(developed.seen_again), developed.queued)

    def record_failure(self, source_id: str, error: str, meta: CheckMeta,
                       notifications: Iterable[NotificationDraft] = ()) -> Recorded:
        """A failed check: counted and explained; the current snapshot is left alone."""
        with self._session.begin() as session:
            outbox.enqueue(session, notifications, meta.started_at)
            source = session.get_one(SourceRecord, source_id)
            check = CheckRecord(source_id=source_id, outcome="failed", error=error, **_meta(meta))
            session.add(check)
            source.last_checked_at = meta.started_at
            # In SQL, not read-then-written: two processes failing at once count twice.
            source.consecutive_failures = SourceRecord.consecutive_failures + 1
            source.last_error = error
            session.flush()
            return Recorded(check.id, "failed", source.current_snapshot_id)

    # -- reading the history --------------------------------------------------------------

    def document(self, snapshot_id: int) -> Document:
        with self._engine.connect() as conn:
            blob = conn.execute(_SNAPSHOT_CONTENT, {"snapshot_id": snapshot_id}).scalar_one_or_none()
        if blob is None:
            raise KeyError(snapshot_id)
        return Document.from_json(zlib.decompress(blob))

    def discovered_texts(self, kinds: Iterable[str]) -> tuple[str, ...]:
        """The title and note of every document the current snapshots of sources of these
        kinds (the discovery kinds) hold, each document once: what matching measures how
        common a phrase is against."""
        kinds = sorted(kinds)
        with self._engine.connect() as conn:
            # Every change of a pass asks; the answer moves only when a discovery source
            # records a new version, so it is kept until then (one small query instead of
            # decompressing every discovery source's snapshot for every change).
            snapshot_ids = sorted(i for i in conn.execute(_DISCOVERY_SNAPSHOTS, {"kinds": kinds}).scalars()
                                  if i is not None)  # None: not selected
            version = (tuple(kinds), tuple(snapshot_ids))
            cached = self._discovered
            if cached is not None and cached[0] == version:
                return cached[1]
            blobs = list(conn.execute(_SNAPSHOT_CONTENTS, {"snapshot_ids": list(version[1])}).scalars())
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
            snapshots = session.scalars(select(func.coalesce(func.sum(func.length(SnapshotRecord.content)), 0))).one()
            changes = session.scalars(select(func.coalesce(func.sum(func.length(ChangeRecord.detail)), 0))).one()
            return int(snapshots) + int(changes)

    # -- retention ----------------------------------------------------------------------

    def prune(self, before: datetime) -> PruneResult:
        """Forget checks and changes older than ``before``, and snapshots nothing refers to.

        A source's current snapshot is always kept, so the next check still compares
        against it, and so is every change that is a development or a restatement (with its
        snapshots): the ledger's evidence is the record, not history to trim.
        """
        with self._session.begin() as session:
            checks = rowcount(session.execute(delete(CheckRecord).where(CheckRecord.started_at < before)))
            # Changes that are developments are the ledger's evidence: they are kept.
            changes = rowcount(session.execute(delete(ChangeRecord).where(
                ChangeRecord.detected_at < before,
                ChangeRecord.id.not_in(select(DevelopmentRecord.change_id)),
                ChangeRecord.id.not_in(select(SightingRecord.change_id)),
                ChangeRecord.id.not_in(select(RestatementRecord.change_id)))))
            referenced = (
                select(SourceRecord.current_snapshot_id).where(SourceRecord.current_snapshot_id.is_not(None))
                .union(select(ChangeRecord.from_snapshot_id), select(ChangeRecord.to_snapshot_id),
                       select(CheckRecord.snapshot_id).where(CheckRecord.snapshot_id.is_not(None)))
            )
            snapshots = rowcount(session.execute(
                delete(SnapshotRecord).where(
                    SnapshotRecord.last_seen_at < before,
                    SnapshotRecord.id.not_in(referenced),
                )
            ))
            return PruneResult(checks, changes, snapshots)


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
