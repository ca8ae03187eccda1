"""The work of sendwatch's worker processes, as tasks of procrastinate over PostgreSQL.

``sendwatch worker`` (and each process ``sendwatch serve --workers N`` starts) runs a
procrastinate worker. procrastinate does the distribution: its queue is a table, a worker
takes a job with ``SELECT ... FOR UPDATE SKIP LOCKED``, and:

- **a source is never checked twice at once**: each check job carries the lock
  ``source:<id>``; procrastinate starts no job while another with its lock is running;
- **a source is never queued twice**: each carries the queueing lock ``check:<id>``, so
  deferring it again while it waits raises ``AlreadyEnqueued``;
- **periodic work runs once across all workers**: every worker's periodic deferrer tries,
  and procrastinate's table of periodic defers keeps one job per tick;
- **a lost worker's work is handed on**: each worker writes a heartbeat every
  ``[cluster] heartbeat``; the ``tick`` task asks procrastinate for the jobs of workers
  silent for ``lost_after`` and puts them back in the queue (procrastinate's documented
  way; it does not do it by itself).

What sendwatch adds is only what to queue and when, from the record (``tick``): the next
check of each source follows from its last check (``monitor.core.schedule``), as for the
one-process service. A check job that starts when its source is no longer due (another
process checked it meanwhile: a ``sendwatch check``, or a job queued while the previous
one ran) does nothing.

What each job does is the one-process service's: ``check_source``, ``send_due``,
``record_due_events``, so their guarantees (a change recorded once, each email sent once
outside the one SMTP window) hold whatever the number of workers. A worker killed in the
middle of a check records nothing of it (the check's writes are one transaction at its
end), and the check runs again within ``lost_after + tick``.

The config: each job reads the config file again when it has changed (and SIGHUP reads it
at once), so a change reaches every worker on this machine; a worker on another machine
reads its own copy.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import random
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import ConfigError, Settings, SourceSettings, load_settings
from monitor.app.check import check_source as run_check
from monitor.app.check import followed_sources, record_due_events, source_settings_of
from monitor.app.outbox import send_due
from monitor.core.errors import describe
from monitor.core.schedule import cron_every, next_check
from monitor.sources import KINDS, in_process
from monitor.sources.fetch import Fetcher
from storage import Store

log = logging.getLogger("sendwatch.worker")

CHECKS = "checks"  # the queue of check jobs
HOUSE = "house"  # the tick, the outbox and the ledger: never behind a thousand checks
CHECK = "sendwatch.check"


def libpq_url(database_url: str) -> str:
    """The database URL as psycopg reads it (SQLAlchemy's names the driver)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError(f"workers need PostgreSQL; the database is {url.get_backend_name()} "
                          f"(database_url = \"{url.render_as_string(hide_password=True)}\")")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def logfmt(what: str, /, **fields: Any) -> str:
    from monitor.app.service import logfmt as line

    return line(what, **fields)


@dataclass
class Runtime:
    """What one worker process's jobs share: the settings (read again when the config file
    changes), the record, and one Fetcher, so the per-host limits hold across this
    process's checks."""

    settings: Settings
    store: Store
    config: Path | None = None
    fetcher: Fetcher | None = None
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _stamp: tuple[int, int] | None = None
    checks: int = 0

    def __post_init__(self) -> None:
        self._stamp = self._config_stamp()

    def _config_stamp(self) -> tuple[int, int] | None:
        if self.config is None:
            return None
        try:
            info = self.config.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def current(self, *, force: bool = False) -> Settings:
        """The settings, read again first if the config file changed. A config that does
        not load is logged and the one in use kept, as the one-process service does."""
        stamp = self._config_stamp()
        if self.config is not None and (force or stamp != self._stamp):
            self._stamp = stamp
            try:
                settings = load_settings(self.config, kinds=KINDS)
            except ConfigError as exc:
                log.error(logfmt("reload", worker=self.name, status="failed",
                                 outcome=f"{exc}; the config in use is kept"))
            else:
                if settings.database != self.settings.database:
                    log.warning(logfmt("reload", worker=self.name, status="partial",
                                       outcome="database_url changed: it takes a restart"))
                self.settings = settings.model_copy(update={"database_url": self.settings.database_url,
                                                            "data_dir": self.settings.data_dir})
                self.store.sources.sync(self.settings.sources, None)
                log.info(logfmt("reload", worker=self.name, status="ok", sources=len(self.settings.sources)))
        return self.settings

    def wanted(self, settings: Settings) -> dict[str, SourceSettings]:
        """The sources to check: the enabled configured ones, and the followed ones."""
        wanted = [s for s in settings.sources if s.enabled]
        if settings.ledger.follow:
            wanted += [s for s in followed_sources(self.store) if s.enabled]
        return {s.id: s for s in wanted}


