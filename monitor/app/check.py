"""One pass over the sources: fetch, extract, compare with the last snapshot, record.

This is the library API behind ``sendwatch check`` and each scheduled run of ``serve``.
A source that fails is recorded as a failed check and the pass goes on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from config.loader import reason
from config.settings import Settings, SourceSettings
from monitor.app.pool import WorkerPool, machine_cores
from monitor.app.subscribers import synced
from monitor.core.addresses import document_key
from monitor.core.developments import find_developments
from monitor.core.diff import diff_documents
from monitor.core.document import Document
from monitor.core.drafts import POSSIBLE
from monitor.core.errors import CheckFailed, describe, one_line
from monitor.core.ledger import Mark, Milestone, due_event, london_date, standing, target
from monitor.core.match import Specificity, Target
from monitor.core.notify import for_commitment, for_source_health
from monitor.core.restated import release_moves
from monitor.core.unpublished import (
    NOT_YET,
    NOT_YET_STATUSES,
    UNPUBLISHED,
    appearance,
    not_yet,
    not_yet_summary,
    still_awaited,
)
from monitor.sources import KINDS, PHRASE_CORPUS_KINDS, READS, Offload, Reading, SourceKind, in_process, make_source
from monitor.sources.fetch import Fetcher, Validators, retry_delay
from storage import STALE, CheckMeta, DatabaseUnavailable, History, Store, Unchanged

log = logging.getLogger("sendwatch.check")

LONG_DOCUMENT = 2000  # text blocks; most pages have tens to hundreds
# A pass parses pages in worker processes only from this many pages. A worker costs about
# 0.08 s of CPU to start. Measured on 50 KB GOV.UK pages (selector "main", a loaded 2-core
# machine): at 50 pages a worker takes 0.04 to 0.09 s off the main process's 0.17 to 0.21 s
# for 0.03 to 0.07 s more CPU in all; at 25, 0.01 to 0.02 s off for 0.1 s more.
POOL_FROM = 50
BY_ANOTHER = "recorded by another process"  # what a check that lost a race to record says


@dataclass(frozen=True, slots=True)
class CheckResult:
    source_id: str
    outcome: str  # first | unchanged | not-modified | changed | failed | unpublished
    duration_ms: int
    size: int | None = None
    summary: str | None = None
    error: str | None = None
    change_id: int | None = None
    developments: tuple[str, ...] = ()  # commitment ids
    possible: tuple[str, ...] = ()  # commitment ids of possible developments, for a person to review
    seen_again: int = 0  # documents already known as developments (or rejected), seen again
    followed: tuple[str, ...] = ()  # sources followed from now on
    queued: int = 0  # notifications written to the outbox with this check
    failures: int = 0  # failed checks in a row, this one included (0 unless it failed)
    retry_after: float | None = None  # seconds the server asked to wait, when it failed saying so


class UnchangedBatch:
    """The unchanged checks of a pass, written a batch at a time (History.record_unchanged_many).

    Most checks of a pass find nothing new; writing each on its own was most of the pass's
    storage time. A batch lost to a crash loses only "checked, nothing new" rows: the
    source is checked again at its next turn. Changes, failures and anything that queues
    an email are never batched. A batch the database refuses is written row by row, so
    one bad row (its snapshot pruned meanwhile, say) costs only itself; what could not
    be written is reported by ``close`` at the end of the pass.
    """

    SIZE = 200

    def __init__(self, history: History) -> None:
        self.history = history
        self.pending: list[Unchanged] = []
        self.unwritten: dict[str, str] = {}  # source id -> why its check is not in the record
        self._lock = threading.Lock()  # long pages are recorded from a worker thread

    def add(self, check: Unchanged) -> None:
        with self._lock:
            self.pending.append(check)
            full = len(self.pending) >= self.SIZE
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self.pending = self.pending, []
        if not pending:
            return
        try:
            self.history.record_unchanged_many(pending)
            return
        except DatabaseUnavailable as exc:  # the database itself (gone, full): no row would fare better
            self.unwritten.update((check.source_id, one_line(exc)) for check in pending)
            return
        except Exception as exc:  # not the fault of the check that filled the batch
            log.warning("could not record %d unchanged checks together (%s); trying one by one", len(pending), exc)
        for check in pending:
            try:
                self.history.record_unchanged_many([check])
            except Exception as exc:
                self.unwritten[check.source_id] = describe(exc)

    def close(self) -> dict[str, str]:
        """Write what is pending; return the sources whose checks could not be, and why
        (the caller tells the user, once)."""
        self.flush()
        return dict(self.unwritten)


async def check_source(source_settings: SourceSettings, store: Store, fetcher: Fetcher,
                       settings: Settings | None = None, batch: UnchangedBatch | None = None,
                       first_reads: FirstReads | None = None, workers: Offload = in_process) -> CheckResult:
    """Check one source and record the outcome, with the developments and notifications it
    causes, in one transaction. ``settings`` supplies commitments and recipients; with a
    ``batch``, an unchanged outcome is written with the batch. A transient failure is
    read again (see ``_read``); only the last read's outcome is recorded. ``workers`` is
    where a page is parsed (a ``WorkerPool``, or this process)."""
    settings = settings or Settings()
    source = make_source(source_settings, workers)
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    state = store.sources.state(source_settings.id)
    validators = None
    if state.snapshot_id is not None and (state.etag or state.last_modified):
        # Only ask "changed since?" when we hold the version the server would compare with.
        validators = Validators(state.etag, state.last_modified)
    previous = None
    if source.needs_previous and state.snapshot_id is not None:
        previous = store.history.document(state.snapshot_id)
    error: str | None = None
    status: int | None = None
    reading: Reading | None = None
    retry_after: float | None = None
    try:
        reading = await _read(source, source_settings.id, fetcher, validators, previous, settings, first_reads)
        status = reading.status
    except CheckFailed as exc:
        error, status, retry_after = str(exc), getattr(exc, "status", None), getattr(exc, "retry_after", None)
    except Exception as exc:  # a bug in a kind must not stop the other sources
        log.exception("unexpected error checking %s", source_settings.id)
        error = f"internal error: {describe(exc)}"
    finally:
        if first_reads is not None:
            first_reads.over(source_settings.id)
    awaited = False
    if source_settings.expected and status is not None and status in NOT_YET_STATUSES:
        current = previous if previous is not None or state.snapshot_id is None \
            else store.history.document(state.snapshot_id)
        awaited = not_yet(source_settings, current, status)
        if awaited:
            # An expected page not there yet: a successful check of nothing, never a failure.
            reading = Reading(NOT_YET, source_settings.url, status, 0, Validators())
    if reading is None:
        assert error is not None  # the read raised
        return _fail(store, settings, source_settings, state, error, CheckMeta(started_at, _ms(clock), status),
                     retry_after)

    try:
        arguments = (source, source_settings, store, settings, state, previous, reading, started_at, clock, batch)
        if reading.document is not None and len(reading.document.blocks) > LONG_DOCUMENT:
            # Diffing and storing a very long page takes long enough to stall the service's
            # loop (signals, the dashboard, other checks): it gets a thread of its own.
            return await asyncio.to_thread(_record_reading, *arguments)
        result = _record_reading(*arguments)
        if awaited and result.outcome != "failed":
            result = replace(result, outcome=UNPUBLISHED, summary=not_yet_summary(status))
        return result
    except DatabaseUnavailable:
        # The database itself refuses (gone, unreachable, disk full): recording a failure
        # would fail the same way, and it is no source's fault. The caller says it once.
        raise
    except Exception as exc:  # a document the record cannot take must not stop the pass
        log.exception("cannot record the check of %s", source_settings.id)
        return _fail(store, settings, source_settings, state, f"internal error: {describe(exc)}",
                     CheckMeta(started_at, _ms(clock), reading.status, reading.size))


def _fail(store: Store, settings: Settings, source_settings: SourceSettings, state, error: str,
          meta: CheckMeta, retry_after: float | None = None) -> CheckResult:
    """Record a failed check (and a "source broken" email when it makes N in a row)."""
    health = for_source_health(settings, source_settings, state.consecutive_failures, failed=True, error=error)
    store.history.record_failure(source_settings.id, error, meta, notifications=health)
    log.info("check failed: %s: %s", source_settings.id, error)  # callers report it to the user
    return CheckResult(source_settings.id, "failed", meta.duration_ms, error=error, queued=len(health),
                       failures=state.consecutive_failures + 1, retry_after=retry_after)


class FirstReads:
    """The sources of a pass whose first read is not over yet.

    A source whose read failed for a moment (a 500, a 503, a connection cut) is read again
    only once every source of the pass has had its first read: its retry never takes
    another source's turn at a host, and while it waits it holds nothing."""

    def __init__(self, source_ids: Iterable[str]) -> None:
        self._waiting = set(source_ids)
        self._over = asyncio.Event()
        if not self._waiting:
            self._over.set()

    def over(self, source_id: str) -> None:
        self._waiting.discard(source_id)
        if not self._waiting:
            self._over.set()

    def ended(self, source_id: str, _check: asyncio.Future[CheckResult]) -> None:
        """A check's done-callback: however the check ended, its first read is over."""
        self.over(source_id)

    async def wait(self) -> None:
        await self._over.wait()


