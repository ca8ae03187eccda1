"""Worker processes sharing the work through PostgreSQL: real ``sendwatch worker`` and
``sendwatch serve --workers N`` processes, a real PostgreSQL, a local site and SMTP server.

What must hold whatever the number of workers (README, Scaling out): every source is
checked, none twice at once; each change is recorded once and mailed once; a worker killed
with SIGKILL in the middle of a check or a send loses nothing, and its source is checked
again within ``lost_after`` plus a tick or two.

The site counts the requests for each page in flight at once and holds each answer a
moment, so two checks of one source at the same time would overlap there and be seen.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text, update

from storage import Store
from storage.models import ChangeRecord, NotificationRecord, SnapshotRecord, SourceRecord
from tests.conftest import CODE_OF_PRACTICE, Reply, config_head, fresh_database
from tests.mailserver import MailServer
from tests.processes import page
from tests.test_crash import StallingHandler

ROOT = Path(__file__).resolve().parents[1]
SOURCES = 24
DEADLINE = 60.0  # seconds to wait for what must happen; a pass takes a few
LOST_AFTER = 3.0
HOLD = 0.05  # seconds each answer is held, so overlapping checks of one page would be seen

needs_postgres = pytest.mark.skipif(not os.environ.get("SENDWATCH_TEST_DATABASE_URL"),
                                    reason="workers need PostgreSQL (SENDWATCH_TEST_DATABASE_URL)")


@pytest.fixture
def postgres_url(tmp_path):
    with fresh_database("postgres", tmp_path) as url:
        yield url


class InFlight:
    """Requests for each path being answered right now, and the most there ever were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.most: dict[str, int] = {}

    def reply(self, path: str, version) -> Reply:
        def body() -> bytes:
            with self.lock:
                self.now[path] = self.now.get(path, 0) + 1
                self.most[path] = max(self.most.get(path, 0), self.now[path])
            time.sleep(HOLD)
            with self.lock:
                self.now[path] -= 1
            return page(path, version() if callable(version) else version)

        return Reply(body=body)


