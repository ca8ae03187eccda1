"""The running service behind ``sendwatch serve`` (and the demo).

One asyncio loop holds the whole service:

- an APScheduler ``AsyncIOScheduler`` with one job per source (configured, and followed
  when ``[ledger] follow`` is on), each at its own interval plus a random jitter. One
  source is never checked twice at once (``max_instances=1``); runs missed while the
  machine slept or the loop was busy are coalesced into one, which still happens however
  late (``misfire_grace_time`` = the interval: a coalesced run is never later than that).
  A source whose check failed is not left until its next interval: it runs again
  ``[service] retry_backoff`` later, twice that after a second failure in a row, and so
  on, never later than one interval (``retry_wait``); a check that succeeds puts it back
  on its interval, counted from that check;
- the outbox sender, every ``outbox_every`` and straight after a check that wrote to it, so that an
  email about a development does not wait for the next tick (``send_due`` also makes
  the digests that are due); it runs in a thread, as it talks SMTP synchronously;
- overdue events and reminders, every ``ledger_every``;
- a heartbeat that rewrites the status file;
- the dashboard (``monitor.app.web``) under uvicorn, when ``[web] enabled``.

All checks share one ``Fetcher`` (so the per-host limits hold across sources) for the
service's lifetime: a change to ``[fetch]``, ``[web]``, ``data_dir`` or ``database_url``
takes a restart; everything else is picked up by SIGHUP.

**Restarts do not re-fetch everything.** The next run of a source is not kept anywhere:
the database already records when each source was last checked, and the next run
follows from it: ``last_checked_at + interval + random(0, jitter)``, or, when its last
checks failed, ``last_checked_at`` + the retry wait for that many failures. A source never
checked, or overdue (the service was down), runs at ``now + random(0, jitter)``, so a
restart after a long stop spreads the backlog over the jitter instead of fetching
everything at once. APScheduler's SQLAlchemyJobStore would persist the same times, but it
pickles the jobs (tying rows to this module's code) and would have to be reconciled with
the config anyway, which is the truth about what is watched and how often.

**The status file** (``monitor.app.status``) is rewritten at start, after each check,
outbox run and reload, every ``HEARTBEAT`` seconds by a scheduler job (so a stuck
scheduler shows as a stale heartbeat), and once more on stop.

**Stopping.** SIGTERM or SIGINT: no new checks start; checks in flight get until
``stop_timeout`` (less a reserve for what follows) to finish, then are cancelled (a
cancelled check records nothing: it runs again first thing after a restart); the outbox
is flushed once; the web server stops; exit status 0. A second signal cancels the
checks at once. SIGHUP reloads the config; a config that does not load is logged and
the running one kept.

Each check logs one line at INFO on standard error, in logfmt::

    check source=send-code-of-practice status=changed duration_ms=412 bytes=48213 \
next=2026-03-02T14:05:11Z developments=code-of-practice outcome="change note: 'Revised code'"
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING, STATE_STOPPED
from apscheduler.triggers.interval import IntervalTrigger

from config import ConfigError, SendwatchError, Settings, SourceSettings, load_settings
from monitor.app.check import CheckResult, check_source, followed_sources, record_due_events, worker_processes
from monitor.app.crew import Crew, crew_status
from monitor.app.launch import hold_signals
from monitor.app.outbox import SendReport, send_due
from monitor.app.pool import WorkerPool
from monitor.app.sdnotify import sd_notify
from monitor.app.status import HEARTBEAT, read_status_file, shown_url, status_path, write_status_file
from monitor.app.subscribers import synced
from monitor.core.errors import describe
from monitor.core.instants import iso
from monitor.core.schedule import next_check, retry_wait
from monitor.sources import KINDS, READS, Offload, in_process
from monitor.sources.fetch import Fetcher
from storage import Store
from storage.locking import ServiceLock

if TYPE_CHECKING:
    import uvicorn  # loaded when the dashboard starts: a tenth of start-up

log = logging.getLogger("sendwatch.service")

STATUS_MIN_GAP = 1.0  # seconds between status file writes caused by checks

CHECK_JOB = "check:"  # job id prefix of the source checks
SERVICE_POOL_AT = 3  # checks in flight at once before the service starts a worker process
SERVICE_POOL_IDLE = 60.0  # seconds a worker process waits for more pages before it ends
EXIT_OK, EXIT_ERROR = 0, 1


class ServiceError(SendwatchError):
    """The service cannot start; the message is for the person who started it."""


# -- small pieces ------------------------------------------------------------------------------


def logfmt(what: str, /, **fields: Any) -> str:
    """``what key=value ...``; values with spaces, quotes or ``=`` are quoted; None is left out."""
    parts = [what]
    for key, value in fields.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else str(value)
        if text == "" or any(ch in text for ch in ' "=\\') or not text.isprintable():
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def mail_line(settings: Settings) -> str:
    smtp = settings.email.smtp
    if smtp is not None:
        return f"mail: SMTP {smtp.host}:{smtp.effective_port} ({smtp.security})"
    return f"mail: no SMTP configured: mail is delivered to the Maildir at {settings.email.maildir}"


def _in_thread(func: Callable, *args) -> asyncio.Future:
    """Run a blocking call in a daemon thread. Not the loop's default executor: its
    threads are joined at exit, so one stuck SMTP exchange could hold a stop past its bound."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the waiter gave up (a timeout on stop)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def target() -> None:
        result, error = None, None
        try:
            result = func(*args)
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=target, name=getattr(func, "__name__", "worker"), daemon=True).start()
    return future


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


