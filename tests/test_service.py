"""``sendwatch serve`` and ``sendwatch status`` as a person runs them: real processes, a
real web site and a real SMTP server on 127.0.0.1, signals sent to the process.

Intervals are at least 60 s, so no test waits for a second scheduled run. They rely on
what the service promises instead: a source never checked runs at start (jitter 0), the
next run is one interval after the last check (read from the status file), and the
schedule after a restart follows from the last check recorded in the database. Where a
test needs "a minute has passed", it moves the recorded last check back a minute,
which is exactly what the service reads to plan its next run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, update

from storage import Store
from storage.models import SourceRecord
from tests.conftest import CODE_OF_PRACTICE, Reply, config_head, stored_followed_source
from tests.govuk_site import PageContent, render_govuk_page
from tests.mailserver import MailServer, SilentServer

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 20.0  # seconds any condition may take to come true

COMMITMENT = CODE_OF_PRACTICE + """
[[recipient]]
email = "parent@example.org"
"""
REVISION = [("SEND code of practice: 0 to 25 years (2026 revision)", "/media/code-2026.pdf", "PDF, 2 MB")]


def code_page(attachments=()):
    return render_govuk_page(PageContent(title="SEND code of practice: 0 to 25 years",
                                         body=["The code explains duties."], attachments=list(attachments),
                                         change_history=[("2015-01-01T00:00:00Z", "First published.")]))


def plain_page(text: str) -> str:
    return f"<html><head><title>{text}</title></head><body><main id='content'><h1>{text}</h1>" \
           f"<p>{text} and more.</p></main></body></html>"


class Setup:
    """A config file for a service under test, and the service's process."""

    def __init__(self, tmp_path: Path, site, database_url: str) -> None:
        self.tmp_path, self.site, self.database_url = tmp_path, site, database_url
        self.path = tmp_path / "sendwatch.toml"
        self.data_dir = tmp_path / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
        self.env.update(XDG_DATA_HOME=str(tmp_path / "xdg"),
                        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        self.runs = 0

    def write(self, sources: str, *, smtp_port: int | None = None, stop_timeout: float = 5, extra: str = "",
              service: str = "") -> None:
        smtp = f'[email.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\ntimeout = 5\n' \
            if smtp_port else ""
        self.path.write_text(
            f'data_dir = "{self.data_dir}"\ndatabase_url = "{self.database_url}"\n'
            # A long read timeout keeps the hanging route's check in flight until the stop.
            f'[fetch]\nper_host_delay = 0\nretries = 0\nconnect_timeout = 2\nread_timeout = 50\ntotal_timeout = 55\n'
            f'[web]\nport = 0\n'
            f'[service]\njitter = 0\nstop_timeout = {stop_timeout}\n{service}\n'
            f'[email]\nfrom = "sendwatch <alerts@sendwatch.example>"\nbroken_after = 2\n{smtp}\n'
            f'{extra}\n{COMMITMENT}\n{sources}')

    def source(self, source_id: str, path: str, interval: int = 60, commitments: str = "") -> str:
        bound = f'commitments = ["{commitments}"]\n' if commitments else ""
        return f'[[source]]\nid = "{source_id}"\nurl = "{self.site.url(path)}"\ninterval = {interval}\n{bound}'

    def serve(self) -> Served:
        self.runs += 1
        return Served(self, self.runs)

    def sendwatch(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "monitor.app.cli", "--config", str(self.path), *args],
                              cwd=self.tmp_path, env=self.env, capture_output=True, text=True, timeout=60)

    def status_file(self) -> dict:
        try:
            return json.loads((self.data_dir / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def store(self) -> Store:
        return Store(self.database_url)

    def pretend_time_passed(self, seconds: float) -> None:
        """As if the last checks had been made ``seconds`` earlier."""
        engine = create_engine(self.database_url)
        with engine.begin() as conn:
            for source_id, checked in conn.execute(SourceRecord.__table__.select().with_only_columns(
                    SourceRecord.id, SourceRecord.last_checked_at)).all():
                if checked is not None:
                    checked = checked if checked.tzinfo else checked.replace(tzinfo=UTC)
                    conn.execute(update(SourceRecord).where(SourceRecord.id == source_id)
                                 .values(last_checked_at=checked - timedelta(seconds=seconds)))
        engine.dispose()


class Served:
    """``sendwatch serve`` in its own process; standard output and error go to files."""

    def __init__(self, setup: Setup, run: int) -> None:
        self.setup = setup
        self.out_path = setup.tmp_path / f"serve-{run}.out"
        self.err_path = setup.tmp_path / f"serve-{run}.err"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "monitor.app.cli", "--config", str(setup.path), "serve"],
                cwd=setup.tmp_path, env=setup.env, stdout=out, stderr=err)

    @property
    def out(self) -> str:
        return self.out_path.read_text()

    @property
    def log(self) -> str:
        return self.err_path.read_text()

    def wait_until(self, condition, what: str, timeout: float = DEADLINE):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = condition()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited ({self.process.returncode}) before {what}\n"
                                     f"{self.out}\n{self.log}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n--- stdout\n{self.out}\n--- stderr\n{self.log}")

    def checked(self, source_id: str, count: int = 1):
        """Wait until the log shows ``count`` checks of the source; return their lines."""
        def lines():
            found = [line for line in self.log.splitlines() if f"check source={source_id} " in line]
            return found if len(found) >= count else None
        return self.wait_until(lines, f"{count} check(s) of {source_id}")

    def my_status(self) -> dict:
        """The status file, once this process has written it."""
        return self.wait_until(lambda: (s := self.setup.status_file()) and s.get("pid") == self.process.pid and s,
                               "the status file of this process")

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def stop(self, timeout: float = 30) -> tuple[int, float]:
        """SIGTERM; (exit status, seconds it took)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def setup(tmp_path, site):
    made = Setup(tmp_path, site, f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    yield made


@pytest.fixture
def services():
    """Every service a test starts is killed at the end, whatever happened."""
    started: list[Served] = []
    yield started
    for served in started:
        served.kill()


def start(setup: Setup, services: list) -> Served:
    served = setup.serve()
    services.append(served)
    return served


def field(line: str, name: str) -> str:
    return line.split(f" {name}=", 1)[1].split(" ", 1)[0]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the tests ---------------------------------------------------------------------------------


def test_sources_are_checked_at_start_and_then_one_interval_later(setup, services, site):
    site.page("/a", plain_page("Page A"))
    site.page("/b", plain_page("Page B"))
    setup.write(setup.source("a", "/a", interval=60) + setup.source("b", "/b", interval=120))
    served = start(setup, services)

    (line_a,) = served.checked("a")
    (line_b,) = served.checked("b")
    assert "status=first" in line_a and "duration_ms=" in line_a and "bytes=" in line_a
    assert 'outcome="first snapshot: \'Page A\'' in line_a
    assert len(site.hits("/a")) == len(site.hits("/b")) == 1

    out = served.out
    assert "watching 2 source(s)" in out
    assert "dashboard: http://127.0.0.1:" in out
    assert f"mail: no SMTP configured: mail is delivered to the Maildir at {setup.data_dir / 'mail'}" in out

    # The next run is one interval after the check: in the log line and in the status file.
    with setup.store() as store:
        checked = {s.id: s.last_checked_at for s in store.sources.all()}
    # Written after each check: the one after the second check has both next runs.
    status = served.wait_until(lambda: (s := served.my_status()) and len(s["next_checks"]) == 2
                               and all(at(s["next_checks"][i]) > checked[i] for i in checked) and s,
                               "both next runs in the status file")
    for source_id, line, interval in (("a", line_a, 60), ("b", line_b, 120)):
        planned = at(status["next_checks"][source_id])
        assert abs((planned - checked[source_id]).total_seconds() - interval) < 2
        assert abs((at(field(line, "next")) - planned).total_seconds()) < 1
    assert status["state"] == "running" and status["scheduler"] == "running"
    assert status["last_outbox_run"]["ok"] is True

    code, _seconds = served.stop()
    assert code == 0
    assert len(site.hits("/a")) == len(site.hits("/b")) == 1


def test_a_failing_source_is_tried_again_after_a_backoff_up_to_its_interval_and_back_on_it_once_it_works(
        setup, services, site):
    site.set("/flaky", Reply(b"oops", status=500))
    setup.write(setup.source("flaky", "/flaky", interval=60), service='retry_backoff = "20s"')

    def planned(served: Served, line: str | None = None) -> tuple[float, int]:
        """(seconds from the last check to the next run in the status file, failures in a
        row); after a check, once the status file has the next run its log ``line`` gives."""
        with setup.store() as store:
            record = store.sources.get("flaky")
        status = served.wait_until(
            lambda: (s := served.my_status()) and "flaky" in s["next_checks"]
            and (line is None or s["next_checks"]["flaky"] == field(line, "next")) and s,
            "the next run in the status file")
        return (at(status["next_checks"]["flaky"]) - record.last_checked_at).total_seconds(), \
            record.consecutive_failures

    def check_once_more() -> tuple[float, int]:
        """Restart once the planned wait has passed (as the record tells it), so the
        service checks the source first thing; the plan it makes after that check."""
        served = start(setup, services)
        (line,) = served.checked("flaky")
        plan = planned(served, line)
        assert served.stop()[0] == 0
        return plan

    # A first failure: tried again retry_backoff later, not an interval later.
    wait, failures = check_once_more()
    assert failures == 1 and abs(wait - 20) < 2
    # A restart before then keeps that plan; it does not fetch at once.
    again = start(setup, services)
    assert abs(planned(again)[0] - 20) < 2 and "check source=flaky" not in again.log
    assert again.stop()[0] == 0

    # Failing on: the wait doubles, or is what the server asks when that is longer.
    setup.pretend_time_passed(21)
    site.set("/flaky", Reply(b"busy", status=503, headers={"Retry-After": "45"}))
    wait, failures = check_once_more()
    assert failures == 2 and abs(wait - 45) < 2  # backoff 40 s, Retry-After 45 s
    setup.pretend_time_passed(46)
    wait, failures = check_once_more()
    assert failures == 3 and abs(wait - 60) < 2  # 80 s of backoff, capped at the interval

    # It works again: back on its interval, and the backoff starts afresh.
    site.page("/flaky", plain_page("Flaky"))
    setup.pretend_time_passed(61)
    wait, failures = check_once_more()
    assert failures == 0 and abs(wait - 60) < 2
    site.set("/flaky", Reply(b"oops", status=500))
    setup.pretend_time_passed(61)
    wait, failures = check_once_more()
    assert failures == 1 and abs(wait - 20) < 2
    assert len(site.hits("/flaky")) == 5  # one request per check: nothing fetched while waiting


@pytest.fixture
def any_database(tmp_path, site, database_url):
    return Setup(tmp_path, site, database_url)


def test_a_relevant_change_is_emailed_once_and_restarts_neither_resend_nor_refetch(any_database, services, site):
    setup = any_database
    site.page("/code", code_page())
    with MailServer() as server:
        setup.write(setup.source("code", "/code", commitments="code-of-practice"), smtp_port=server.port)
        first = start(setup, services)
        first.my_status()
        assert f"mail: SMTP 127.0.0.1:{server.port} (none)" in first.out
        first.checked("code")
        assert first.stop()[0] == 0

        # A minute later the page has the revised code: the restarted service checks it at
        # once (its last check is an interval ago) and emails the development once.
        site.page("/code", code_page(attachments=REVISION))
        setup.pretend_time_passed(61)
        second = start(setup, services)
        (line,) = second.checked("code")
        assert "status=changed" in line and "developments=code-of-practice" in line
        second.wait_until(lambda: len(server.messages) == 1, "the email")
        assert server.messages[0]["Subject"].startswith("A revised SEND Code of Practice: 1 document added")
        assert server.messages[0]["To"] == "parent@example.org"
        assert second.stop()[0] == 0
        assert len(site.hits("/code")) == 2

        # Restarted at once: the source was checked seconds ago, so it is not fetched, and the
        # outbox (drained at start) has nothing to send again.
        third = start(setup, services)
        status = third.wait_until(lambda: (s := third.my_status()).get("last_outbox_run") and s, "an outbox run")
        with setup.store() as store:
            last = store.sources.get("code").last_checked_at
        assert abs((at(status["next_checks"]["code"]) - last).total_seconds() - 60) < 2
        assert status["last_outbox_run"]["sent"] == 0
        assert len(site.hits("/code")) == 2
        assert len(server.messages) == 1
        assert third.stop()[0] == 0
        assert "check source=code" not in third.log


def test_sigterm_with_a_check_in_flight_stops_within_the_bound(setup, services, site):
    site.page("/a", plain_page("Page A"))
    site.set("/hang", Reply(hang=True))
    setup.write(setup.source("a", "/a") + setup.source("hang", "/hang"), stop_timeout=2)
    served = start(setup, services)
    served.checked("a")
    served.wait_until(lambda: site.hits("/hang"), "the hanging request")
    served.wait_until(lambda: setup.status_file().get("checks_in_flight") == ["hang"], "the check in flight")

    code, seconds = served.stop()
    assert code == 0
    assert seconds < 2 + 2.5, f"took {seconds:.1f} s to stop with stop_timeout = 2"
    assert "check source=hang status=cancelled" in served.log
    assert "Traceback" not in served.log
    with setup.store() as store:
        assert store.history.checks("hang") == []  # nothing half-recorded: it runs first after a restart
        assert store.sources.get("hang").last_checked_at is None
    status = setup.status_file()
    assert status["state"] == "stopped" and status["stopped_at"]


def test_sighup_reloads_the_config_and_a_bad_one_is_refused(setup, services, site):
    site.page("/a", plain_page("Page A"))
    site.page("/b", plain_page("Page B"))
    setup.write(setup.source("a", "/a"))
    served = start(setup, services)
    served.checked("a")

    # A new source, and a new interval for the old one.
    setup.write(setup.source("a", "/a", interval=180) + setup.source("b", "/b"))
    served.signal(signal.SIGHUP)
    served.checked("b")
    assert "reload status=ok sources=2 added=b rescheduled=a" in served.log
    status = served.wait_until(lambda: (s := served.my_status()).get("last_reload") and s, "the reload")
    with setup.store() as store:
        last_a = store.sources.get("a").last_checked_at
    assert abs((at(status["next_checks"]["a"]) - last_a).total_seconds() - 180) < 2
    assert len(site.hits("/a")) == 1

    # A config that does not validate changes nothing.
    setup.path.write_text(setup.path.read_text().replace("interval = 180", "interval = 5"))
    served.signal(signal.SIGHUP)
    served.wait_until(lambda: "reload status=failed" in served.log, "the refused reload")
    assert "must be at least 60 seconds" in served.log and "keeping the configuration in use" in served.log
    assert served.process.poll() is None
    status = served.wait_until(lambda: (s := served.my_status())["last_reload"]["ok"] is False and s,
                               "the refused reload in the status file")
    assert set(status["next_checks"]) == {"a", "b"}
    assert served.stop()[0] == 0


def test_a_followed_source_stored_with_bad_settings_does_not_stop_the_other_followed_ones(
        setup, services, site):
    site.page("/a", plain_page("Page A"))
    site.page("/report", plain_page("A report"))
    setup.write(setup.source("a", "/a"))
    assert setup.sendwatch("check").returncode == 0  # creates the database
    stored_followed_source(setup.database_url, "followed-alert-1-0000aaaa", "javascript:alert(1)")
    stored_followed_source(setup.database_url, "followed-report-0000cccc", site.url("/report"))

    served = start(setup, services)
    (line,) = served.checked("followed-report-0000cccc")
    assert "status=first" in line
    skipped = [x for x in served.log.splitlines() if "skipping followed source followed-alert-1-0000aaaa" in x]
    assert skipped and "is not an http:// or https:// URL" in skipped[0]
    assert "Traceback" not in served.log
    assert served.stop()[0] == 0


def test_status_reports_the_running_service_and_then_that_it_stopped(setup, services, site):
    site.page("/a", plain_page("Page A"))
    site.page("/gone", "nothing here", status=404)
    setup.write(setup.source("a", "/a") + setup.source("gone", "/gone"))

    before = setup.sendwatch("status")
    assert before.returncode == 1
    assert "service: not running" in before.stdout

    served = start(setup, services)
    served.checked("a")
    served.checked("gone")
    served.my_status()

    now = setup.sendwatch("status")
    assert now.returncode == 0, now.stdout + now.stderr
    assert f"service: running (pid {served.process.pid}" in now.stdout
    assert "sources: 2 (1 ok, 1 failing)" in now.stdout
    assert "failing: gone (1 failure(s) in a row): HTTP 404" in now.stdout
    assert "next checks:" in now.stdout and now.stdout.rstrip().endswith("healthy")

    report = json.loads(setup.sendwatch("status", "--json").stdout)
    assert report["healthy"] is True and report["service"]["running"] is True
    assert report["database"]["reachable"] is True
    assert {n["source"] for n in report["next_checks"]} == {"a", "gone"}
    assert report["outbox"] == {"pending": 0, "failed": 0, "held_for_digests": 0, "late": 0}

    # The dashboard's /healthz carries the scheduler's own account.
    dashboard = served.out.split("dashboard: ", 1)[1].split()[0]
    health = httpx.get(dashboard + "healthz", timeout=10).json()
    assert health["scheduler"] == "running" and health["jobs"] == 5
    assert set(health["next_checks"]) == {"a", "gone"}

    assert served.stop()[0] == 0
    after = setup.sendwatch("status")
    assert after.returncode == 1
    assert "service: not running (stopped at" in after.stdout
    assert "unhealthy: the service is not running" in after.stdout


def make_database_go_away(database_url: str) -> None:
    """PostgreSQL: the database is dropped under the service. SQLite, whose open
    connections keep even a deleted file: the table of checks is dropped."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE checks"))
    else:
        engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
    engine.dispose()