class Crew:
    """A config for SOURCES pages of the site, and worker processes running on it."""

    def __init__(self, tmp_path: Path, site, database_url: str, extra: str = "") -> None:
        self.tmp_path, self.site, self.database_url = tmp_path, site, database_url
        self.flights = InFlight()
        self.config = tmp_path / "sendwatch.toml"
        self.sources = [f"p{n}" for n in range(SOURCES)]
        self.write_config(extra)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
        self.env.update(XDG_DATA_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path),
                        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        self.processes: list[subprocess.Popen] = []
        self.finished: set[int] = set()
        Store(database_url).close()  # the record's tables, so the test can read them from the start

    def write_config(self, extra: str = "", web: bool = False) -> None:
        sources = "".join(f'[[source]]\nid = "{s}"\nurl = "{self.site.url("/" + s)}"\ninterval = "1h"\n'
                          f'commitments = ["code-of-practice"]\n' for s in self.sources)
        self.config.write_text(
            f'data_dir = "{self.tmp_path / "data"}"\n'
            + config_head(self.database_url, per_host_concurrency=SOURCES, read_timeout=30, total_timeout=40)
            + "[service]\njitter = 0\noutbox_every = 1\n"
            + f"[cluster]\ntick = 1\nheartbeat = 0.5\nlost_after = {LOST_AFTER}\nconcurrency = 4\n"
            + ("[web]\nport = 0\n" if web else "[web]\nenabled = false\n") + extra + CODE_OF_PRACTICE
            + '[[recipient]]\nemail = "forum@example.org"\n' + sources)

    def serve_pages(self, version, paths=None) -> None:
        for source in paths or self.sources:
            self.site.set(f"/{source}", self.flights.reply(f"/{source}", version))

    def start(self, *args: str) -> subprocess.Popen:
        # Output to a file, not a pipe: nothing reads a pipe until the end, and a process
        # that filled one would stop at its next log line.
        log = self.tmp_path / f"process-{len(self.processes)}.log"
        command = [sys.executable, "-m", "monitor.app.cli", "--config", str(self.config), *args]
        with open(log, "w") as out:
            process = subprocess.Popen(command, cwd=self.tmp_path, env=self.env, stdout=out,
                                       stderr=subprocess.STDOUT, text=True)
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    @staticmethod
    def output(process: subprocess.Popen) -> str:
        return process.log.read_text()  # type: ignore[attr-defined]

    def finish(self, process: subprocess.Popen, timeout: float = 60) -> str:
        """Wait for ``process`` to end (its exit is the test's business from then on): its output."""
        process.wait(timeout)
        self.finished.add(process.pid)
        return self.output(process)

    def stop_all(self) -> list[str]:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        return [self.finish(process, 30) for process in self.processes]

    def query(self, sql: str, **params):
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).all()
        finally:
            engine.dispose()

    def rows(self, model):
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(select(model)).all()
        finally:
            engine.dispose()

    def first_pass_done(self) -> bool:
        """Every source has its first version recorded."""
        return len({s.source_id for s in self.rows(SnapshotRecord.__table__)}) == SOURCES

    def checked(self) -> dict[str, datetime | None]:
        """When each source was last checked with success."""
        return {r.id: r.last_success_at for r in self.rows(SourceRecord.__table__)}

    def make_due(self) -> None:
        """As if an hour had passed since each source's last check."""
        engine = create_engine(self.database_url)
        with engine.begin() as conn:
            conn.execute(update(SourceRecord).values(last_checked_at=datetime.now(UTC) - timedelta(hours=2)))
        engine.dispose()

    def wait_for(self, condition, what: str, deadline: float = DEADLINE) -> float:
        """Seconds until ``condition()`` held; fails after ``deadline`` or when a process died."""
        started = time.monotonic()
        while time.monotonic() - started < deadline:
            if condition():
                return time.monotonic() - started
            # (killed with SIGKILL: by the test itself)
            dead = [p for p in self.processes if p.poll() is not None and p.returncode not in (0, -signal.SIGKILL)
                    and p.pid not in self.finished]
            if dead:
                raise AssertionError(f"a process exited ({dead[0].returncode}) before {what}: "
                                     f"{self.output(dead[0])}")
            time.sleep(0.05)
        jobs = self.query("SELECT id, task_name, status, lock, worker_id, attempts FROM procrastinate_jobs "
                          "WHERE status <> 'succeeded' ORDER BY id")
        workers = self.query("SELECT id, now() - last_heartbeat FROM procrastinate_workers")
        periodic = self.query("SELECT task_name, max(defer_timestamp), count(*) FROM procrastinate_periodic_defers "
                              "GROUP BY task_name")
        for process in self.processes:  # every thread's stack, to see where a process is stuck
            if process.poll() is None:
                process.send_signal(signal.SIGUSR1)
        time.sleep(1)
        raise AssertionError(f"timed out after {deadline:g} s waiting for {what}; jobs: {jobs}; "
                             f"workers: {workers}; periodic: {periodic}; "
                             f"outputs: {self.stop_all()}")


@pytest.fixture
def crew(tmp_path, site, postgres_url):
    made = Crew(tmp_path, site, postgres_url)
    yield made
    for process in made.processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def assert_clean(outputs: list[str]) -> None:
    for out in outputs:
        assert "Traceback" not in out, out
        assert "status=error" not in out, out