# -- the service -------------------------------------------------------------------------------


class Service:
    """The scheduler, the outbox sender and the dashboard over one Store.

    ``run()`` is ``sendwatch serve``. The demo drives the same object step by step:
    ``start()``, ``check_now()``, ``settle()``, ``flush_outbox()``, ``stop()``.
    """

    def __init__(self, settings: Settings, store: Store, *, config: str | os.PathLike | None = None,
                 env: Mapping[str, str] | None = None, say: Callable[[str], None] | None = None,
                 crew: int = 0, verbose: bool = False) -> None:
        self.config = config
        # ``serve --workers N``: N worker processes on PostgreSQL do the checks, the outbox and
        # the ledger (monitor.app.crew, monitor.app.tasks); this process keeps the dashboard.
        self.crew_size = crew
        self.crew: Crew | None = None
        self.verbose = verbose
        self.env = os.environ if env is None else env
        self.settings = settings
        self.store = store
        self.say = say or (lambda text: print(text, flush=True))
        self.state = "starting"
        self.started_at: datetime | None = None
        self.dashboard: str | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.fetcher: Fetcher | None = None
        self.workers: WorkerPool | None = None  # worker processes that parse pages
        self.sources: dict[str, SourceSettings] = {}
        self.last_outbox: dict | None = None
        self.last_ledger: dict | None = None
        self.last_reload: dict | None = None
        self._web_note = ""  # why there is no dashboard, or how it listens
        self._web: uvicorn.Server | None = None
        self._web_socket: socket.socket | None = None
        self._web_task: asyncio.Task | None = None
        self._stop_requested = asyncio.Event()
        self._hurry = asyncio.Event()
        self._checks: dict[str, asyncio.Task] = {}  # source id -> its check in flight
        self._jobs_busy: dict[str, int] = {}  # job id -> runs submitted and not yet finished
        self._outbox_task: asyncio.Task | None = None
        self._outbox_report: SendReport | None = None  # the sender's run under way, if any
        self._outbox_again = False
        self._status_error_logged = False
        self.early_signals: list[signal.Signals] = []  # noted before the handlers were in place
        self._reload_when_started = False  # a SIGHUP came while the config in use was being read
        self._status_written_at = 0.0  # time.monotonic() of the last status file write
        self._status_pending: asyncio.TimerHandle | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> int:
        """``sendwatch serve``: start, run until SIGTERM or SIGINT, stop gracefully."""
        self.install_signal_handlers()
        for sig in self.early_signals:
            if sig in (signal.SIGTERM, signal.SIGINT):
                self.request_stop(sig.name)
            elif sig == signal.SIGHUP:
                self._reload_when_started = True
        try:
            try:
                await self.start()
            except ServiceError as exc:
                print(f"sendwatch: {exc}", file=sys.stderr)
                await self.stop()
                return EXIT_ERROR
            if self._reload_when_started and not self._stop_requested.is_set():
                self.reload()
            await self._stop_requested.wait()
            await self.stop()
        finally:
            self.remove_signal_handlers()
        return EXIT_OK

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    def request_stop(self, reason: str = "a request") -> None:
        if self._stop_requested.is_set():
            log.warning(logfmt("stop", reason=reason, outcome="asked again: cancelling checks in flight now"))
            self._hurry.set()
            return
        log.info(logfmt("stop", reason=reason,
                        outcome=f"stopping: checks in flight get up to {self.settings.service.stop_timeout:g} s"))
        self._stop_requested.set()

    @property
    def stop_requested(self) -> asyncio.Event:
        return self._stop_requested

    @property
    def _scheduler(self) -> AsyncIOScheduler:
        """The scheduler, which ``start()`` makes before anything is scheduled."""
        if self.scheduler is None:
            raise ServiceError("the service has not started")
        return self.scheduler

    @property
    def _fetcher(self) -> Fetcher:
        """The fetcher, which ``start()`` opens before any check runs."""
        if self.fetcher is None:
            raise ServiceError("the service has not started")
        return self.fetcher

    async def start(self) -> None:
        self.started_at = datetime.now(UTC)
        # Both locks before any write: a service refused because another runs must not
        # migrate, or sync its own sources into, the database the other one uses.
        self._hold_data_dir_lock()
        if self.crew_size:
            if self.store.engine.dialect.name != "postgresql":
                raise ServiceError("serve --workers needs PostgreSQL (database_url); on SQLite sendwatch serve "
                                   "runs in one process")
            # Shared with every worker, on any machine; exclusive for a one-process serve.
            self.store.service_lock = ServiceLock(self.store.engine, shared=True)
        if not self.store.service_lock.acquire():
            raise ServiceError(f"another sendwatch serve is running on the database "
                               f"{shown_url(self.settings.database)}"
                               f"{'' if self.crew_size else ', or sendwatch workers are'}; stop it first")
        self.store.migrate()
        self.store.sources.sync(self.settings.sources, READS)
        self.settings = synced(self.settings, self.store)
        app = self._make_web_app()  # binds the port first: a busy port fails the start
        self.fetcher = Fetcher(self.settings.fetch)
        await self.fetcher.__aenter__()
        if self.crew_size:
            self.crew = Crew(self.crew_size, self.config, verbose=self.verbose)
        elif (processes := worker_processes(self.settings)) >= 1:
            # Checks come one at a time, spread over the interval: a worker starts only when
            # several pages are read at once, and ends after a minute with nothing to do.
            self.workers = WorkerPool(processes, idle_after=SERVICE_POOL_IDLE)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_listener(self._job_event,
                                    EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self._schedule_housekeeping(first=True)
        self._sync_source_jobs()
        if app is not None and self._web_socket is not None:  # an app is made only once the port is bound
            self._start_web(app, self._web_socket)
        self.scheduler.start()
        if self.crew is not None:
            await self.crew.start()
        self.state = "running"
        configured = sum(1 for s in self.sources.values() if self._is_configured(s.id))
        followed = len(self.sources) - configured
        self.say(f"sendwatch serve: watching {len(self.sources)} source(s) ({configured} configured, "
                 f"{followed} followed); config {self.settings.origin}; pid {os.getpid()}")
        if self.crew is not None:
            self.say(f"workers: {self.crew_size} process(es), pids {' '.join(map(str, self.crew.pids()))}; they "
                     f"check the sources and send the email (see: sendwatch status)")
        self.say(f"dashboard: {self.dashboard or ''}{self._web_note}")
        self.say(mail_line(self.settings))
        self.say(f"database: {shown_url(self.settings.database)}")
        self.say(f"status file: {status_path(self.settings)} (see: sendwatch status)")
        self._write_status()
        sd_notify(f"READY=1\nSTATUS=watching {len(self.sources)} source(s)", self.env)

    async def stop(self) -> None:
        """Stop within ``stop_timeout``: let checks finish or cancel them, flush the outbox
        once, stop the dashboard."""
        if self.state in ("stopping", "stopped"):
            return
        if self.scheduler is None:  # the start failed: nothing ran, and the status file may be another's
            if self._web_socket is not None:
                self._web_socket.close()
            self.state = "stopped"
            return
        self.state = "stopping"
        sd_notify("STOPPING=1", self.env)
        loop = asyncio.get_running_loop()
        bound = self.settings.service.stop_timeout
        began = loop.time()
        deadline = began + bound
        if self._web is not None:
            self._web.should_exit = True  # stops accepting at once; awaited at the end
        if self.scheduler.state == STATE_RUNNING:
            self.scheduler.pause()  # no new runs from here on
        self._write_status()

        # Checks in flight: finish if they can, keeping a little of the bound for the outbox.
        reserve = min(2.0, bound / 4)
        pending = {t for t in self._checks.values() if not t.done()}
        if pending:
            log.info(logfmt("stop", checks_in_flight=len(pending), waiting_s=f"{max(0.0, bound - reserve):.1f}"))
            hurry = asyncio.ensure_future(self._hurry.wait())
            while pending and not self._hurry.is_set():
                left = deadline - reserve - loop.time()
                if left <= 0:
                    break
                _done, pending = await asyncio.wait(pending | {hurry}, timeout=left,
                                                    return_when=asyncio.FIRST_COMPLETED)
                pending.discard(hurry)
            hurry.cancel()
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if self.scheduler.state != STATE_STOPPED:
            self.scheduler.shutdown(wait=False)
        if self.crew is not None:
            await self.crew.stop(timeout=max(0.5, deadline - loop.time()))

        # What the last checks queued goes out now, not after the next start.
        try:
            await asyncio.wait_for(self.flush_outbox(), timeout=max(0.5, deadline - loop.time()))
        except TimeoutError:
            # The sender is stuck in a wait that outlasts the stop: put back what it holds,
            # or it would stay claimed for the lease (five minutes) after the next start.
            sending = self._outbox_report.sending if self._outbox_report else None
            if sending is not None:
                try:
                    self.store.outbox.unclaim(*sending)
                except Exception as exc:  # the database gone: the lease puts it back later
                    log.warning(logfmt("outbox", status="unreleased", outcome=describe(exc)))
            log.warning(logfmt("outbox", status="interrupted",
                               outcome="the stop timeout came first; unsent mail stays in the outbox "
                                       "and goes out after the next start"))
        if self._web_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._web_task), timeout=max(0.5, deadline - loop.time()))
            except (TimeoutError, Exception):
                self._web_task.cancel()
        if self.fetcher is not None:
            await self.fetcher.__aexit__(None, None, None)
        if self.workers is not None:  # after the checks: each worker ends once its input closes
            await self.workers.close()
        self.state = "stopped"
        self._write_status()
        log.info(logfmt("stopped", after_s=f"{loop.time() - began:.1f}"))

    # -- the dashboard -----------------------------------------------------------------------

    def _make_web_app(self):
        web = self.settings.web
        if not web.enabled:
            self._web_note = "off ([web] enabled = false)"
            return None
        try:
            import uvicorn  # noqa: F401 (only to know now that it is there)

            from monitor.app.web import create_app
        except ImportError as exc:
            self._web_note = f"unavailable (monitor.app.web cannot be loaded: {exc})"
            log.warning(logfmt("dashboard", status="unavailable", outcome=str(exc)))
            return None
        try:
            self._web_socket = _listening_socket(web.host, web.port)
        except OSError as exc:
            raise ServiceError(f"cannot listen on {web.host}:{web.port} for the dashboard: "
                               f"{exc.strerror or exc}. Set [web] port (0 picks a free one), "
                               f"or [web] enabled = false.") from None
        try:
            app = create_app(lambda: self.settings, self.store, self.health)
        except Exception as exc:  # a broken dashboard must not take the checks down with it
            log.exception("the dashboard could not be created")
            self._web_note = f"unavailable (it failed to start: {exc})"
            self._web_socket.close()
            self._web_socket = None
            return None
        port = self._web_socket.getsockname()[1]
        shown = web.host
        if web.host in ("0.0.0.0", "::"):
            shown = "127.0.0.1"
            self._web_note = f" (listening on all addresses: {web.host}:{port})"
        elif ":" in web.host:
            shown = f"[{web.host}]"
        self.dashboard = f"http://{shown}:{port}/"
        return app

    def _start_web(self, app, listening: socket.socket) -> None:
        import uvicorn  # loaded already by _make_web_app

        class Server(uvicorn.Server):
            # The service owns SIGTERM, SIGINT and SIGHUP; uvicorn's own handlers would
            # replace them and re-raise the signal after its shutdown.
            @contextlib.contextmanager
            def capture_signals(self):
                yield

        # Behind a reverse proxy on the same machine (deploy/README.md), the client is the one
        # the proxy names in X-Forwarded-For: the sign-up limit is per real client, not per proxy.
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=2, proxy_headers=True, forwarded_allow_ips="127.0.0.1")
        self._web = Server(config)
        self._web_task = asyncio.get_running_loop().create_task(self._web.serve(sockets=[listening]))
        self._web_task.add_done_callback(self._web_ended)

    def _web_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or self.state != "running":
            return
        error = task.exception()
        log.error(logfmt("dashboard", status="stopped", outcome=f"{type(error).__name__}: {error}" if error
                         else "the web server stopped by itself"))

    # -- scheduling --------------------------------------------------------------------------

    def _trigger(self, seconds: float) -> IntervalTrigger:
        jitter = self.settings.service.jitter
        return IntervalTrigger(seconds=seconds, jitter=jitter or None, timezone=UTC)

    def _first_run(self, source: SourceSettings, last_checked_at: datetime | None, failures: int = 0) -> datetime:
        """The next run of a source from its last check (``monitor.core.schedule``)."""
        return next_check(source, self.settings.service, last_checked_at, failures, datetime.now(UTC),
                          random.uniform)

    def _wanted_sources(self) -> dict[str, SourceSettings]:
        wanted = [s for s in self.settings.sources if s.enabled]
        if self.settings.ledger.follow:
            try:
                wanted += [s for s in followed_sources(self.store) if s.enabled]
            except Exception:  # one odd row must not stop the configured sources
                log.exception("cannot read the followed sources")
        return {s.id: s for s in wanted}

    def _is_configured(self, source_id: str) -> bool:
        return any(s.id == source_id for s in self.settings.sources)

    def _sync_source_jobs(self) -> tuple[list[str], list[str], list[str]]:
        """Make the check jobs match the sources: (added, removed, rescheduled)."""
        wanted = self._wanted_sources()
        self.sources = wanted
        if self.crew_size:  # the workers queue the checks (monitor.app.tasks)
            return [], [], []
        jobs = {job.id[len(CHECK_JOB):]: job for job in self._scheduler.get_jobs() if job.id.startswith(CHECK_JOB)}
        removed = sorted(jobs.keys() - wanted.keys())
        for source_id in removed:
            jobs[source_id].remove()
        records = {r.id: r for r in self.store.sources.all(include_inactive=True)}
        added, rescheduled = [], []
        jitter = self.settings.service.jitter or None
        for source_id, source in wanted.items():
            job = jobs.get(source_id)
            record = records.get(source_id)
            first = self._first_run(source, record.last_checked_at if record else None,
                                    record.consecutive_failures if record else 0)
            if job is None:
                self._scheduler.add_job(self._check_job, self._trigger(source.interval), args=[source_id],
                                        id=CHECK_JOB + source_id, name=f"check {source_id}", next_run_time=first,
                                        coalesce=True, max_instances=1, misfire_grace_time=int(source.interval))
                added.append(source_id)
            elif (job.trigger.interval_length, job.trigger.jitter) != (source.interval, jitter):
                job.modify(trigger=self._trigger(source.interval), next_run_time=first,
                           misfire_grace_time=int(source.interval))
                rescheduled.append(source_id)
        return added, removed, rescheduled

    def _schedule_housekeeping(self, first: bool = False) -> None:
        """The outbox, the ledger and the heartbeat: (re)scheduled when their intervals change."""
        service = self.settings.service
        now = datetime.now(UTC)
        # A zero interval is allowed by the schema but would spin the scheduler.
        jobs: tuple[tuple[str, Callable[[], Any], float], ...] = (
            ("outbox", self._outbox_job, max(1.0, service.outbox_every)),
            ("ledger", self._ledger_job, max(1.0, service.ledger_every)),
            ("heartbeat", self._heartbeat, HEARTBEAT))
        if self.crew_size:  # the workers send the email and keep the ledger
            jobs = jobs[2:]
        for job_id, func, every in jobs:
            job = self._scheduler.get_job(job_id)
            if job is not None and job.trigger.interval_length == every:
                continue
            # At start the outbox and the ledger run at once: mail left over from before goes
            # out, and an overdue commitment is not kept waiting for a whole ledger_every.
            start = now if first and job_id != "heartbeat" else now + timedelta(seconds=every)
            self._scheduler.add_job(func, IntervalTrigger(seconds=every, timezone=UTC), id=job_id, name=job_id,
                                    next_run_time=start, replace_existing=True, coalesce=True, max_instances=1,
                                    misfire_grace_time=int(every))

    async def _heartbeat(self) -> None:
        # A coroutine, so it runs on the loop: a plain function would go to a thread pool.
        self._write_status()

    def _job_event(self, event) -> None:
        if event.code == EVENT_JOB_SUBMITTED:
            self._jobs_busy[event.job_id] = self._jobs_busy.get(event.job_id, 0) + 1
        elif self._jobs_busy.get(event.job_id):
            self._jobs_busy[event.job_id] -= 1

    def next_checks(self) -> dict[str, datetime | None]:
        if self.scheduler is None:
            return {}
        jobs = [j for j in self.scheduler.get_jobs() if j.id.startswith(CHECK_JOB)]
        jobs.sort(key=lambda j: (j.next_run_time is None, j.next_run_time or datetime.max.replace(tzinfo=UTC)))
        return {j.id[len(CHECK_JOB):]: j.next_run_time for j in jobs}

    # -- the jobs ----------------------------------------------------------------------------

    async def _check_job(self, source_id: str) -> CheckResult | None:
        source = self.sources.get(source_id)
        if source is None or self.state != "running":
            return None
        if (task := asyncio.current_task()) is not None:  # always, in a job APScheduler runs
            self._checks[source_id] = task
        clock = time.perf_counter()
        try:
            result = await check_source(source, self.store, self._fetcher, self.settings, workers=self._offload())
        except asyncio.CancelledError:
            # Cancelled by stop(), which awaits this task. Ending normally keeps APScheduler
            # from logging a cancellation it did not ask for as a job's crash.
            log.info(logfmt("check", source=source_id, status="cancelled",
                            duration_ms=int((time.perf_counter() - clock) * 1000), bytes=0,
                            outcome="stopped before it finished; nothing recorded, it runs again after a restart"))
            return None
        except Exception as exc:  # the database, most likely: the next run tries again
            # One line, like every other check: a traceback a minute while the database
            # is away would bury the log (--verbose still shows it).
            log.debug("check of %s could not be recorded", source_id, exc_info=True)
            log.error(logfmt("check", source=source_id, status="error",
                             duration_ms=int((time.perf_counter() - clock) * 1000), bytes=0,
                             outcome=f"not recorded: {describe(exc)}"))
            return None
        finally:
            self._checks.pop(source_id, None)
        job = self._scheduler.get_job(CHECK_JOB + source_id)
        if job is not None and result.outcome == "failed":
            # Sooner than its next interval: minutes after a first failure, backing off
            # while it keeps failing. A success puts it back on its interval, from then.
            wait = retry_wait(source, self.settings.service, result.failures, result.retry_after)
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=wait))
        log.info(logfmt("check", source=source_id, status=result.outcome, duration_ms=result.duration_ms,
                        bytes=result.size or 0, next=iso(job.next_run_time) if job else None,
                        developments=",".join(result.developments) or None,
                        followed=",".join(result.followed) or None,
                        outcome=result.error if result.outcome == "failed" else result.summary))
        if result.followed:
            self._sync_source_jobs()
        if result.queued:  # a development, a broken or a recovered source: tell people now
            self._kick_outbox()
        self._write_status_soon()
        return result

    def _offload(self) -> Offload:
        """Where a check parses its page: the worker processes in a burst of checks (or
        while one is up anyway), else this process: a lone check every few minutes does not
        repay starting a process."""
        if self.workers is not None and (self.workers.running or len(self._checks) >= SERVICE_POOL_AT):
            return self.workers
        return in_process

    def _kick_outbox(self) -> asyncio.Task:
        """Drain the outbox now; if a drain is under way, once more when it ends. Returns
        the drain's task."""
        if self._outbox_task is not None and not self._outbox_task.done():
            self._outbox_again = True
            return self._outbox_task
        self._outbox_task = asyncio.get_running_loop().create_task(self._drain_outbox())
        return self._outbox_task

    async def _outbox_job(self) -> None:
        self._kick_outbox()

    async def _drain_outbox(self) -> None:
        while True:
            self._outbox_again = False
            started = datetime.now(UTC)
            try:
                # Subscribers added or gone since (sendwatch subscribers, in another process)
                # reach the checks from here; the sender itself reads them on every run.
                audience = await _in_thread(self.store.subscribers.active)
                self.settings = self.settings.model_copy(update={"audience": tuple(audience)})
                self._outbox_report = SendReport()
                report = await _in_thread(partial(send_due, report=self._outbox_report), self.settings, self.store)
            except Exception as exc:  # the database gone, say: one line, the next run tries again
                log.error(logfmt("outbox", status="failed", outcome=describe(exc)))
                log.debug("outbox run failed", exc_info=True)
                self.last_outbox = {"at": iso(started), "ok": False, "error": describe(exc)}
            else:
                self.last_outbox = {"at": iso(started), "ok": True, "via": report.delivery,
                                    "sent": len(report.sent), "retrying": len(report.retrying),
                                    "failed": len(report.failed), "left": report.left, "digests": report.digests}
                if report.sent or report.retrying or report.failed or report.digests or report.left:
                    log.info(logfmt("outbox", sent=len(report.sent), retrying=len(report.retrying),
                                    failed=len(report.failed), left=report.left or None, digests=report.digests,
                                    via=report.delivery))
            self._write_status()
            if not self._outbox_again:
                return

    async def flush_outbox(self) -> None:
        """Send what is due now and wait for it (after a drain already under way)."""
        drain = self._kick_outbox()
        self._outbox_again = True  # a drain under way may have read the outbox before the last checks
        await asyncio.shield(drain)

    async def _ledger_job(self) -> None:
        started = datetime.now(UTC)
        try:
            events = await _in_thread(record_due_events, self.settings, self.store)
        except asyncio.CancelledError:
            # Cancelled by stop() (APScheduler's shutdown): the next start runs it again.
            # Ending normally keeps APScheduler from logging it as the job's crash.
            log.info(logfmt("ledger", status="cancelled",
                            outcome="stopped before it finished; it runs at the next start"))
            return
        except Exception as exc:
            log.error(logfmt("ledger", status="failed", outcome=describe(exc)))
            log.debug("ledger run failed", exc_info=True)
            self.last_ledger = {"at": iso(started), "ok": False, "error": describe(exc)}
            return
        self.last_ledger = {"at": iso(started), "ok": True, "events": len(events)}
        for event in events:
            log.info(logfmt("ledger", commitment=event.commitment_id, event=event.kind))
        if events:
            self._kick_outbox()
        if self.state == "running":
            self._sync_source_jobs()  # followed sources, should one have been added elsewhere

    # -- reloading ---------------------------------------------------------------------------

    def reload(self) -> bool:
        """Read the config again (SIGHUP). A config that does not load changes nothing."""
        at = iso(datetime.now(UTC))
        if self.state == "starting":
            self._reload_when_started = True  # the file may have changed since it was read
            return False
        if self.state != "running":
            return False
        try:
            fresh = load_settings(self.config, env=self.env, kinds=KINDS)
            old = self.settings
            needs_restart = [name for name, a, b in (
                ("database_url", old.database_url, fresh.database_url), ("data_dir", old.data_dir, fresh.data_dir),
                ("[fetch]", old.fetch, fresh.fetch), ("[web]", old.web, fresh.web)) if a != b]
            # Those are bound to what is open (the database, the fetcher, the socket): keep them.
            fresh = fresh.model_copy(update={"database_url": old.database_url, "data_dir": old.data_dir,
                                             "fetch": old.fetch, "web": old.web})
            self.store.sources.sync(fresh.sources, READS)
            fresh = synced(fresh, self.store)
        except ConfigError as exc:
            log.error(logfmt("reload", status="failed", outcome=f"{exc}; keeping the configuration in use"))
            self.last_reload = {"at": at, "ok": False, "error": str(exc)}
            self._write_status()
            return False
        except Exception as exc:
            log.error(logfmt("reload", status="failed", outcome=f"{describe(exc)}; keeping the configuration in use"))
            log.debug("reload failed", exc_info=True)
            self.last_reload = {"at": at, "ok": False, "error": describe(exc)}
            return False
        self.settings = fresh
        if self.crew is not None:
            self.crew.signal(signal.SIGHUP)  # each worker reads the config again
        self._schedule_housekeeping()
        added, removed, rescheduled = self._sync_source_jobs()
        log.info(logfmt("reload", status="ok", sources=len(self.sources), added=",".join(added) or None,
                        removed=",".join(removed) or None, rescheduled=",".join(rescheduled) or None,
                        needs_restart=",".join(needs_restart) or None))
        self.last_reload = {"at": at, "ok": True, "added": added, "removed": removed, "rescheduled": rescheduled,
                            "needs_restart": needs_restart}
        self._write_status()
        return True

    # -- for the demo ------------------------------------------------------------------------

    def check_now(self, source_ids=None) -> None:
        """Move the next run of these sources (default: all) to now, as if their time had come."""
        now = datetime.now(UTC)
        for job in self._scheduler.get_jobs():
            if job.id.startswith(CHECK_JOB) and (source_ids is None or job.id[len(CHECK_JOB):] in source_ids):
                job.modify(next_run_time=now)

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until no check is running or due, and the outbox is idle."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            soon = datetime.now(UTC) + timedelta(seconds=0.2)
            due = any(when is not None and when <= soon for when in self.next_checks().values())
            busy = any(n for job_id, n in self._jobs_busy.items() if job_id.startswith(CHECK_JOB))
            sending = self._outbox_task is not None and not self._outbox_task.done()
            if not (due or busy or sending or self._checks):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"checks still running after {timeout:g} s")

    # -- health and status -------------------------------------------------------------------

    def health(self) -> dict:
        """For the dashboard's /healthz and the status file."""
        scheduler = "stopped"
        if self.scheduler is not None:
            scheduler = {STATE_RUNNING: "running", STATE_PAUSED: "paused"}.get(self.scheduler.state, "stopped")
        next_checks = self.next_checks()
        jobs = len(self.scheduler.get_jobs()) if self.scheduler is not None and scheduler != "stopped" else 0
        return {
            "ok": self.state == "running" and scheduler == "running" and (self.crew is None or bool(self.crew.pids())),
            "state": self.state,
            "scheduler": scheduler,
            "jobs": jobs,
            "sources": len(self.sources),
            "checks_in_flight": sorted(self._checks),
            "started_at": iso(self.started_at),
            "next_checks": {source_id: iso(when) for source_id, when in next_checks.items()},
            "last_outbox_run": self.last_outbox,
            "last_ledger_run": self.last_ledger,
            "last_reload": self.last_reload,
            **self._crew_health(),
        }

    def _crew_health(self) -> dict:
        if self.crew is None:
            return {}
        try:
            shared = crew_status(self.store.engine, self.settings.cluster.lost_after)
        except Exception as exc:  # the database away: the rest of the health still reads
            shared = {"error": describe(exc)}
        return {"crew": {"processes": self.crew.pids(), "restarts": self.crew.restarts, **(shared or {})}}

    def _write_status_soon(self) -> None:
        """After a check: the status file lists every source's next run, so rewriting it
        after each of a thousand checks would cost a thousand times a thousand entries. At
        most one write a second; a check in between is covered by the next write."""
        elapsed = time.monotonic() - self._status_written_at
        if elapsed >= STATUS_MIN_GAP:
            self._write_status()
        elif self._status_pending is None:
            def write() -> None:
                self._status_pending = None
                self._write_status()

            self._status_pending = asyncio.get_running_loop().call_later(STATUS_MIN_GAP - elapsed, write)

    def _write_status(self) -> None:
        self._status_written_at = time.monotonic()
        data = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "heartbeat_at": iso(datetime.now(UTC)),
            "stopped_at": iso(datetime.now(UTC)) if self.state == "stopped" else None,
            "config": self.settings.origin,
            "dashboard": self.dashboard,
            **self.health(),
        }
        path = status_path(self.settings)
        try:
            write_status_file(path, data)
        except OSError as exc:
            if not self._status_error_logged:  # once: a read-only data dir would flood the log
                log.warning(logfmt("status", status="unwritable", path=str(path), outcome=str(exc)))
                self._status_error_logged = True

    def _hold_data_dir_lock(self) -> None:
        """One service per data directory: a second would check every source twice and
        overwrite the first one's status file. The lock goes with the process, however
        it ends."""
        path = status_path(self.settings).with_name("serve.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(path, "a")  # noqa: SIM115 (held for the life of the service)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = read_status_file(status_path(self.settings)) or {}
            raise ServiceError(f"another sendwatch serve (pid {other.get('pid', '?')}) is running with the data "
                               f"directory {path.parent}; stop it first") from None


def run_service(config: str | os.PathLike | None, *, verbose: bool = False, workers: int = 0) -> int:
    """``sendwatch serve``: load the settings from ``config``, run until stopped; the exit status."""
    # Until the loop's own handlers are in place (after the store is open and migrated),
    # a signal is only noted, and acted on once the service has started. Otherwise an
    # early signal kills the process, and systemd counts death by SIGHUP as a clean exit
    # it does not restart. The ``sendwatch`` command holds them from its first line.
    early = hold_signals()
    # One line per check is the service's record of its work: shown without --verbose.
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("sendwatch.pool").setLevel(logging.INFO)  # worker processes started, and lost
    log.info(logfmt("starting", pid=os.getpid()))
    settings = load_settings(config, kinds=KINDS)
    store = Store(settings.database, migrate=False)  # the service migrates once it holds its locks
    with store:
        service = Service(settings, store, config=config, crew=workers, verbose=verbose)
        service.early_signals = early
        return asyncio.run(service.run())
