"""When a source is checked next (monitor.core.schedule): one rule for the one-process
service and for the workers, pure, so tested without a clock or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import croniter
import pytest

from config.settings import ServiceSettings, SourceSettings
from monitor.core.schedule import cron_every, next_check, retry_wait

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SOURCE = SourceSettings(id="code", kind="page", url="https://www.gov.uk/x", interval=3600)
SERVICE = ServiceSettings(jitter=300, retry_backoff=300)


def lowest(low, _high):
    return low


def highest(_low, high):
    return high


def test_a_source_never_checked_is_due_now_spread_over_the_jitter():
    assert next_check(SOURCE, SERVICE, None, 0, NOW, lowest) == NOW
    assert next_check(SOURCE, SERVICE, None, 0, NOW, highest) == NOW + timedelta(seconds=300)


def test_after_a_success_the_next_check_is_an_interval_later_plus_jitter():
    last = NOW - timedelta(minutes=10)
    assert next_check(SOURCE, SERVICE, last, 0, NOW, lowest) == last + timedelta(hours=1)
    assert next_check(SOURCE, SERVICE, last, 0, NOW, highest) == last + timedelta(hours=1, seconds=300)


def test_an_overdue_source_is_not_checked_in_the_past_but_soon():
    last = NOW - timedelta(days=3)  # the service was down
    assert next_check(SOURCE, SERVICE, last, 0, NOW, highest) == NOW + timedelta(seconds=300)


def test_failures_back_off_from_the_last_check_never_past_the_interval():
    last = NOW
    waits = [next_check(SOURCE, SERVICE, last, n, NOW, lowest) - last for n in (1, 2, 3, 4)]
    assert waits == [timedelta(seconds=300), timedelta(seconds=600), timedelta(seconds=1200), timedelta(seconds=2400)]
    assert next_check(SOURCE, SERVICE, last, 9, NOW, lowest) - last == timedelta(hours=1)
    assert retry_wait(SOURCE, SERVICE, 1, retry_after=1800) == 1800  # the server asked for longer


@pytest.mark.parametrize("seconds, gap", [(1, 1), (7, 6), (10, 10), (45, 30), (60, 60), (90, 60), (300, 300),
                                          (3600, 3600), (5 * 3600, 4 * 3600), (86400, 86400), (10**7, 86400)])
def test_cron_every_gives_evenly_spaced_runs_no_further_apart_than_asked(seconds, gap):
    runs = croniter.croniter(cron_every(seconds), datetime(2026, 1, 1, 23, 0))
    moments = [runs.get_next(datetime) for _ in range(30)]
    assert {(b - a).total_seconds() for a, b in zip(moments, moments[1:], strict=False)} == {gap}
