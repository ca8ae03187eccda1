"""Reading "since when" as people write it: one reading for ``sendwatch changes --since`` and
the API's ``?since=`` alike (pure; the clock is an argument)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from config import parse_duration
from monitor.core.ledger import LONDON

FORMS = "a date (2026-01-31), an instant (2026-01-31T09:30:00Z) or a duration back from now (7d, 12h)"

# A bare number is refused rather than read as seconds: "2026" is far likelier a year.
_WITH_UNIT = re.compile(r"^\s*\d+(?:\.\d+)?\s*[a-z]+\s*$", re.IGNORECASE)


def parse_since(text: str, now: datetime) -> datetime:
    """The moment ``text`` names, in UTC: a date alone is its midnight in London (where the
    promises are made and GOV.UK dates its pages), an instant without a zone is UTC, and a
    duration such as ``7d`` counts back from ``now``. ValueError, with a message for
    people, when it is none of those."""
    try:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=LONDON).astimezone(UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    try:
        if moment is not None:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        if _WITH_UNIT.match(text):
            return now - timedelta(seconds=parse_duration(text))
    except (OverflowError, ValueError):  # 99999999d ago, or 9999-12-31T23:59-05:00 in UTC
        raise ValueError(f"{text!r} is out of range") from None
    raise ValueError(f"{text!r} is not {FORMS}")