@needs_postgres
def test_three_workers_share_the_sources_and_record_and_mail_each_change_once(crew):
    crew.serve_pages("one")
    for _ in range(3):
        crew.start("worker")
    crew.wait_for(crew.first_pass_done,
                  "every source's first check")
    assert len(crew.rows(SnapshotRecord.__table__)) == SOURCES  # one first snapshot each, none twice

    crew.serve_pages("two")
    crew.make_due()
    crew.wait_for(lambda: len(crew.rows(ChangeRecord.__table__)) >= SOURCES, "every change")
    mail = crew.tmp_path / "data" / "mail" / "new"
    crew.wait_for(lambda: mail.exists() and len(list(mail.iterdir())) >= SOURCES, "every email")
    outputs = crew.stop_all()

    assert_clean(outputs)
    assert len(crew.rows(ChangeRecord.__table__)) == SOURCES  # each change once
    assert len(crew.rows(SnapshotRecord.__table__)) == 2 * SOURCES
    assert len(list(mail.iterdir())) == SOURCES  # each email once
    assert all(n.status == "sent" for n in crew.rows(NotificationRecord.__table__))
    assert max(crew.flights.most.values()) == 1, crew.flights.most  # no page fetched twice at once
    checks = [line for out in outputs for line in out.splitlines() if " check worker=" in line
              and "status=skipped" not in line]
    assert len(checks) == 2 * SOURCES, checks  # each source checked once a pass, by one worker
    workers = {line.split("worker=")[1].split()[0] for line in checks}
    assert len(workers) >= 2, workers  # the work was shared
    # The workers said goodbye: nothing is left registered.
    assert crew.query("SELECT count(*) FROM procrastinate_workers")[0][0] == 0


@needs_postgres
def test_a_worker_killed_mid_check_loses_nothing_and_its_source_is_checked_again(crew):
    crew.serve_pages("one")
    first = crew.start("worker")
    crew.wait_for(crew.first_pass_done, "the first checks")

    # One page hangs; the lone worker takes its check and is killed in the middle of it.
    release = threading.Event()
    hung = crew.site.url("/p0")

    def hanging() -> bytes:
        release.wait(30)
        return page("/p0", "two")

    crew.site.set("/p0", Reply(body=hanging))
    crew.make_due()
    crew.wait_for(lambda: any(p == "/p0" for p, _ in crew.site.requests[-SOURCES * 2:]) and
                  crew.query("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing' "
                             "AND args->>'source_id' = 'p0'")[0][0] == 1, f"the check of {hung} to hang")
    first.kill()
    first.wait(10)
    killed_at = time.monotonic()
    crew.serve_pages("two", ["p0"])
    release.set()
    crew.start("worker")
    crew.start("worker")

    # The killed check recorded nothing; another worker checks the source again.
    crew.wait_for(lambda: len([c for c in crew.rows(ChangeRecord.__table__) if c.source_id == "p0"]) == 1,
                  "p0's change, recorded by another worker")
    handed_on = time.monotonic() - killed_at
    mail = crew.tmp_path / "data" / "mail" / "new"
    crew.wait_for(lambda: mail.exists() and len(list(mail.iterdir())) >= 1, "p0's email")
    outputs = crew.stop_all()

    assert_clean(outputs[1:])
    assert [c.source_id for c in crew.rows(ChangeRecord.__table__)] == ["p0"]  # the only change, once
    assert len(list(mail.iterdir())) == 1
    assert any("status=changed" in line and "source=p0" in line for out in outputs[1:] for line in out.splitlines())
    assert any(" lost job=" in line for out in outputs[1:] for line in out.splitlines()), outputs
    # Within the stated bound: lost_after, a tick to notice, a tick to start (and slack for a busy machine).
    assert handed_on < LOST_AFTER + 2 + 15, handed_on


@needs_postgres
def test_a_worker_killed_mid_send_sends_every_email_once(tmp_path, site, postgres_url):
    server = MailServer()
    server.handler = server.controller.handler = StallingHandler()
    with server:
        smtp = f'[email.smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\ntimeout = 30\n'
        crew = Crew(tmp_path, site, postgres_url, extra=smtp)
        crew.serve_pages("one")
        sender = crew.start("worker")
        crew.wait_for(crew.first_pass_done, "the first checks")
        crew.serve_pages("two")
        crew.make_due()
        crew.wait_for(server.handler.stalled.is_set, "the first email to be mid-send")
        sender.kill()
        sender.wait(10)
        server.controller.loop.call_soon_threadsafe(server.handler.release.set)
        # The killed sender's claim is released after its lease: pretend the lease is over.
        engine = create_engine(postgres_url)
        with engine.begin() as conn:
            conn.execute(update(NotificationRecord).where(NotificationRecord.status == "sending")
                         .values(next_attempt_at=datetime.now(UTC) - timedelta(minutes=10)))
        engine.dispose()
        crew.start("worker")
        crew.start("worker")
        crew.wait_for(lambda: len(server.messages) >= SOURCES and all(
            n.status == "sent" for n in crew.rows(NotificationRecord.__table__)), "every email")
        outputs = crew.stop_all()

    assert_clean(outputs[1:])
    ids = [message["Message-ID"] for message in server.messages]
    assert len(ids) == SOURCES == len(set(ids))  # one email per development, none twice
    assert len(crew.rows(ChangeRecord.__table__)) == SOURCES


