"""A ``sendwatch check`` killed with SIGKILL in the middle of its work, then run again:
nothing lost, nothing recorded or sent twice. Real processes, a real local site and SMTP
server, SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, update

from storage.models import ChangeRecord, DevelopmentRecord, NotificationRecord
from tests.conftest import Reply
from tests.mailserver import Handler, MailServer
from tests.processes import SOURCES, Watch, assert_every_version_made_current_by_a_change, assert_no_failures, page

DEADLINE = 30.0
HANGING = range(SOURCES // 2, SOURCES)  # these pages answer only after the kill


def wait_for(condition, what: str, process) -> None:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"check exited before {what}: {process.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def killed(process) -> None:
    process.kill()
    process.wait(10)


def test_a_check_killed_mid_pass_loses_and_repeats_nothing(tmp_path, site, database_url):
    watch = Watch(tmp_path, site, database_url)
    for n in range(SOURCES):
        site.page(f"/p{n}", page(f"/p{n}", "one"))
    assert_no_failures([watch.check()])

    for n in range(SOURCES):
        site.set(f"/p{n}", Reply(hang=True) if n in HANGING else Reply(body=page(f"/p{n}", "two")))
    process = watch.start_check()
    fast = SOURCES - len(HANGING)
    wait_for(lambda: len(watch.rows(ChangeRecord.__table__)) == fast, "the fast pages' changes", process)
    killed(process)  # the hanging pages are still being fetched

    for n in HANGING:
        site.page(f"/p{n}", page(f"/p{n}", "two"))
    again = watch.check()
    assert_no_failures([again])
    assert sum(line.startswith("changed") for line in again.stdout.splitlines()) == len(HANGING)

    changes = watch.rows(ChangeRecord.__table__)
    assert sorted(c.source_id for c in changes) == sorted(f"p{n}" for n in range(SOURCES))  # each once
    assert len(watch.rows(DevelopmentRecord.__table__)) == SOURCES
    assert_every_version_made_current_by_a_change(watch)


class StallingHandler(Handler):
    """Holds the first RCPT until released: the sender is mid-send, nothing accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()
        self.stalls = 1

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.stalls:
            self.stalls -= 1
            self.stalled.set()
            await self.release.wait()
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def test_a_check_killed_mid_send_sends_every_email_once(tmp_path, site, database_url):
    server = MailServer()
    server.handler = server.controller.handler = StallingHandler()
    with server:
        smtp = f'[email.smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\ntimeout = 30\n'
        watch = Watch(tmp_path, site, database_url, extra=smtp)
        for n in range(SOURCES):
            site.page(f"/p{n}", page(f"/p{n}", "one"))
        assert_no_failures([watch.check()])
        for n in range(SOURCES):
            site.page(f"/p{n}", page(f"/p{n}", "two"))

        process = watch.start_check()
        wait_for(server.handler.stalled.is_set, "the first email to be mid-send", process)
        killed(process)
        server.controller.loop.call_soon_threadsafe(server.handler.release.set)

        # The killed sender's claim is released after its lease: pretend the lease is over.
        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(update(NotificationRecord).where(NotificationRecord.status == "sending")
                         .values(next_attempt_at=datetime.now(UTC) - timedelta(minutes=10)))
        engine.dispose()
        again = watch.check()
        assert again.returncode == 0, again.stdout + again.stderr

    ids = [message["Message-ID"] for message in server.messages]
    assert len(ids) == SOURCES == len(set(ids))  # one email per development, none twice
    statuses = [n.status for n in watch.rows(NotificationRecord.__table__) if n.kind == "development"]
    assert statuses == ["sent"] * SOURCES
