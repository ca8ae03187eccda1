"""The commitments ledger: each promise's state, and the events the ledger itself raises.

Pure functions over plain data; the clock is an argument. Dates are judged in
Europe/London, since the promises are the UK government's: a commitment expected by
31 December is on time until midnight in London.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from config.settings import CommitmentSettings
from monitor.core.match import Target

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
    def lateness(self) -> str | None:
        """How late it is ("5 years 11 months past the date it was expected"), until it is
        delivered or dropped; None when it has no date or is not yet due."""
        expected = self.commitment.expected_by
        if self.state in (DELIVERED, DROPPED) or expected is None:
            return None
        return lateness(expected, self.today)

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


def lateness(expected_by: date, today: date) -> str | None:
    """``today`` against the day something was expected by, in words: None until the day
    after it, then "12 days past the date it was expected", and from a whole month on years
    and months ("5 years 11 months past ..."), days left out as a person would.

    Months are calendar months: one month after 31 January is the last day of February,
    so the end of one month to the end of the next is one month."""
    if today <= expected_by:
        return None
    months = (today.year - expected_by.year) * 12 + today.month - expected_by.month
    if _add_months(expected_by, months) > today:
        months -= 1
    if months == 0:
        parts = [_count((today - expected_by).days, "day")]
    else:
        years, months = divmod(months, 12)
        parts = [_count(n, unit) for n, unit in ((years, "year"), (months, "month")) if n]
    return f"{' '.join(parts)} past the date it was expected"


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def london_date(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def target(commitment: CommitmentSettings) -> Target:
    return Target(commitment.id, commitment.phrases, commitment.documents,
                  f"{commitment.title}. {commitment.promise}",
                  tuple(k.url for k in commitment.known if k.url))


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
    expected = position.commitment.expected_by
    if position.state != OVERDUE or expected is None:  # only a dated commitment is overdue
        return None
    relevant = [at for _kind, when, at in past if when == expected]
    if not relevant:
        return Event(position.commitment.id, "overdue", expected)
    if now - max(relevant) >= reminder_every:
        return Event(position.commitment.id, "reminder", expected)
    return None