async def _read(source: SourceKind[Any], source_id: str, fetcher: Fetcher, validators: Validators | None,
                previous: Document | None, settings: Settings, first_reads: FirstReads | None) -> Reading:
    """The source's reading, read again after a transient failure as ``[fetch] retries``
    allows: not before the backoff or the server's Retry-After has passed, and in a pass
    (``first_reads``) not before every source has been read once."""
    loop = asyncio.get_running_loop()
    attempt = 1
    while True:
        try:
            return await source.read(fetcher, validators, previous)
        except CheckFailed as exc:
            wait = retry_delay(exc, attempt, settings.fetch)
            if wait is None:
                raise
            due = loop.time() + wait
            log.info("reading %s again in %.1f s at the earliest, after: %s", source_id, wait, exc)
        if first_reads is not None:
            first_reads.over(source_id)
            await first_reads.wait()
        if (left := due - loop.time()) > 0:
            await fetcher.sleep(left)
        attempt += 1


RACE_ATTEMPTS = 5  # each needs another process to record this source again in between


def _record_reading(source, source_settings: SourceSettings, store: Store, settings: Settings, state, previous,
                    reading, started_at: datetime, clock: float, batch: UnchangedBatch | None) -> CheckResult:
    for _ in range(RACE_ATTEMPTS):
        result = _record_once(source, source_settings, store, settings, state, previous, reading, started_at, clock,
                              batch)
        if result is not None:
            return result
        # Another process recorded an older reading of this source after we read its state:
        # ours is the newest, so it is compared with what that process recorded.
        state = store.sources.state(source_settings.id)
        previous = store.history.document(state.snapshot_id) if state.snapshot_id is not None else None
    return _fail(store, settings, source_settings, state, "other processes kept recording this source while this check "
                 "did; it is checked again at its next turn", CheckMeta(started_at, _ms(clock), reading.status,
                                                                       reading.size))


