"""Several processes recording the same sources at once: real ``sendwatch check``
processes, a real local site, SQLite and PostgreSQL.

The site holds each answer until every process has asked for that page (or a few seconds
have passed), so all of them read a source's state before any of them records: the race
is made to happen, not hoped for. What must hold is independent of who wins it.
"""

from __future__ import annotations

import itertools
import threading

from storage.models import ChangeRecord, DevelopmentRecord, NotificationRecord
from tests.processes import (
    PROCESSES,
    SOURCES,
    Watch,
    assert_every_version_made_current_by_a_change,
    assert_no_failures,
    lines_for,
)


def test_processes_that_read_the_same_change_record_it_once(tmp_path, site, database_url):
    watch = Watch(tmp_path, site, database_url)
    watch.serve_pages("one")
    assert_no_failures(watch.check_at_once())

    watch.serve_pages("two")
    runs = watch.check_at_once()

    assert_no_failures(runs)
    for n in range(SOURCES):
        lines = [line for run in runs for line in lines_for(run, f"p{n}")]
        assert len(lines) == PROCESSES
        changed = [line for line in lines if line.startswith("changed")]
        assert len(changed) == 1, lines  # one process reports the change, the others say who did
        assert all("recorded by another process" in line for line in lines if line not in changed), lines
    # Once each in the record, as a development, and in the outbox (one email per change).
    assert len(watch.rows(ChangeRecord.__table__)) == SOURCES
    assert len(watch.rows(DevelopmentRecord.__table__)) == SOURCES
    developments = [n for n in watch.rows(NotificationRecord.__table__) if n.kind == "development"]
    assert len(developments) == SOURCES
    mailed = list((tmp_path / "data" / "mail" / "new").iterdir())
    statuses = sorted((n.status, n.attempts, str(n.last_error)) for n in watch.rows(NotificationRecord.__table__))
    # The three processes drained the outbox together: each email once.
    assert len(mailed) == SOURCES, (statuses, [run.stdout for run in runs])
    assert_every_version_made_current_by_a_change(watch)


def test_a_page_that_changes_between_the_processes_fetches_loses_no_change(tmp_path, site, database_url):
    watch = Watch(tmp_path, site, database_url)
    watch.serve_pages("one")
    assert_no_failures(watch.check_at_once())

    counter = itertools.count(2)
    lock = threading.Lock()

    def next_version() -> str:
        with lock:
            return f"v{next(counter)}"

    watch.serve_pages(next_version)  # every request sees a newer version than the last
    runs = watch.check_at_once()

    assert_no_failures(runs)
    assert_every_version_made_current_by_a_change(watch)
    changes = watch.rows(ChangeRecord.__table__)
    developments = watch.rows(DevelopmentRecord.__table__)
    for n in range(SOURCES):
        reported = sum(1 for run in runs for line in lines_for(run, f"p{n}") if line.startswith("changed"))
        assert reported == sum(1 for c in changes if c.source_id == f"p{n}") >= 1
    assert len(developments) == len(changes)  # each change bears on the commitment, once
