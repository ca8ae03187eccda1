"""Worker processes that read pages while the event loop goes on fetching.

Parsing and extracting a page is pure CPU work, and lxml holds the GIL for most of it: in a
thread it would still take the loop's core. A ``WorkerPool`` runs such work (the ``Offload``
of ``monitor.sources.base``: a function and its arguments, all picklable) in up to
``processes`` worker processes (``monitor/app/worker.py``), so a pass uses the machine's
other cores. The fetching, the per-host limits and the record stay in this process.

How it is built, and why:

- Workers are started with ``python -m monitor.app.worker`` (an exec, not a fork of this
  process: this one has threads, a database connection and signal handlers that a forked
  child would inherit). Each imports only what reading a page needs.
- Each worker has up to ``DEPTH`` jobs sent ahead: it runs them one after the other and
  answers in order, so it never waits for this process's loop to hand it the next page.
- A worker runs one job at a time, so when one dies (a page that crashes the parser) or
  hangs past ``job_timeout`` (timed from when that job starts), the job it was running,
  and only that job, fails with a
  ``WorkerLost``: one source's check fails, the pass goes on. The jobs queued behind it
  had not started; they go to another worker, and a fresh worker takes the dead one's place.
- A worker that cannot even start (its imports fail, say) is not a failure of the page:
  the pool says so once in the log and reads pages in this process from then on.
- Workers ignore SIGINT and SIGTERM and end when their input closes: ``close`` (after the
  checks in flight), or this process dying. ``close`` waits for them, so their CPU time is
  counted in this process's children, as a benchmark measuring this process expects.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from monitor.app.worker import LENGTH, READY, frame
from monitor.core.errors import CheckFailed

log = logging.getLogger("sendwatch.pool")

T = TypeVar("T")

READING = ("monitor.core.extract",)  # what a worker imports before its first job
DEPTH = 4  # jobs sent ahead to one worker
JOB_TIMEOUT = 120.0  # seconds; a 10 MB page (the default max_bytes) reads in a few
CLOSE_WAIT = 5.0  # seconds a worker gets to end after its input closes, before it is killed


class WorkerLost(CheckFailed):
    """The worker process running a job died or hung: that job fails, the pool goes on."""


class _CannotStart(Exception):
    """A worker ended before it was ready: the pool, not the job, is at fault."""


class _SendElsewhere(Exception):
    """The job was queued behind one that killed its worker; it never ran."""


def machine_cores() -> int:
    """The cores this process may run on (a container's or an affinity mask's, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Worker:
    """One worker process, the jobs sent to it (oldest first) and the task reading its answers."""

    def __init__(self, process: asyncio.subprocess.Process, lost: Callable[[_Worker], None],
                 job_timeout: float) -> None:
        self.process = process
        self.pending: deque[asyncio.Future[bytes]] = deque()
        self.ready = False
        self.stopped_because: str | None = None  # set when the pool kills it
        self.retire: asyncio.TimerHandle | None = None
        self.job_timeout = job_timeout
        self._watchdog: asyncio.TimerHandle | None = None  # on the job it runs (the oldest sent)
        self._lost = lost
        self.reader = asyncio.get_running_loop().create_task(self._read_answers())

    def send(self, job: bytes) -> asyncio.Future[bytes]:
        assert self.process.stdin is not None
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending.append(answer)
        self.process.stdin.write(frame(job))
        if len(self.pending) == 1:  # it starts now; one behind others starts when they are answered
            self._watch()
        return answer

    def _watch(self) -> None:
        """Time the job it is running now: from when it starts, not from when it was queued
        behind others, so a page that hangs fails alone, not the pages sent after it."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.pending:
            self._watchdog = asyncio.get_running_loop().call_later(
                self.job_timeout, self.kill, f"reading it took longer than {self.job_timeout:g} s; the worker "
                                             f"process reading it was stopped")

    async def _read_answers(self) -> None:
        try:
            if await self._message() != READY:
                raise asyncio.IncompleteReadError(b"", None)
            self.ready = True
            self._watch()  # the imports are not the first job's time
            while True:
                answer = await self._message()
                waiting = self.pending.popleft()
                self._watch()
                if not waiting.done():  # its check may have been cancelled meanwhile
                    waiting.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError):  # its output closed: it ended
            pass
        how = await self.ended()
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._lost(self)
        first = True
        while self.pending:
            waiting = self.pending.popleft()
            if not waiting.done():
                if not self.ready:
                    waiting.set_exception(_CannotStart(how))
                elif first:  # the job it was running when it ended
                    waiting.set_exception(WorkerLost(
                        self.stopped_because or f"the worker process reading it ended ({how}) before it had read "
                                                f"it: something in the page may crash the HTML parser"))
                else:
                    waiting.set_exception(_SendElsewhere())
            first = False

    async def _message(self) -> bytes:
        assert self.process.stdout is not None
        head = await self.process.stdout.readexactly(LENGTH.size)
        return await self.process.stdout.readexactly(LENGTH.unpack(head)[0])

    async def ended(self) -> str:
        """How the worker ended, in words, once it has (killed if it has not within CLOSE_WAIT)."""
        try:
            code = await asyncio.wait_for(self.process.wait(), CLOSE_WAIT)
        except TimeoutError:
            self.kill()
            code = await self.process.wait()
        if code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with status {code}"

    def kill(self, because: str | None = None) -> None:
        self.stopped_because = self.stopped_because or because
        if self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass

    async def end(self) -> None:
        """Close its input (it ends after the jobs it was sent), then wait for it."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        await asyncio.gather(self.reader, return_exceptions=True)


class WorkerPool:
    """Up to ``processes`` worker processes; call it with a function and its arguments.

    ``idle_after``: a worker with nothing to do for
    this many seconds ends (None: it waits for ``close``).
    """

    def __init__(self, processes: int, *, preload: Iterable[str] = READING, job_timeout: float = JOB_TIMEOUT,
                 idle_after: float | None = None) -> None:
        if processes < 1:
            raise ValueError("a worker pool needs at least one process")
        self.processes = processes
        self.preload = tuple(preload)
        self.job_timeout = job_timeout
        self.idle_after = idle_after
        self.lost = 0  # workers that died or hung in a job, for tests and logs
        self._slots = asyncio.Semaphore(processes * DEPTH)
        self._workers: list[_Worker] = []
        self._spawning = asyncio.Lock()
        self._ending: set[asyncio.Task[None]] = set()  # retired workers, ending
        self._in_process = False  # workers could not start: every job runs here
        self._closed = False

    async def __aenter__(self) -> WorkerPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def running(self) -> bool:
        """Whether a worker is up (an idle one is there to use, at no cost of starting it)."""
        return bool(self._workers)

    async def start(self) -> None:
        """Start a worker now, so that it imports while the first pages are fetched (the
        others start when the work needs them)."""
        async with self._spawning:
            if not self._workers:
                await self._spawn()

    async def __call__(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        if self._in_process:
            return function(*args, **kwargs)
        async with self._slots:
            job = pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
            answer = await self._answer(job)
        if answer is None:  # the workers cannot start: not the page's fault
            return function(*args, **kwargs)
        ok, value = pickle.loads(answer)
        if not ok:
            raise value
        return value

    async def _answer(self, job: bytes) -> bytes | None:
        while True:
            worker = await self._least_busy()
            if worker is None:
                return None
            if worker.retire is not None:
                worker.retire.cancel()
                worker.retire = None
            try:
                answer = await worker.send(job)
            except _SendElsewhere:
                continue
            except _CannotStart as exc:
                self._give_up(str(exc))
                return None
            except WorkerLost:
                self.lost += 1
                raise
            if not worker.pending and self.idle_after is not None and worker in self._workers:
                worker.retire = asyncio.get_running_loop().call_later(self.idle_after, self._retire, worker)
            return answer

    async def _least_busy(self) -> _Worker | None:
        """The worker with the fewest jobs; a new one (while there are fewer than
        ``processes``) when every worker has a job waiting behind the one it runs: the
        fetching is ahead of them. Where fetching is the slower part, one worker is enough."""
        async with self._spawning:  # one at a time: two jobs must not both start the last worker
            least = min(self._workers, key=lambda w: len(w.pending), default=None)
            if least is None or (len(least.pending) >= 2 and len(self._workers) < self.processes):
                return await self._spawn() or least
            return least

    async def _spawn(self) -> _Worker | None:
        """A new worker, or None when they cannot be started (the pool then works in process)."""
        if self._closed or self._in_process:
            return None
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "monitor.app.worker", *self.preload,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=_worker_environment())
        except OSError as exc:
            self._give_up(f"{sys.executable}: {exc.strerror or exc}")
            return None
        log.info("worker process %d started, to parse pages", process.pid)
        worker = _Worker(process, self._forget, self.job_timeout)
        self._workers.append(worker)
        return worker

    def _forget(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        if worker.retire is not None:
            worker.retire.cancel()

    def _retire(self, worker: _Worker) -> None:
        if not worker.pending and worker in self._workers:
            self._forget(worker)
            task = asyncio.get_running_loop().create_task(worker.end())
            self._ending.add(task)
            task.add_done_callback(self._ending.discard)

    def _give_up(self, why: str) -> None:
        if not self._in_process:
            log.warning("worker processes could not start (%s); reading pages in this process", why)
        self._in_process = True

    async def close(self) -> None:
        """End every worker (each after the jobs it was sent) and wait for them all."""
        self._closed = True
        workers, self._workers = list(self._workers), []
        for worker in workers:
            if worker.retire is not None:
                worker.retire.cancel()
            if worker.pending and all(answer.done() for answer in worker.pending):
                worker.kill()  # its jobs were cancelled (Ctrl-C, a stop): nobody waits for what it is doing
        await asyncio.gather(*(w.end() for w in workers), *self._ending, return_exceptions=True)


def _worker_environment() -> dict[str, str]:
    """This environment, with the directory sendwatch is imported from first on the path:
    a worker runs the same code as this process, installed or run from a checkout."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env
