"""How "since" is read, by the CLI's --since and the API's ?since= alike (pure, with a fixed clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.since import parse_since

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("2026-06-01", datetime(2026, 5, 31, 23, 0, tzinfo=UTC)),  # midnight in London, in BST
    ("2026-01-10", datetime(2026, 1, 10, 0, 0, tzinfo=UTC)),  # and in GMT
    ("2026-01-31T10:00:00+01:00", datetime(2026, 1, 31, 9, 0, tzinfo=UTC)),
    ("2026-06-01T12:00:00", datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),  # no zone: UTC
    ("2026-06-01T12:00:00Z", datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),
    ("7d", NOW - timedelta(days=7)),
    ("12h", NOW - timedelta(hours=12)),
    ("2w", NOW - timedelta(weeks=2)),
    ("90s", NOW - timedelta(seconds=90)),
])
def test_dates_instants_and_durations(text, expected):
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text, problem", [
    ("last tuesday", "'last tuesday' is not a date (2026-01-31), an instant (2026-01-31T09:30:00Z) or a duration"),
    ("2026", "'2026' is not a date"),  # a year, not 2026 seconds
    ("-7d", "is not a date"),
    ("", "'' is not a date"),
    ("99999999999d", "'99999999999d' is out of range"),
    ("9999-12-31T23:59:59-05:00", "is out of range"),
])
def test_anything_else_is_refused_with_the_forms_it_could_take(text, problem):
    with pytest.raises(ValueError) as refused:
        parse_since(text, NOW)
    assert problem in str(refused.value)
