"""``sendwatch serve --workers N``: N ``sendwatch worker`` processes kept running, and what
the queue they share looks like (for ``sendwatch status``, ``/healthz`` and the dashboard).

The serve process itself checks nothing: it keeps the dashboard and the status file, and
starts, watches and stops its workers. A worker that exits while the service runs is
started again (after 1 s, doubling while it keeps exiting, at most a minute); its job, if
it died in the middle of one, is handed on by the other workers (``monitor.app.tasks``).
SIGHUP is passed on to every worker, which reads the config again; SIGTERM too, and a
worker still running ``stop_timeout`` later is killed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from monitor.core.backoff import backoff

log = logging.getLogger("sendwatch.crew")

RESTART_CAP = 60.0  # seconds: the longest wait before a worker that keeps exiting is started again


@dataclass
class Crew:
    size: int
    config: str | os.PathLike | None = None
    verbose: bool = False
    processes: dict[int, asyncio.subprocess.Process] = field(default_factory=dict)  # slot -> process
    restarts: int = 0
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _stopping: bool = False

    def command(self) -> list[str]:
        argv = [sys.executable, "-m", "monitor.app.cli"]
        if self.config is not None:
            argv += ["--config", str(Path(self.config).resolve())]
        if self.verbose:
            argv.append("--verbose")
        return argv + ["worker"]

    async def start(self) -> None:
        for slot in range(self.size):
            await self._spawn(slot)
            self._tasks.append(asyncio.get_running_loop().create_task(self._watch(slot)))

    async def _spawn(self, slot: int) -> None:
        # Each worker in its own process group: a Ctrl-C at the terminal reaches the serve
        # process, which stops the workers in order, not all at once behind its back.
        self.processes[slot] = await asyncio.create_subprocess_exec(*self.command(), start_new_session=True)

    async def _watch(self, slot: int) -> None:
        failures = 0
        while True:
            process = self.processes[slot]
            code = await process.wait()
            if self._stopping:
                return
            failures += 1
            wait = backoff(1.0, failures, cap=RESTART_CAP)
            log.warning("worker pid %s exited with status %s; starting another in %.0f s", process.pid, code, wait)
            await asyncio.sleep(wait)
            if self._stopping:
                return
            await self._spawn(slot)
            self.restarts += 1

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values() if p.returncode is None]

    def signal(self, sig: signal.Signals) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                try:
                    process.send_signal(sig)
                except ProcessLookupError:
                    pass

    async def stop(self, timeout: float) -> None:
        """SIGTERM to every worker; those still running after ``timeout`` are killed."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        self.signal(signal.SIGTERM)
        running = [p.wait() for p in self.processes.values() if p.returncode is None]
        if running:
            _done, pending = await asyncio.wait([asyncio.ensure_future(w) for w in running], timeout=timeout)
            if pending:
                log.warning("%s worker(s) still running after %.0f s: killed", len(pending), timeout)
                self.signal(signal.SIGKILL)
                await asyncio.wait(pending, timeout=5)


def crew_status(engine: Engine, lost_after: float, now: datetime | None = None) -> dict | None:
    """The workers (``live``: those heard from within ``lost_after`` seconds), the queue
    and its lag, read from procrastinate's tables; None when there are none (SQLite, or no
    worker ever ran on this database).

    Lag is how late the oldest check waiting to start is against its scheduled time: 0
    when every due check has started."""
    if engine.dialect.name != "postgresql":
        return None
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
            return None
        workers = [{"id": row.id, "heartbeat_age_s": round((now - row.last_heartbeat).total_seconds(), 1),
                    "running": row.running}
                   for row in conn.execute(text(
                       "SELECT w.id, w.last_heartbeat, count(j.id) AS running FROM procrastinate_workers w "
                       "LEFT JOIN procrastinate_jobs j ON j.worker_id = w.id AND j.status = 'doing' "
                       "GROUP BY w.id, w.last_heartbeat ORDER BY w.id"))]
        queue = conn.execute(text(
            "SELECT count(*) FILTER (WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= :now)) "
            "AS due, count(*) FILTER (WHERE status = 'todo' AND scheduled_at > :now) AS scheduled, "
            "count(*) FILTER (WHERE status = 'doing') AS running, "
            "count(*) FILTER (WHERE status = 'failed') AS failed, "
            "min(scheduled_at) FILTER (WHERE status = 'todo' AND scheduled_at <= :now) AS oldest_due "
            "FROM procrastinate_jobs"), {"now": now}).one()
    lag = (now - queue.oldest_due).total_seconds() if queue.oldest_due is not None else 0.0
    return {"workers": workers, "live": sum(1 for w in workers if w["heartbeat_age_s"] <= lost_after),
            "queue": {"due": queue.due, "scheduled": queue.scheduled, "running": queue.running,
                      "failed": queue.failed},
            "lag_s": round(max(0.0, lag), 1)}