def due(source: SourceSettings, settings: Settings, record, now: datetime) -> bool:
    """Whether a check of ``source`` is due at ``now`` by its record (jitter aside)."""
    if record is None:
        return True
    return next_check(source, settings.service, record.last_checked_at, record.consecutive_failures, now,
                      lambda low, _high: low) <= now


def build_app(runtime: Runtime) -> procrastinate.App:
    """A procrastinate App with sendwatch's tasks, bound to ``runtime``."""
    settings = runtime.settings
    cluster = settings.cluster
    connector = procrastinate.PsycopgConnector(conninfo=libpq_url(settings.database),
                                               min_size=1, max_size=max(4, cluster.concurrency // 2 + 2))
    app = procrastinate.App(connector=connector)

    @app.task(name=CHECK, queue=CHECKS, pass_context=True)
    async def check(context: procrastinate.JobContext, source_id: str) -> None:
        await check_job(runtime, app, source_id, context.job.scheduled_at)

    @app.periodic(cron=cron_every(cluster.tick), periodic_id="tick")
    @app.task(name="sendwatch.tick", queue=HOUSE, lock="tick", queueing_lock="tick")
    async def tick(timestamp: int) -> None:
        await schedule_checks(runtime, app, runtime.current())

    # Not under a procrastinate lock, unlike the others: a worker lost while handing on work
    # would hold it until handed on itself, which only this task does. Two runs never
    # overlap all the same: ``hand_on_lost_work`` holds a PostgreSQL advisory lock, which
    # the server drops with a lost worker's connection.
    @app.periodic(cron=cron_every(cluster.tick), periodic_id="rescue")
    @app.task(name="sendwatch.rescue", queue=HOUSE)
    async def rescue(timestamp: int) -> None:
        await hand_on_lost_work(app, runtime.current(), runtime.store)

    @app.periodic(cron=cron_every(max(1.0, settings.service.outbox_every)), periodic_id="outbox")
    @app.task(name="sendwatch.outbox", queue=HOUSE, lock="outbox", queueing_lock="outbox")
    async def outbox(timestamp: int | None = None) -> None:
        current = runtime.current()
        audience = await asyncio.to_thread(runtime.store.subscribers.active)
        current = current.model_copy(update={"audience": tuple(audience)})
        report = await asyncio.to_thread(send_due, current, runtime.store)
        if report.sent or report.retrying or report.failed or report.digests:
            log.info(logfmt("outbox", worker=runtime.name, sent=len(report.sent), retrying=len(report.retrying),
                            failed=len(report.failed), digests=report.digests, via=report.delivery))

    @app.periodic(cron=cron_every(max(1.0, settings.service.ledger_every)), periodic_id="ledger")
    @app.task(name="sendwatch.ledger", queue=HOUSE, lock="ledger", queueing_lock="ledger")
    async def ledger(timestamp: int | None = None) -> None:
        events = await asyncio.to_thread(record_due_events, runtime.current(), runtime.store)
        for event in events:
            log.info(logfmt("ledger", worker=runtime.name, commitment=event.commitment_id, event=event.kind))
        if events:
            await kick_outbox(app)

    return app


async def kick_outbox(app: procrastinate.App) -> None:
    """Drain the outbox soon: one job waits at most, however many checks ask."""
    try:
        await app.configure_task("sendwatch.outbox", queueing_lock="outbox", lock="outbox").defer_async()
    except AlreadyEnqueued:
        pass


async def check_job(runtime: Runtime, app: procrastinate.App, source_id: str, scheduled_at: datetime | None) -> None:
    settings = runtime.current()
    store = runtime.store
    source = source_settings_of(settings, store, source_id)
    if source is None or not source.enabled:
        log.info(logfmt("check", worker=runtime.name, source=source_id, status="skipped",
                        outcome="no longer watched"))
        return
    record = store.sources.get(source_id)
    now = datetime.now(UTC)
    if not due(source, settings, record, now):
        # Checked meanwhile by another process: nothing to do until its next time.
        log.debug(logfmt("check", worker=runtime.name, source=source_id, status="skipped", outcome="not due"))
        return
    lag = (now - scheduled_at).total_seconds() if scheduled_at is not None else 0.0
    assert runtime.fetcher is not None  # opened before the worker takes jobs
    runtime.checks += 1
    result = await run_check(source, store, runtime.fetcher, settings, workers=in_process)
    log.info(logfmt("check", worker=runtime.name, source=source_id, status=result.outcome,
                    duration_ms=result.duration_ms, lag_ms=int(max(0.0, lag) * 1000), bytes=result.size or 0,
                    developments=",".join(result.developments) or None,
                    outcome=result.error if result.outcome == "failed" else result.summary))
    if result.queued:  # a development, a broken or a recovered source: tell people now
        await kick_outbox(app)


BATCH = 500  # check jobs queued in one statement


async def schedule_checks(runtime: Runtime, app: procrastinate.App, settings: Settings,
                          now: datetime | None = None) -> int:
    """Queue a check for each source due before the next tick, at its time (from the record,
    with jitter); a source whose check waits in the queue or runs is left as it is. Returns
    how many were queued."""
    now = now or datetime.now(UTC)
    horizon = now + timedelta(seconds=2 * settings.cluster.tick)
    records = {r.id: r for r in runtime.store.sources.all(include_inactive=True)}
    # One read of what is queued or running, rather than a refused insert per source each
    # tick while a long pass drains (10,000 of them a tick in a first pass).
    with runtime.store.engine.connect() as conn:
        busy = {row[0] for row in conn.execute(text(
            "SELECT args->>'source_id' FROM procrastinate_jobs WHERE task_name = :task "
            "AND status IN ('todo', 'doing')"), {"task": CHECK})}
    jobs = []
    for source_id, source in runtime.wanted(settings).items():
        if source_id in busy:
            continue
        record = records.get(source_id)
        when = next_check(source, settings.service, record.last_checked_at if record else None,
                          record.consecutive_failures if record else 0, now, random.uniform)
        if when <= horizon:
            jobs.append(procrastinate.jobs.Job(
                id=None, queue=CHECKS, lock=f"source:{source_id}", queueing_lock=f"check:{source_id}",
                task_name=CHECK, task_kwargs={"source_id": source_id}, scheduled_at=when))
    queued = 0
    for start in range(0, len(jobs), BATCH):
        batch = jobs[start:start + BATCH]
        try:
            await app.job_manager.batch_defer_jobs_async(batch)
            queued += len(batch)
        except AlreadyEnqueued:
            # Queued meanwhile by something else (a check asked for by hand): one by one.
            for job in batch:
                try:
                    await app.job_manager.defer_job_async(job)
                    queued += 1
                except AlreadyEnqueued:
                    pass
    return queued


async def hand_on_lost_work(app: procrastinate.App, settings: Settings, store: Store) -> int:
    """Put back in the queue the jobs of workers that stopped writing their heartbeat (killed,
    or their machine gone): procrastinate finds them; another worker takes them. One
    rescuer at a time: two working from lists read at different moments could put back a
    job that a live worker had just taken."""
    from storage.locking import RESCUE

    with store.engine.connect() as conn:
        got = conn.exec_driver_sql("SELECT pg_try_advisory_lock(%(key)s)", {"key": RESCUE}).scalar()
        conn.commit()  # the lock is the session's: it outlives the transaction
        if not got:
            return 0
        try:
            return await _hand_on(app, settings)
        finally:
            conn.exec_driver_sql("SELECT pg_advisory_unlock(%(key)s)", {"key": RESCUE})
            conn.commit()


async def _hand_on(app: procrastinate.App, settings: Settings) -> int:
    lost = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=settings.cluster.lost_after))
    handed = 0
    for job in lost:
        assert job.id is not None  # read from the table
        outcome = "its worker stopped; handed to another"
        try:
            await app.job_manager.retry_job(job)
        except Exception:
            # Either an earlier rescue, still running, handed it on already, or the same
            # work waits in the queue again (its queueing lock is taken, so it cannot go
            # back): then the lost copy only holds the lock the waiting one needs.
            try:
                await app.job_manager.finish_job_by_id_async(job.id, status=procrastinate.jobs.Status.ABORTED,
                                                             delete_job=False)
            except Exception as exc:  # handed on already
                log.debug("job %s of a lost worker left alone: %s", job.id, exc)
                continue
            outcome = "its worker stopped; the same work is queued again already"
        handed += 1
        log.warning(logfmt("lost", job=job.id, task=job.task_name, args=job.task_kwargs, outcome=outcome))
    return handed


