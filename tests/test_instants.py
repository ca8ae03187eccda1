"""One way of writing a moment for machines, whatever prints it (monitor/core/instants.py)."""

from datetime import date, datetime, timedelta, timezone

from monitor.core.instants import iso


def test_an_instant_is_written_in_utc_to_the_second_with_z():
    london_summer = timezone(timedelta(hours=1))
    assert iso(datetime(2026, 6, 30, 23, 59, 59, 999_999, tzinfo=london_summer)) == "2026-06-30T22:59:59Z"
    assert iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"  # naive: UTC, as the record keeps it
    assert iso(date(2026, 1, 2)) == "2026-01-02"
    assert iso(None) is None


def test_instants_written_sort_as_text_in_time_order():
    moments = [datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=h))) for h in (-5, 0, 3, 9)]
    assert sorted(map(iso, moments)) == [iso(m) for m in sorted(moments)]