def _record_once(source, source_settings: SourceSettings, store: Store, settings: Settings, state, previous,
                 reading, started_at: datetime, clock: float, batch: UnchangedBatch | None) -> CheckResult | None:
    """Record the reading against ``state``; None when another process got there first
    with an older reading (nothing was written)."""
    meta = CheckMeta(started_at, _ms(clock), reading.status, reading.size)
    etag, last_modified = reading.validators.etag, reading.validators.last_modified
    health = for_source_health(settings, source_settings, state.consecutive_failures, failed=False)
    unchanged = reading.document is None or reading.document.content_hash() == state.content_hash
    if not unchanged and state.snapshot_id is not None:
        previous = previous or store.history.document(state.snapshot_id)
        # A snapshot stored before text was cleaned of control characters is cleaned as it
        # loads, but keeps the hash of its raw text: the same text read today is no change.
        unchanged = previous.content_hash() == reading.document.content_hash()
    if unchanged and batch is not None and not health and state.snapshot_id is not None:
        batch.add(Unchanged(source_settings.id, meta, state.snapshot_id, reading.document is None, etag, last_modified))
        return _result(source_settings.id, "not-modified" if reading.document is None else "unchanged", meta)
    if unchanged:
        recorded = store.history.record_unchanged(source_settings.id, meta, not_modified=reading.document is None,
                                                  etag=etag, last_modified=last_modified, notifications=health,
                                                  seen_snapshot_id=state.snapshot_id)
        if recorded.outcome == STALE:
            return None
        return _recorded(source_settings.id, recorded, meta, len(health))

    change = summary = None
    drafts = []
    restated: tuple = ()
    if state.snapshot_id is not None and still_awaited(source_settings, previous):
        # The awaited page has appeared: that is the news, for each of its commitments.
        change = diff_documents(previous, reading.document)
        summary, appeared = appearance(source_settings, reading.document, source_settings.url)
        if document_key(reading.url) != document_key(source_settings.url):
            # The address now leads elsewhere: perhaps where the page was published, perhaps
            # to something else entirely. A person decides; nobody is told yet.
            summary = f"the expected address now leads to {reading.url}: '{reading.document.title}'"
            appeared = [replace(d, status=POSSIBLE, url=reading.url, document_key=document_key(reading.url))
                        for d in appeared]
        drafts = [replace(d, notify=for_commitment(settings, "development", d.commitment_id)) for d in appeared]
    elif state.snapshot_id is not None:
        change = diff_documents(previous, reading.document)
        summary = source.summarise(change)
        targets, specificity = scoring(settings, store)
        follow_kind = source.follow_kind if settings.ledger.follow else None
        drafts = [replace(d, notify=for_commitment(settings, "development", d.commitment_id))
                  for d in find_developments(change, source=source_settings, summary=summary, targets=targets,
                                             discovers=source.discovers, follow_kind=follow_kind,
                                             rejections=store.ledger.rejections(), specificity=specificity)]
        # A statistics release its commitments depend on, moved or cancelled: a restatement of each.
        restated = release_moves(previous, reading.document, source_settings.commitments,
                                 london_date(started_at), source_settings.url)
    recorded = store.history.record_document(source_settings.id, reading.document, change, meta, summary=summary,
                                             etag=etag, last_modified=last_modified, developments=drafts,
                                             notifications=health, restatements=restated,
                                             expected_snapshot_id=state.snapshot_id)
    if recorded.outcome == STALE:
        return None
    if recorded.by_another or recorded.outcome == "unchanged":
        return _recorded(source_settings.id, recorded, meta, len(health))
    summary = summary or _describe_first(reading.document)
    return _result(source_settings.id, recorded.outcome, meta, summary=summary, change_id=recorded.change_id,
                   developments=tuple(sorted(set(recorded.developed))), possible=tuple(sorted(set(recorded.possible))),
                   seen_again=len(recorded.seen_again), followed=recorded.followed,
                   queued=len(health) + recorded.queued)