async def ensure_schema(store: Store) -> None:
    """procrastinate's tables, created once (under a lock, as two workers may start at once)."""
    from storage.locking import TASKS, exclusive

    schema = procrastinate.App(connector=procrastinate.PsycopgConnector()).schema_manager.get_schema()

    def create() -> None:
        with store.engine.begin() as conn:
            exclusive(conn, TASKS)
            present = conn.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar()
            if present is None:
                # Through the driver's cursor with no parameters: the schema's own % signs
                # are not placeholders.
                cursor = conn.connection.cursor()
                cursor.execute(schema)
                cursor.close()

    await asyncio.to_thread(create)


async def run_worker(settings: Settings, store: Store, *, config: Path | None = None,
                     concurrency: int | None = None) -> None:
    """Run one worker until SIGTERM or SIGINT (procrastinate's handlers: the jobs in flight
    get ``[service] stop_timeout`` to finish)."""
    runtime = Runtime(settings=settings, store=store, config=config)
    await ensure_schema(store)
    app = build_app(runtime)
    cluster = settings.cluster
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: runtime.current(force=True))
    started = time.monotonic()
    async with app.open_async(), Fetcher(settings.fetch) as fetcher:
        runtime.fetcher = fetcher
        log.info(logfmt("worker", worker=runtime.name, status="started",
                        concurrency=concurrency or cluster.concurrency))
        try:
            await app.run_worker_async(
                name=runtime.name, concurrency=concurrency or cluster.concurrency,
                update_heartbeat_interval=cluster.heartbeat, stalled_worker_timeout=cluster.lost_after,
                shutdown_graceful_timeout=settings.service.stop_timeout, delete_jobs="successful",
                install_signal_handlers=True)
        except Exception as exc:
            log.error(logfmt("worker", worker=runtime.name, status="failed", outcome=describe(exc)))
            raise
    log.info(logfmt("worker", worker=runtime.name, status="stopped", checks=runtime.checks,
                    after_s=f"{time.monotonic() - started:.1f}"))