def test_a_database_gone_while_serving_costs_one_log_line_per_failed_check(any_database, services, site):
    setup = any_database
    answer = threading.Event()  # the page is served once the database has gone
    site.set("/a", Reply(body=lambda: (answer.wait(DEADLINE), plain_page("Page A").encode())[1]))
    setup.write(setup.source("a", "/a"))
    served = start(setup, services)
    served.wait_until(lambda: site.hits("/a"), "the check's request")
    make_database_go_away(setup.database_url)
    answer.set()

    (line,) = served.checked("a")
    assert "status=error" in line and 'outcome="not recorded: OperationalError: ' in line, line
    served.signal(signal.SIGHUP)  # a reload needs the database too: where it has gone, one line
    served.wait_until(lambda: "reload status=" in served.log, "the reload")
    assert "Traceback" not in served.log and "[SQL" not in served.log, served.log
    assert served.process.poll() is None  # the service goes on: the next run tries again


def test_status_does_not_count_a_source_never_checked_as_ok(sendwatch, site, tmp_path, database_url):
    site.page("/a", plain_page("Page A"))
    site.page("/gone", "nothing here", status=404)
    sources = "".join(f'[[source]]\nid = "{name}"\nurl = "{site.url("/" + name)}"\n' for name in ("a", "gone", "later"))
    (tmp_path / "sendwatch.toml").write_text(config_head(database_url) + sources)
    assert sendwatch("check", "a", "gone").code == 0
    result = sendwatch("status")
    assert "sources: 3 (1 ok, 1 failing, 1 not checked yet)" in result.out, result.out
    report = json.loads(sendwatch("status", "--json").out)
    assert (report["sources"]["ok"], report["sources"]["failing"], report["sources"]["never_checked"]) == (1, 1, 1)