def scoring(settings: Settings, store: Store) -> tuple[tuple[Target, ...], Specificity]:
    """What a change is scored against: the commitments, and how specific each of their
    phrases is among them and the documents discovered so far. A check and ``sendwatch
    explain`` both take it from here."""
    targets = tuple(target(c) for c in settings.commitments)
    return targets, _specificity(targets, store.history.discovered_texts(PHRASE_CORPUS_KINDS))


@functools.lru_cache(maxsize=4)
def _specificity(targets: tuple, discovered: tuple[str, ...]) -> Specificity:
    """Specificity.of, once per set of commitments and of discovered documents: every
    change of a pass asks, and with a search holding 1,500 results it costs 52 ms."""
    return Specificity.of(targets, discovered)


def _recorded(source_id: str, recorded, meta: CheckMeta, queued: int) -> CheckResult:
    """A check that recorded nothing new; says so when another process was first."""
    summary = BY_ANOTHER if recorded.by_another else None
    return _result(source_id, recorded.outcome, meta, summary=summary, queued=0 if recorded.by_another else queued)


async def check_sources(
    settings: Settings, store: Store, source_ids: Iterable[str] | None = None, *, workers: Offload | None = None
) -> list[CheckResult]:
    """Check the given sources (default: every enabled one) concurrently, within the
    per-host limits, and return one result per source in config order. A source that
    fails for a moment is read again once every source has been read (``FirstReads``).
    Pages are parsed in ``workers``; by default, in worker processes of the pass's own
    (``[workers]`` of the settings) when it has ``POOL_FROM`` pages or more."""
    store.sources.sync(settings.sources, READS)
    settings = synced(settings, store)  # developments go to the record's subscribers
    wanted = set(source_ids) if source_ids else None
    candidates = list(settings.sources) + (followed_sources(store) if settings.ledger.follow else [])
    chosen = [s for s in candidates if (s.id in wanted if wanted is not None else s.enabled)]
    batch = UnchangedBatch(store.history)
    pool = _pass_pool(settings, chosen) if workers is None else None
    try:
        async with Fetcher(settings.fetch) as fetcher:
            if pool is not None:
                await pool.start()  # the workers import while the first pages are fetched
            offload = workers or pool or in_process
            first_reads = FirstReads(s.id for s in chosen)
            checks = []
            for source in chosen:
                check = asyncio.ensure_future(check_source(source, store, fetcher, settings, batch, first_reads,
                                                           offload))
                check.add_done_callback(functools.partial(first_reads.ended, source.id))
                checks.append(check)
            try:
                results = await asyncio.gather(*checks)
            except BaseException:
                # The database refused (or the pass was interrupted): the other checks stop
                # here, not later against a closed client, each with an error of its own.
                for check in checks:
                    check.cancel()
                await asyncio.gather(*checks, return_exceptions=True)
                raise
    finally:
        if pool is not None:
            await pool.close()
        unwritten = batch.close()
    if unwritten:  # checked and unchanged, but not in the record: say so, do not claim success
        results = [replace(r, outcome="failed", error=f"checked (nothing new), but the check could not be "
                                                      f"recorded: {unwritten[r.source_id]}")
                   if r.source_id in unwritten and r.outcome in ("unchanged", "not-modified") else r
                   for r in results]
    record_due_events(settings, store)
    return list(results)