def run_worker_process(config: str | os.PathLike | None, *, concurrency: int | None = None,
                       verbose: bool = False) -> int:
    """``sendwatch worker``: the exit status."""
    from monitor.app.cli.common import EXIT_ERROR, EXIT_OK
    from monitor.sources import READS
    from storage.locking import ServiceLock

    try:  # kill -USR1 <pid> prints every thread's stack: where a worker that seems stuck is.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    except (AttributeError, ValueError, OSError):  # standard error is not a file (run inside another program)
        pass
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    # procrastinate's own lines (each job started and ended) only with --verbose.
    logging.getLogger("procrastinate").setLevel(logging.DEBUG if verbose else logging.WARNING)
    settings = load_settings(config, kinds=KINDS)
    libpq_url(settings.database)  # PostgreSQL, or one clear line now
    with Store(settings.database, migrate=False) as store:
        lock = ServiceLock(store.engine, shared=True)
        if not lock.acquire():
            print("sendwatch: a one-process sendwatch serve is running on this database; stop it, or run it "
                  "as serve --workers N, before starting workers", file=sys.stderr)
            return EXIT_ERROR
        try:
            store.migrate()
            store.sources.sync(settings.sources, READS)
            asyncio.run(run_worker(settings, store, config=Path(config) if config else None,
                                   concurrency=concurrency))
        finally:
            lock.release()
    return EXIT_OK
