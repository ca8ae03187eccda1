"""The commitments ledger: each promise's state, and the events the ledger itself raises.

Pure functions over plain data; the clock is an argument. Dates are judged in
Europe/London, since the promises are the UK government's: a commitment expected by
31 December is on time until midnight in London.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from config.settings import CommitmentSettings
from monitor.match import Target

LONDON = ZoneInfo("Europe/London")

AWAITING, OVERDUE, IN_PROGRESS, DELIVERED, DROPPED = "awaiting", "overdue", "in progress", "delivered", "dropped"
STATES = (AWAITING, OVERDUE, IN_PROGRESS, DELIVERED, DROPPED)
MARKS = (DELIVERED, DROPPED, "open")  # "open" takes back an earlier mark


@dataclass(frozen=True, slots=True)
class Mark:
    state: str  # delivered | dropped | open
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Milestone:
    """A development as the ledger sees it: when, what, where."""

    on: date
    title: str
    url: str | None = None
    recorded: bool = True  # False for facts known before sendwatch watched (from the watchlist)


@dataclass(frozen=True, slots=True)
class Standing:
    """A commitment's place in the ledger on a given day."""

    commitment: CommitmentSettings
    state: str
    today: date
    note: str | None  # the person's note for delivered / dropped
    last: Milestone | None

    @property
    def days_since_promise(self) -> int:
        return (self.today - self.commitment.made_on).days

    @property
    def days_overdue(self) -> int | None:
        expected = self.commitment.expected_by
        if self.state != OVERDUE or expected is None:
            return None
        return (self.today - expected).days


@dataclass(frozen=True, slots=True)
class Event:
    commitment_id: str
    kind: str  # overdue | reminder
    expected_by: date


def london_date(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def target(commitment: CommitmentSettings) -> Target:
    return Target(commitment.id, commitment.phrases, commitment.documents,
                  f"{commitment.title}. {commitment.promise}")


def milestones(commitment: CommitmentSettings, recorded: list[Milestone]) -> list[Milestone]:
    """Known facts from the watchlist and recorded developments, oldest first."""
    known = [Milestone(k.date, k.title, k.url, recorded=False) for k in commitment.known]
    return sorted(known + list(recorded), key=lambda m: m.on)


def standing(commitment: CommitmentSettings, recorded: list[Milestone], mark: Mark | None,
             now: datetime) -> Standing:
    today = london_date(now)
    history = milestones(commitment, recorded)
    last = history[-1] if history else None
    if mark is not None and mark.state in (DELIVERED, DROPPED):
        return Standing(commitment, mark.state, today, mark.note, last)
    if (mark is None or mark.state != "open") and commitment.status in (DELIVERED, DROPPED):
        return Standing(commitment, commitment.status, today, commitment.status_note, last)
    if history:
        return Standing(commitment, IN_PROGRESS, today, None, last)
    if commitment.expected_by is not None and today > commitment.expected_by:
        return Standing(commitment, OVERDUE, today, None, last)
    return Standing(commitment, AWAITING, today, None, last)


def due_event(position: Standing, past: list[tuple[str, date, datetime]], now: datetime,
              reminder_every: timedelta) -> Event | None:
    """The event to record now, if any. ``past``: (kind, expected_by, at) of earlier events.

    Becoming overdue is recorded once per expected-by date; while the commitment stays
    overdue a reminder follows every ``reminder_every`` after the latest of them.
    """
    if position.state != OVERDUE:
        return None
    expected = position.commitment.expected_by
    relevant = [at for _kind, when, at in past if when == expected]
    if not relevant:
        return Event(position.commitment.id, "overdue", expected)
    if now - max(relevant) >= reminder_every:
        return Event(position.commitment.id, "reminder", expected)
    return None
