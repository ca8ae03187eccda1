"""The commitments ledger: each promise's state, and the events the ledger itself raises.

Pure functions over plain data; the clock is an argument. Dates are judged in
Europe/London, since the promises are the UK government's: a commitment expected by
31 December is on time until midnight in London.

A commitment's expected date is the watchlist's until a minister restates it: from then on
it is the date of the latest restatement that gives one (latest by the day it was said),
and how late it is counts from there. Every earlier date stays in its history
("expected by 31 Dec 2020; restated 4 times; now expected by 31 Mar 2022, 15 months later").
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
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
class Restated:
    """A restatement as the ledger sees it: the day a minister (or a statistics release)
    gave a date for the commitment, the date it resolves to (None: vague words), and what
    was said, by whom, where."""

    said_on: date
    resolves_to: date | None
    rule: str
    sentence: str
    by: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Expectation:
    """When a commitment is expected: the watchlist's date, how often it was restated, and
    the date the latest dated restatement gives (``latest``; None when none gave one)."""

    original: date | None
    times: int
    latest: date | None

    @property
    def current(self) -> date | None:
        """The date it is expected by now."""
        return self.latest or self.original

    def words(self, note: str | None = None) -> str:
        """"expected by 31 Dec 2020; restated 4 times; now expected by 31 Mar 2022, 15 months
        later"; ``note``, what the promise said of its date, follows the original date."""
        said = f"expected by {day(self.original)}" if self.original else "no date given"
        if note and self.original:
            said += f" ({note})"
        if not self.times:
            return said
        said += f"; restated {_times(self.times)}"
        if self.latest is None:
            return said + ", without a date"
        if self.latest == self.original:
            return said + f"; still expected by {day(self.latest)}"
        said += f"; now expected by {day(self.latest)}"
        if self.original is not None:
            said += f", {between(self.original, self.latest)}"
        return said


def expectation(original: date | None, restated: Sequence[Restated]) -> Expectation:
    """The commitment's expected date after ``restated`` (in any order): the date of the
    latest restatement that gives one, latest by the day it was said (of those said the same
    day, the latest date: the furthest a minister put it that day). Vague words count as a
    restatement but move no date."""
    dated = [(r.said_on, r.resolves_to) for r in restated if r.resolves_to is not None]
    return Expectation(original, len(restated), max(dated)[1] if dated else None)


def between(before: date, after: date) -> str:
    """How far a date moved, in calendar months ("15 months later"), or days under a month
    ("12 days earlier"); "the same day" when it did not."""
    if before == after:
        return "the same day"
    early, late = sorted((before, after))
    months = (late.year - early.year) * 12 + late.month - early.month
    if _add_months(early, months) > late:
        months -= 1
    amount = _count(months, "month") if months else _count((late - early).days, "day")
    return f"{amount} {'later' if after > before else 'earlier'}"


def day(value: date) -> str:
    """"31 Dec 2020"."""
    return f"{value.day} {value:%b %Y}"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


@dataclass(frozen=True, slots=True)
class Standing:
    """A commitment's place in the ledger on a given day."""

    commitment: CommitmentSettings
    state: str
    today: date
    note: str | None  # the person's note for delivered / dropped
    last: Milestone | None
    restated: tuple[Restated, ...] = ()  # oldest first; those that count (see ``standing``)

    @property
    def days_since_promise(self) -> int:
        return (self.today - self.commitment.made_on).days

    @property
    def expectation(self) -> Expectation:
        return expectation(self.commitment.expected_by, self.restated)

    @property
    def expected_by(self) -> date | None:
        """The date it is expected by now: its latest restated date, else the watchlist's."""
        return self.expectation.current

    @property
    def lateness(self) -> str | None:
        """How late it is ("5 years 11 months past the date it was expected"), counted from
        its latest restated date, until it is delivered or dropped; None when it has no date
        or is not yet due."""
        expected = self.expected_by
        if self.state in (DELIVERED, DROPPED) or expected is None:
            return None
        return lateness(expected, self.today)

    @property
    def days_overdue(self) -> int | None:
        expected = self.expected_by
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
             now: datetime, restated: Sequence[Restated] = ()) -> Standing:
    """Where the commitment stands on ``now``'s day in London. ``restated``: its
    restatements; once a person marks it delivered or dropped, only those said by that day
    count (a date given after delivery moves nothing)."""
    today = london_date(now)
    history = milestones(commitment, recorded)
    last = history[-1] if history else None
    kept = tuple(sorted(restated, key=lambda r: r.said_on))
    if mark is not None and mark.state in (DELIVERED, DROPPED):
        marked = london_date(mark.at)
        kept = tuple(r for r in kept if r.said_on <= marked)
        return Standing(commitment, mark.state, today, mark.note, last, kept)
    if (mark is None or mark.state != "open") and commitment.status in (DELIVERED, DROPPED):
        return Standing(commitment, commitment.status, today, commitment.status_note, last, kept)
    if history:
        return Standing(commitment, IN_PROGRESS, today, None, last, kept)
    expected = expectation(commitment.expected_by, kept).current
    if expected is not None and today > expected:
        return Standing(commitment, OVERDUE, today, None, last, kept)
    return Standing(commitment, AWAITING, today, None, last, kept)


def due_event(position: Standing, past: list[tuple[str, date, datetime]], now: datetime,
              reminder_every: timedelta) -> Event | None:
    """The event to record now, if any. ``past``: (kind, expected_by, at) of earlier events.

    Becoming overdue is recorded once per expected-by date; while the commitment stays
    overdue a reminder follows every ``reminder_every`` after the latest of them.
    """
    expected = position.expected_by  # its latest restated date: a new date is overdue anew
    if position.state != OVERDUE or expected is None:  # only a dated commitment is overdue
        return None
    relevant = [at for _kind, when, at in past if when == expected]
    if not relevant:
        return Event(position.commitment.id, "overdue", expected)
    if now - max(relevant) >= reminder_every:
        return Event(position.commitment.id, "reminder", expected)
    return None
