"""How sendwatch writes a moment for machines (JSON, CSV, the status file, feeds, the log):
ISO 8601 in UTC, to the second, with ``Z`` (``2026-11-27T22:01:15Z``), the form GOV.UK's
and Parliament's APIs use and the one documents' item dates are kept in. One form
everywhere, so a time copied from one output reads the same in any other, and sorts as text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import overload


@overload
def iso(value: None) -> None: ...
@overload
def iso(value: date) -> str: ...
@overload
def iso(value: date | None) -> str | None: ...
def iso(value: date | None) -> str | None:
    """``2026-11-27T22:01:15Z`` for an instant (a naive one is taken as UTC), ``2026-11-27``
    for a date, None for None."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return value.isoformat()
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
