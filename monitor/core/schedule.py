"""When a source is checked next: the one rule for ``sendwatch serve``'s scheduler and for
the workers that share a PostgreSQL database.

The next check follows from the record, never from a schedule kept elsewhere: the
database records when each source was last checked and how many checks in a row failed,
so a restart, or another worker taking over, reaches the same answer.

- never checked, or overdue: now plus ``random(0, jitter)``, so a backlog after a long
  stop is spread over the jitter instead of fetched at once;
- after a success: ``last_checked_at + interval + random(0, jitter)``;
- after failures: ``last_checked_at`` + ``[service] retry_backoff``, doubled for each further
  failure in a row, or the server's Retry-After when longer; never longer than the
  interval (``retry_wait``).

Pure: the draw of the jitter is given (``draw(0, jitter)``), and so is the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from config.settings import ServiceSettings, SourceSettings
from monitor.core.backoff import backoff, not_before

Draw = Callable[[float, float], float]  # random.uniform, or a fixed value in tests


def retry_wait(source: SourceSettings, service: ServiceSettings, failures: int,
               retry_after: float | None = None) -> float:
    """Seconds from a failed check of ``source`` to its next: ``[service] retry_backoff``,
    doubled for each further failure in a row, or the server's Retry-After when that is
    longer; never longer than the source's interval."""
    return not_before(backoff(service.retry_backoff, max(1, failures)), retry_after, cap=source.interval)


def next_check(source: SourceSettings, service: ServiceSettings, last_checked_at: datetime | None,
               failures: int, now: datetime, draw: Draw) -> datetime:
    """The next check of ``source`` from its record (see the module's docstring)."""
    soon = now + timedelta(seconds=draw(0, service.jitter))
    if last_checked_at is None:
        return soon
    if failures:
        return max(last_checked_at + timedelta(seconds=retry_wait(source, service, failures)), now)
    due = last_checked_at + timedelta(seconds=source.interval + draw(0, service.jitter))
    return max(due, soon)


def cron_every(seconds: float) -> str:
    """A cron expression (seconds as the sixth field) for "every ``seconds``", rounded down to
    a step that divides its unit evenly, so the runs stay evenly spaced across the boundary
    of the minute, hour or day: 45 s is every 30 s, 90 min every 60 min, 5 h every 4 h. At
    least every second; at most once a day."""
    def step(value: float, unit: int) -> int:
        return max(d for d in range(1, unit + 1) if unit % d == 0 and d <= max(1, int(value)))

    if seconds < 60:
        return f"* * * * * */{step(seconds, 60)}"
    if seconds < 3600:
        return f"*/{step(seconds / 60, 60)} * * * * 0"
    if seconds < 86400:
        return f"0 */{step(seconds / 3600, 24)} * * * 0"
    return "0 0 * * * 0"