def test_status_knows_a_killed_service_is_not_running(setup, services, site):
    site.page("/a", plain_page("Page A"))
    setup.write(setup.source("a", "/a"))
    served = start(setup, services)
    served.checked("a")
    served.my_status()
    served.kill()  # SIGKILL: no chance to write "stopped"
    result = setup.sendwatch("status")
    assert result.returncode == 1
    assert "it stopped without saying so" in result.stdout


def test_a_signal_during_start_up_stops_the_service_cleanly(tmp_path):
    """SIGTERM before the scheduler is up (here: as soon as the process exists) is not a
    crash: the service starts, stops at once, and exits 0."""
    config = tmp_path / "sendwatch.toml"
    # Its own data directory: the default is the user's, where a real service may be running.
    config.write_text(f'data_dir = "{tmp_path / "data"}"\ndatabase_url = "sqlite:///{tmp_path / "db.sqlite"}"\n'
                      '[web]\nenabled = false\n')
    process = subprocess.Popen([sys.executable, "-m", "monitor.app.cli", "--config", str(config), "serve"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()  # the service says it is starting before it opens anything
    assert "starting pid=" in first, first
    process.send_signal(signal.SIGHUP)  # a reload asked for too early is harmless
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert (tmp_path / "data" / "status.json").exists()


# Put first on a child's PYTHONPATH, this stops the import of monitor.app.cli (the slow part of
# starting: every library sendwatch uses) until the test writes a line to the child's
# standard input: a signal sent in that pause is sent in the middle of start-up.
PAUSE_LOADING = """
import sys

class PauseLoading:
    def find_spec(self, name, path=None, target=None):
        if name == "monitor.app.cli":
            sys.meta_path.remove(self)
            sys.stderr.write("test: loading monitor.app.cli\\n")
            sys.stderr.flush()
            sys.stdin.readline()

sys.meta_path.insert(0, PauseLoading())
"""


class Starting:
    """``sendwatch serve`` as a process (``python -m monitor``, what the ``sendwatch``
    command runs), its data, config and home in ``tmp_path``, its log in a file."""

    def __init__(self, tmp_path: Path, *, pause: bool, command: tuple[str, ...] = ("serve",)) -> None:
        config = tmp_path / "sendwatch.toml"
        config.write_text(f'data_dir = "{tmp_path / "data"}"\n[web]\nenabled = false\n', encoding="utf-8")
        paths = [str(tmp_path / "pause")] if pause else []
        if pause:
            (tmp_path / "pause").mkdir()
            (tmp_path / "pause" / "sitecustomize.py").write_text(PAUSE_LOADING, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
        env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "xdg"),
                   PYTHONPATH=os.pathsep.join(filter(None, [*paths, str(ROOT), os.environ.get("PYTHONPATH")])))
        self.err_path = tmp_path / "serve.err"
        with open(self.err_path, "w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), *command],
                                            cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=err, text=True)

    @property
    def log(self) -> str:
        return self.err_path.read_text()

    def wait_for(self, text: str) -> None:
        end = time.monotonic() + DEADLINE
        while text not in self.log:
            assert self.process.poll() is None, f"exited ({self.process.returncode}) before {text!r}\n{self.log}"
            assert time.monotonic() < end, f"no {text!r} in the log\n{self.log}"
            time.sleep(0.02)

    def go_on(self) -> None:
        self.process.stdin.write("\n")
        self.process.stdin.close()

    def end(self) -> int:
        try:
            return self.process.wait(DEADLINE)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


@pytest.mark.parametrize("pause", [True, False], ids=["while-loading", "after-its-first-line"])
def test_a_sighup_during_start_up_is_kept_and_reloads_once_started(tmp_path, pause):
    starting = Starting(tmp_path, pause=pause)
    starting.wait_for("test: loading monitor.app.cli" if pause else "starting pid=")
    starting.process.send_signal(signal.SIGHUP)
    if pause:
        starting.go_on()
    starting.wait_for("reload status=ok")
    assert starting.process.poll() is None  # reloaded, and running
    starting.process.send_signal(signal.SIGTERM)
    assert starting.end() == 0, starting.log
    assert "Traceback" not in starting.log, starting.log


def test_a_sigterm_while_loading_stops_the_service_cleanly_once_started(tmp_path):
    starting = Starting(tmp_path, pause=True)
    starting.wait_for("test: loading monitor.app.cli")
    starting.process.send_signal(signal.SIGTERM)
    starting.go_on()
    assert starting.end() == 0, starting.log
    assert "stop reason=SIGTERM" in starting.log
    assert "Traceback" not in starting.log


def test_other_commands_keep_the_default_effect_of_a_signal_that_came_while_loading(tmp_path):
    starting = Starting(tmp_path, pause=True, command=("sources",))
    starting.wait_for("test: loading monitor.app.cli")
    starting.process.send_signal(signal.SIGTERM)
    starting.go_on()
    assert starting.end() == -signal.SIGTERM  # as before: only serve keeps it for later


def test_a_second_service_on_the_same_data_directory_is_refused(setup, services, site):
    site.page("/a", plain_page("Page A"))
    setup.write(setup.source("a", "/a"))
    first = start(setup, services)
    first.checked("a")
    second = setup.serve()
    services.append(second)
    code = second.process.wait(timeout=DEADLINE)
    assert code == 1
    assert "another sendwatch serve" in second.log and "is running with the data directory" in second.log
    assert first.process.poll() is None  # the first goes on, and its status file is intact
    assert first.my_status()["pid"] == first.process.pid


def test_a_refused_second_service_writes_nothing_to_the_database(setup, services, site):
    site.page("/a", plain_page("Page A"))
    site.page("/b", plain_page("Page B"))
    setup.write(setup.source("a", "/a") + setup.source("b", "/b"))
    first = start(setup, services)
    first.checked("a")
    first.checked("b")
    with setup.store() as store:
        before = {s.id: (s.url, s.active, s.current_snapshot_id) for s in store.sources.all(include_inactive=True)}

    # The same data directory, another config: "a" moved, "b" gone.
    setup.write(setup.source("a", "/a-moved"))
    second = setup.serve()
    services.append(second)
    assert second.process.wait(timeout=DEADLINE) == 1
    assert "another sendwatch serve" in second.log
    with setup.store() as store:
        after = {s.id: (s.url, s.active, s.current_snapshot_id) for s in store.sources.all(include_inactive=True)}
    assert after == before  # "b" still active, "a" keeps its URL and its baseline
    assert first.process.poll() is None


def test_a_second_service_on_the_same_database_is_refused_whatever_its_data_directory(any_database, services,
                                                                                        site, tmp_path):
    site.page("/a", plain_page("Page A"))
    any_database.write(any_database.source("a", "/a"))
    first = start(any_database, services)
    first.checked("a")

    other = Setup(tmp_path / "elsewhere", site, any_database.database_url)
    other.tmp_path.mkdir()
    other.write(other.source("a", "/a-moved"))
    second = other.serve()
    services.append(second)
    assert second.process.wait(timeout=DEADLINE) == 1
    assert "another sendwatch serve is running on the database" in second.log
    with any_database.store() as store:
        assert store.sources.get("a").url == site.url("/a") and store.sources.state("a").snapshot_id is not None
    first.stop()
    third = other.serve()  # once the first has stopped, the database is free
    services.append(third)
    assert third.my_status()["pid"] == third.process.pid


def test_under_systemd_the_service_says_ready_once_it_keeps_signals_and_stopping_when_it_stops(setup, services,
                                                                                               site):
    import socket
    import tempfile

    site.page("/a", plain_page("Page A"))
    setup.write(setup.source("a", "/a"))
    folder = tempfile.mkdtemp(prefix="sw-", dir="/tmp")  # a socket's path must be short
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(f"{folder}/notify")
    listener.settimeout(DEADLINE)
    setup.env["NOTIFY_SOCKET"] = f"{folder}/notify"
    try:
        served = start(setup, services)
        ready = listener.recv(4096).decode()
        assert ready.startswith("READY=1\n") and "STATUS=watching 1 source(s)" in ready
        served.signal(signal.SIGHUP)  # what systemd's reload sends once it knows the service is ready
        served.wait_until(lambda: "reload status=ok" in served.log, "the reload")
        assert served.stop()[0] == 0
        assert listener.recv(4096) == b"STOPPING=1"
    finally:
        listener.close()
        os.unlink(f"{folder}/notify")
        os.rmdir(folder)


def test_a_ctrl_c_while_a_command_loads_ends_it_in_one_line(tmp_path):
    starting = Starting(tmp_path, pause=True, command=("sources",))
    starting.wait_for("test: loading monitor.app.cli")
    starting.process.send_signal(signal.SIGINT)
    starting.go_on()
    assert starting.end() == 130
    assert "sendwatch: interrupted" in starting.log and "Traceback" not in starting.log


def test_a_stop_that_cuts_off_a_send_puts_the_email_back_for_the_next_start(setup, services, site):
    # The mail server accepts the connection and never answers; the stop cannot wait for
    # it. The email must not stay claimed for the five-minute lease after the next start.
    from storage.models import NotificationRecord

    site.page("/code", code_page())
    with SilentServer() as server:
        setup.write(setup.source("code", "/code", commitments="code-of-practice"), smtp_port=server.port,
                    stop_timeout=2)
        first = start(setup, services)
        first.checked("code")
        assert first.stop()[0] == 0
        site.page("/code", code_page(attachments=REVISION))
        setup.pretend_time_passed(61)
        second = start(setup, services)
        second.checked("code")

        def statuses():
            engine = create_engine(setup.database_url)
            try:
                with engine.connect() as conn:
                    return [(row.status, row.attempts) for row in conn.execute(NotificationRecord.__table__.select())]
            finally:
                engine.dispose()

        second.wait_until(lambda: ("sending", 1) in statuses(), "the email being sent")
        code, seconds = second.stop()
        assert code == 0 and seconds < 10
        assert statuses() == [("pending", 0)]  # as it was before the cut-off attempt


def test_a_burst_of_checks_parses_pages_in_a_worker_process_that_ends_with_the_service(setup, services, site):
    # Six sources due at once (jitter 0): from the third check in flight on, pages go to a worker.
    for n in range(6):
        site.page(f"/p{n}", plain_page(f"Page {n}"))
    setup.write("".join(setup.source(f"p{n}", f"/p{n}") for n in range(6)))
    setup.path.write_text("workers = 2\n" + setup.path.read_text())
    served = start(setup, services)
    for n in range(6):
        (line,) = served.checked(f"p{n}")
        assert "status=first" in line, line
    started = served.wait_until(lambda: re.findall(r"worker process (\d+) started", served.log),
                                "a worker process")
    assert len(started) == 1  # workers = 2: the service's process and one worker

    code, _seconds = served.stop()
    assert code == 0
    assert "Traceback" not in served.log
    with pytest.raises(ProcessLookupError):  # it ended with the service, which waited for it
        os.kill(int(started[0]), 0)