@needs_postgres
def test_serve_with_workers_runs_them_reloads_them_and_shows_them(crew, sendwatch):
    crew.serve_pages("one")
    crew.sources = crew.sources[:4]
    crew.write_config(web=True)
    served = crew.start("serve", "--workers", "2")
    crew.wait_for(lambda: len(crew.checked()) == 4 and all(crew.checked().values()), "the first checks")

    status = sendwatch("--config", str(crew.config), "status")
    assert status.code == 0, status.out
    assert "workers: 2 alive of 2 registered" in status.out
    assert "healthy" in status.out.splitlines()[-1]
    dashboard = next(line.split()[1] for line in crew.output(served).splitlines() if line.startswith("dashboard: "))
    health = httpx.get(dashboard + "healthz").json()
    assert len(health["crew"]["processes"]) == 2 and health["crew"]["live"] == 2
    assert health["crew"]["queue"]["failed"] == 0
    assert "Workers: 2 alive of 2" in httpx.get(dashboard).text

    # A source added to the config reaches the workers at SIGHUP.
    crew.sources.append("p4")
    crew.serve_pages("one", ["p4"])
    crew.write_config(web=True)
    served.send_signal(signal.SIGHUP)
    crew.wait_for(lambda: crew.checked().get("p4") is not None, "the new source's first check")

    served.send_signal(signal.SIGTERM)
    out = crew.finish(served)
    assert served.returncode == 0, out
    assert "workers: 2 process(es)" in out
    assert out.count("status=stopped") == 2, out  # both workers stopped with it
    assert "Traceback" not in out
    assert crew.query("SELECT count(*) FROM procrastinate_workers")[0][0] == 0


@needs_postgres
def test_a_one_process_serve_and_workers_never_run_on_one_database_together(crew):
    crew.serve_pages("one")
    worker = crew.start("worker")
    crew.wait_for(crew.first_pass_done, "the first checks")
    solo = crew.start("serve")
    out = crew.finish(solo)
    assert solo.returncode == 1
    assert "another sendwatch serve is running on the database" in out and "workers" in out
    worker.terminate()
    crew.finish(worker)
    # The server ends a session, and drops its locks, a moment after the process is gone.
    crew.wait_for(lambda: crew.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND pid <> pg_backend_pid()")[0][0] == 0, "the worker's sessions to end")

    solo = crew.start("serve")
    crew.wait_for(lambda: (crew.tmp_path / "data" / "status.json").exists(), "the one-process service to start")
    late = crew.start("worker")
    out = crew.finish(late)
    assert late.returncode == 1
    assert "a one-process sendwatch serve is running on this database" in out
    solo.terminate()
    crew.finish(solo)


def test_workers_need_postgresql(sendwatch, tmp_path):
    (tmp_path / "sendwatch.toml").write_text(f'database_url = "sqlite:///{tmp_path / "sw.db"}"\n')
    worker = sendwatch("worker")
    assert worker.code == 2
    assert "workers need PostgreSQL" in worker.err and "sqlite" in worker.err
    serve = sendwatch("serve", "--workers", "2")
    assert serve.code == 1
    assert "serve --workers needs PostgreSQL" in serve.err


def test_a_heartbeat_no_shorter_than_lost_after_is_refused_naming_the_file_and_field(sendwatch, tmp_path):
    (tmp_path / "sendwatch.toml").write_text("[cluster]\nheartbeat = 30\nlost_after = 10\n")
    run = sendwatch("worker")
    assert run.code == 2
    assert "sendwatch.toml" in run.err and "'cluster'" in run.err
    assert "heartbeat (30 s) must be shorter than lost_after (10 s)" in run.err
