"""SQLAlchemy 2 models: the record sendwatch keeps.

Schema changes go through Alembic (``storage/migrations``); these classes and the newest
migration must describe the same tables (``tests/test_storage.py`` checks they do).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


class SourceRecord(Base):
    """A watched source and its current state (kept here so status needs no scan of checks)."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    url: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # "config" for sources in the user's config; "followed" for documents sendwatch
    # discovered and follows by itself (their settings live here, not in the config).
    origin: Mapped[str] = mapped_column(String(20), default="config")
    followed_from: Mapped[int | None] = mapped_column(Integer)  # the development that led to it
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    current_snapshot_id: Mapped[int | None] = mapped_column(
        ForeignKey("snapshots.id", use_alter=True, ondelete="SET NULL")
    )
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class SnapshotRecord(Base):
    """One distinct version of a source's Document, stored once and compressed."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("source_id", "content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed Document JSON
    size: Mapped[int] = mapped_column(Integer)  # uncompressed bytes, for reporting
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckRecord(Base):
    """One attempt to read a source, successful or not."""

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_source_started", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    # first | unchanged | not-modified | changed | failed
    outcome: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id", ondelete="SET NULL"))


class ChangeRecord(Base):
    """The difference between two consecutive snapshots of a source."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_source_detected", "source_id", "detected_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id", ondelete="SET NULL"))
    from_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    to_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    summary: Mapped[str] = mapped_column(Text)
    detail: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed Change JSON


class DevelopmentRecord(Base):
    """A change, or one newly discovered document, judged to bear on a commitment.

    One row per commitment and document (``document_key``): the same document found again,
    by another source or another route, is a ``SightingRecord`` of this row, not a row of
    its own. A change that names no document has no key and is a row of its own.
    """

    __tablename__ = "developments"
    __table_args__ = (Index("ix_developments_commitment_detected", "commitment_id", "detected_at"),
                      # One development per commitment and document (a unique index: see 0004).
                      Index("uq_developments_commitment_id", "commitment_id", "document_key", unique=True))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commitment_id: Mapped[str] = mapped_column(String(200))
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    item_key: Mapped[str | None] = mapped_column(Text)  # the discovered document, if that is what it is
    title: Mapped[str] = mapped_column(Text)  # what happened, in one line
    url: Mapped[str | None] = mapped_column(Text)  # where to see it
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list] = mapped_column(JSON)  # the matcher's hits: phrase, where, text, weight
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What identifies the document across sources ("gov.uk:/government/publications/x",
    # "parliament-publication:123"); None when the change names no document.
    document_key: Mapped[str | None] = mapped_column(Text)
    document_title: Mapped[str | None] = mapped_column(Text)  # the document's own title, when it has one
    # development | possible (a person is to confirm or reject it) | confirmed | rejected
    status: Mapped[str] = mapped_column(String(20), default="development", server_default="development")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A possible development's source to follow once a person confirms it (a development's
    # is followed when it is recorded).
    follow: Mapped[dict | None] = mapped_column(JSON)

    @property
    def announced_at(self) -> datetime:
        """When it became a development for subscribers: recorded as one, or later
        confirmed by a person or seen again with evidence enough."""
        return self.reviewed_at or self.detected_at


class SightingRecord(Base):
    """The same document seen again for a development's commitment: further evidence, no
    new development and no new email."""

    __tablename__ = "development_sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    development_id: Mapped[int] = mapped_column(ForeignKey("developments.id", ondelete="CASCADE"), index=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list] = mapped_column(JSON)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RestatementRecord(Base):
    """A date (or vague words) given for a commitment after it was made: one sentence of a
    written answer or statement matched to it, or its statistics release moved or cancelled.

    Recorded once per commitment, document and sentence (a unique index on the SHA-256 of the
    sentence and the words that gave the date, so a sentence giving two dates is two
    restatements): reading the same answer again adds nothing; a corrected answer's new
    sentence is a restatement of its own.
    """

    __tablename__ = "restatements"
    __table_args__ = (Index("uq_restatements_commitment_id", "commitment_id", "document_key", "finding_hash",
                            unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commitment_id: Mapped[str] = mapped_column(String(200))
    document_key: Mapped[str] = mapped_column(Text)  # the question, statement or release read
    finding_hash: Mapped[str] = mapped_column(String(64))
    # The development of the answer or statement (None for a release that moved): while it is
    # only possible, or rejected, its restatements do not move the commitment's date.
    development_id: Mapped[int | None] = mapped_column(ForeignKey("developments.id", ondelete="CASCADE"),
                                                       index=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    said_on: Mapped[date] = mapped_column(Date)  # the day said, in London
    said_by: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    sentence: Mapped[str] = mapped_column(Text)
    words: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(40))
    resolves_to: Mapped[date | None] = mapped_column(Date)  # None: a restatement without a date
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CommitmentMarkRecord(Base):
    """A person's verdict on a commitment (delivered, dropped, or reopened), with a note."""

    __tablename__ = "commitment_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commitment_id: Mapped[str] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(20))  # delivered | dropped | open
    note: Mapped[str] = mapped_column(Text)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerEventRecord(Base):
    """An event of the ledger itself: a commitment became overdue, or is still overdue."""

    __tablename__ = "ledger_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commitment_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # overdue | reminder
    expected_by: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationRecord(Base):
    """One email to one recipient, in the outbox until it is sent (or fails for good).

    Written in the same transaction as what it reports. ``status``: pending (to send),
    held (waiting for the recipient's digest), digested (went out in digest ``digest_id``),
    sending (claimed by a sender), sent, failed (permanently).
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(30))  # development | overdue | reminder | source-broken | ...
    commitment_id: Mapped[str | None] = mapped_column(String(200))
    development_id: Mapped[int | None] = mapped_column(ForeignKey("developments.id", ondelete="CASCADE"))
    ledger_event_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_events.id", ondelete="CASCADE"))
    source_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # what else the message needs
    status: Mapped[str] = mapped_column(String(20))
    digest_id: Mapped[int | None] = mapped_column(Integer, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubscriberRecord(Base):
    """Someone who receives the commitments' email: from the config file (``origin``
    config, kept in step with it), added by an operator (cli), or signed up (signup).

    ``status``: active (receives), pending (signed up, not yet confirmed: nothing is sent
    but the confirmation), suspended (its address refused mail for good ``failures`` times
    in a row), left (a config subscriber who unsubscribed by link: the file cannot make it
    receive again; signing up again can)."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)  # the email, casefolded: one row per mailbox
    email: Mapped[str] = mapped_column(String(320))  # as given
    name: Mapped[str] = mapped_column(Text, default="")
    commitments: Mapped[list] = mapped_column(JSON)  # commitment ids, or ["all"]
    mode: Mapped[str] = mapped_column(String(10))  # each | daily | weekly
    at: Mapped[str] = mapped_column(String(5))
    weekday: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    origin: Mapped[str] = mapped_column(String(20))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When sendwatch last wrote to the address unasked for by a subscription (a confirmation,
    # a link asked for): at most one such email an hour, whoever asks.
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
