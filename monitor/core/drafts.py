"""What a check asks the record to keep beside a change: the developments it found, the
emails they queue, and what a person's rejection tells later scoring. Plain data, owned by
the core; storage writes and reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

# What a development's status may be. A possible development waits for a person: it is
# never emailed as a development; confirming it does that, rejecting it keeps the document
# from being raised again for that commitment.
DEVELOPMENT, POSSIBLE, CONFIRMED, REJECTED = "development", "possible", "confirmed", "rejected"
DEVELOPED = (DEVELOPMENT, CONFIRMED)  # what counts as a development everywhere it is shown


@dataclass(frozen=True, slots=True)
class NotificationDraft:
    """An email to queue in the outbox, in the same transaction as what it reports."""

    recipient: str
    kind: str
    commitment_id: str | None = None
    source_id: str | None = None
    payload: dict | None = None
    held: bool = False  # for a digest, not to send on its own


@dataclass(frozen=True, slots=True)
class RestatementDraft:
    """A date (or vague words) given for a commitment, to record on the ledger: one
    sentence of a matched answer or statement, or a statistics release that moved."""

    commitment_id: str
    document_key: str  # what was read (a question, a statement, a release): recorded once per sentence
    said_on: date  # the day said, in London
    sentence: str
    words: str  # the words that gave the date
    rule: str  # the rule that read them (monitor.core.restatement.RULES, or a release rule)
    resolves_to: date | None  # None: a restatement without a date
    by: str | None = None  # who said it, when the source names them
    url: str | None = None  # where it was said


@dataclass(frozen=True, slots=True)
class DevelopmentDraft:
    """A development to record with the change that causes it."""

    commitment_id: str
    title: str
    score: float
    evidence: list[dict]
    item_key: str | None = None
    url: str | None = None
    follow: dict | None = None  # settings of a source to follow from now on, if any
    notify: tuple[NotificationDraft, ...] = ()  # one per subscribed recipient
    document_key: str | None = None  # what identifies the document; None: the change names none
    document_title: str | None = None  # its own title (the development's title says what happened)
    status: str = DEVELOPMENT  # or POSSIBLE
    restatements: tuple[RestatementDraft, ...] = ()  # dates its answer or statement gives for the commitment


@dataclass(frozen=True, slots=True)
class Rejection:
    """A person's rejection of a document for a commitment, as later scoring needs it."""

    commitment_id: str
    document_key: str | None
    title: str  # the document's own title, else the development's
    rejected_at: datetime
