"""The sources: which are watched, and what a check needs to know about each.

A source is configured (``sync`` makes the record match the config) or followed (a
document a development pointed at, which the ledger starts and stops following). This
module owns the rows of ``sources``: their set, their conditional-request state, and
the claim on a source's row that every recording of a new version takes first, so two
processes reading one source record its versions one after the other.

The session-level functions (``claim``, ``follow``, ``hand_over``) are for the other
parts, which call them inside their own transaction: a development and the source it
makes followed are written together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from storage import locking
from storage.database import Database
from storage.models import DevelopmentRecord, SnapshotRecord, SourceRecord, utcnow


@dataclass(frozen=True, slots=True)
class SourceState:
    """What a check needs to know about a source before fetching it."""

    etag: str | None
    last_modified: str | None
    snapshot_id: int | None
    content_hash: str | None
    consecutive_failures: int = 0


# Built once, so SQLAlchemy's compiled cache is all they cost: both run for every check.
STATE = (
    select(SourceRecord.etag, SourceRecord.last_modified, SourceRecord.current_snapshot_id,
           SnapshotRecord.content_hash, SourceRecord.consecutive_failures)
    .outerjoin(SnapshotRecord, SnapshotRecord.id == SourceRecord.current_snapshot_id)
    .where(SourceRecord.id == bindparam("source_id"))
)
# The first statement of every recording that may move a source's current snapshot. On
# PostgreSQL the UPDATE holds the source's row until commit, so a second process recording
# the same source waits and then reads what the first wrote; on SQLite it takes the
# database's write lock, with the same effect. What follows is then compared with the
# current snapshot as the last committed recording left it, never with a stale copy.
_CLAIM = (
    update(SourceRecord).where(SourceRecord.id == bindparam("source_id"))
    .values(consecutive_failures=SourceRecord.consecutive_failures)
    .returning(SourceRecord.current_snapshot_id, SourceRecord.last_success_at, SourceRecord.last_checked_at)
)


class Sources:
    """The watched sources, configured and followed."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._session = database.session

    def sync(self, sources: Iterable, reads: Mapping[str, int] | None = None) -> None:
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

    def all(self, *, include_inactive: bool = False) -> list[SourceRecord]:
        with self._session() as session:
            query = select(SourceRecord).order_by(SourceRecord.id)
            if not include_inactive:
                query = query.where(SourceRecord.active.is_(True))
            return list(session.scalars(query))

    def get(self, source_id: str) -> SourceRecord | None:
        with self._session() as session:
            return session.get(SourceRecord, source_id)

    def state(self, source_id: str) -> SourceState:
        with self._engine.connect() as conn:
            return SourceState(*conn.execute(STATE, {"source_id": source_id}).one())

    def followed(self) -> list[SourceRecord]:
        with self._session() as session:
            return list(session.scalars(select(SourceRecord).where(SourceRecord.origin == "followed",
                                                                   SourceRecord.active.is_(True))
                                        .order_by(SourceRecord.id)))


def claim(conn, source_id: str) -> tuple:
    """Hold the source's row until the transaction ends (see ``_CLAIM``); its current
    snapshot, last success and last check as the last committed recording left them."""
    return conn.execute(_CLAIM, {"source_id": source_id}).one()


def follow(session: Session, settings: dict, development_id: int, at) -> bool:
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


def hand_over(session: Session, development_id: int, to: DevelopmentRecord | None) -> None:
    """The documents followed from a development that is no longer one: followed from
    ``to`` from now on (the same document's development for another commitment), or,
    with None, no longer followed."""
    for followed in session.scalars(select(SourceRecord).where(SourceRecord.origin == "followed",
                                                               SourceRecord.followed_from == development_id)):
        if to is None:
            followed.active = False
        else:
            followed.followed_from = to.id
            followed.settings = {**followed.settings, "commitments": [to.commitment_id]}


def _reading(settings: dict | None) -> dict:
    """The settings that decide what a source's document is (not when or for whom)."""
    return {k: v for k, v in (settings or {}).items() if k not in ("interval", "commitments", "enabled", "expected")}