def worker_processes(settings: Settings) -> int:
    """How many worker processes parse pages: ``workers`` (else one per core) counts the
    processes of a check, the main one (which fetches and records) included; 0 or 1 means
    none, and pages are parsed in the main process."""
    processes = machine_cores() if settings.workers is None else settings.workers
    return max(0, processes - 1)


def _pass_pool(settings: Settings, sources: list[SourceSettings]) -> WorkerPool | None:
    """Worker processes for a pass, when it has pages enough to repay starting them."""
    processes = worker_processes(settings)
    pages = sum(1 for s in sources if s.kind in KINDS and KINDS[s.kind].offloads)
    if processes < 1 or pages < POOL_FROM:
        return None
    log.info("parsing %d pages in up to %d worker process(es)", pages, min(processes, pages))
    return WorkerPool(min(processes, pages))


def followed_sources(store: Store) -> list[SourceSettings]:
    """Sources sendwatch follows by itself; their settings live in the database.

    A stored row that is no longer a valid source (written by an older version, say) is
    skipped with a logged line: it must not stop the configured sources or the other
    followed ones."""
    sources = []
    for record in store.sources.followed():
        try:
            source = SourceSettings.model_validate(record.settings)
            make_source(source)  # its kind exists and takes its options
        except Exception as exc:
            log.warning("skipping followed source %s: its stored settings are not usable: %s",
                        record.id, _one_line(exc))
            continue
        sources.append(source)
    return sources


def source_settings_of(settings: Settings, store: Store, source_id: str) -> SourceSettings | None:
    """The settings a source is checked with: as configured, else as the record keeps them
    (a followed source, or one no longer configured); None when those are not usable."""
    try:
        return settings.source(source_id)
    except KeyError:
        pass
    record = store.sources.get(source_id)
    if record is None:
        return None
    try:
        stored = SourceSettings.model_validate(record.settings)
        make_source(stored)
    except Exception:
        return None
    return stored


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):  # in the words the config's own errors use
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {reason(error)}" if where else reason(error)
    if isinstance(exc, KeyError):
        return f"unknown kind {exc.args[0]!r}"
    return describe(exc)


def ledger_standings(settings: Settings, store: Store, now: datetime | None = None) -> list:
    """Each configured commitment's Standing, from the record and the people's marks."""
    now = now or datetime.now(UTC)
    recorded: dict[str, list[Milestone]] = {}
    for d in reversed(store.ledger.developments()):
        recorded.setdefault(d.commitment_id, []).append(Milestone(london_date(d.detected_at), d.title, d.url))
    marks = {cid: Mark(m.state, m.note, m.marked_at) for cid, m in store.ledger.latest_marks().items()}
    restated = store.ledger.restated()
    return [standing(c, recorded.get(c.id, []), marks.get(c.id), now, restated.get(c.id, ()))
            for c in settings.commitments]



def record_due_events(settings: Settings, store: Store, now: datetime | None = None) -> list:
    """Record overdue events and reminders that are due now; return them."""
    now = now or datetime.now(UTC)
    every = timedelta(seconds=settings.ledger.reminder_every)
    past: dict[str, list] = {}
    for earlier in store.ledger.events():
        past.setdefault(earlier.commitment_id, []).append((earlier.kind, earlier.expected_by, earlier.at))
    recorded = []
    for position in ledger_standings(settings, store, now):
        event = due_event(position, past.get(position.commitment.id, []), now, every)
        if event is None:
            continue
        # A reminder stands unless another process reminded within the period; the first
        # overdue event stands unless one was ever recorded for this date.
        since = now - every + timedelta(seconds=1) if event.kind == "reminder" else None
        if store.ledger.record_event(event.commitment_id, event.kind, event.expected_by, now, unless_since=since,
                                     notifications=for_commitment(settings, event.kind, event.commitment_id)):
            recorded.append(event)
    return recorded


def _result(source_id: str, outcome: str, meta: CheckMeta, **extra) -> CheckResult:
    return CheckResult(source_id, outcome, meta.duration_ms, meta.size, **extra)


def _describe_first(document) -> str:
    return f"first snapshot: {document.title!r}, {len(document.blocks)} text blocks, {len(document.items)} items"


def _ms(clock: float) -> int:
    return int((time.perf_counter() - clock) * 1000)
