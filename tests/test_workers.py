"""Pages parsed in worker processes (monitor/app/pool.py): the same record as without them,
a worker that dies or hangs fails one source's check and never the pass, and the setting.

Everything runs against the real local site, real worker processes and a real database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re

import pytest

from config import ConfigError, load_settings
from monitor.app import check
from monitor.app.check import check_sources
from monitor.app.pool import WorkerPool
from monitor.sources import KINDS
from storage import Store
from tests import worker_faults
from tests.conftest import Reply, config_head
from tests.govuk_site import PageContent, render_govuk_page

PAGES = check.POOL_FROM  # enough for ``sendwatch check`` to start worker processes


def govuk_page(n: int, version: int = 1, *, charset: str = "utf-8") -> bytes:
    content = PageContent(
        title=f"SEND guidance {n}",
        summary=f"What local authorities must do, part {n}.",
        body=["## Overview", f"Paragraph {n} of the guidance, version {version}.",
              "- EHC plans within 20 weeks", "- Annual reviews", "## Next steps", "Consultation responses."],
        attachments=[(f"Annex {n} (version {version})", f"https://assets.publishing.service.gov.uk/annex-{n}.pdf",
                      "PDF, 120 KB, 8 pages")] if n % 3 == 0 else [],
        change_history=[("2025-03-01T09:30:00Z", "First published.")]
                       + ([("2025-06-01T09:30:00Z", f"Version {version}.")] if version > 1 else []),
        base_path=f"/guidance/{n}",
    )
    return render_govuk_page(content, noise_seed=n * 10 + version, charset=charset).encode(charset)


def serve_guidance(site, version: int) -> list[str]:
    """PAGES GOV.UK pages, some of them awkward; the paths served."""
    paths = []
    for n in range(PAGES):
        path = f"/guidance/{n}"
        if n == 1:
            site.page(path, govuk_page(n, version, charset="windows-1252"),
                      content_type="text/html; charset=windows-1252")
        elif n == 2:
            site.set(path, Reply(govuk_page(n, version), gzip=True))
        elif n == 3:  # not a page at all: refused before any parsing
            site.set(path, Reply(b"%PDF-1.7 ...", content_type="application/pdf"))
        else:
            site.page(path, govuk_page(n, 1 if n % 2 else version))
        paths.append(path)
    return paths


def write_config(directory, site, paths, database_url: str, workers: int | None, selector: dict | None = None):
    directory.mkdir(exist_ok=True)
    lines = [f"workers = {workers}"] if workers is not None else []
    text = "\n".join(lines) + "\n" + config_head(database_url)
    for path in paths:
        text += f'[[source]]\nid = "{path.strip("/").replace("/", "-")}"\nurl = "{site.url(path)}"\n'
        if (selector or {}).get(path):
            text += f'selector = "{selector[path]}"\n'
    (directory / "sendwatch.toml").write_text(text, encoding="utf-8")
    return directory / "sendwatch.toml"


def record_of(database_url: str) -> dict:
    """What the record holds per source: the current document and the latest check's outcome."""
    with Store(database_url) as store:
        out = {}
        for source in store.sources.all():
            state = store.sources.state(source.id)
            document = store.history.document(state.snapshot_id) if state.snapshot_id is not None else None
            out[source.id] = (document.to_dict() if document else None, state.content_hash, state.consecutive_failures)
        return out


def test_a_check_with_worker_processes_records_what_one_without_them_records(sendwatch, site, tmp_path, caplog):
    paths = serve_guidance(site, version=1)
    narrow = {"/guidance/4": "main .govuk-govspeak", "/guidance/5": "#no-such-element"}
    configs = {workers: write_config(tmp_path / f"w{workers}", site, paths,
                                     f"sqlite:///{tmp_path / f'w{workers}.db'}", workers, narrow)
               for workers in (0, 2)}
    outputs: dict[int, list[str]] = {0: [], 2: []}
    for version in (1, 2):
        serve_guidance(site, version)
        for workers, config in configs.items():
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="sendwatch"):
                result = sendwatch("--config", str(config), "check")
            assert result.code == 0, result.err
            # A change's number is the order changes were recorded in, which the pages' timing decides.
            outputs[workers].append(re.sub(r" \[change \d+\]", "", result.out))
            started = [r for r in caplog.records if "worker process" in r.getMessage()]
            assert bool(started) == (workers == 2), [r.getMessage() for r in caplog.records]
            assert not [r for r in caplog.records if "could not start" in r.getMessage()]

    assert outputs[0] == outputs[2]
    second = outputs[2][1]
    assert "changed" in second and "failed" in second
    assert "matched nothing" in second and "expected an HTML page" in second
    assert record_of(f"sqlite:///{tmp_path / 'w0.db'}") == record_of(f"sqlite:///{tmp_path / 'w2.db'}")
    for workers, config in configs.items():
        changes = json.loads(sendwatch("--config", str(config), "changes", "--json").out)
        assert len(changes) == PAGES // 2 + 1, workers  # the even pages and the windows-1252 one


def settings_for(tmp_path, site, paths, database_url):
    return load_settings(write_config(tmp_path / "cfg", site, paths, database_url, workers=None), kinds=KINDS)


def check_with(settings, database_url, pool) -> dict:
    async def run():
        async with pool:
            return await check_sources(settings, store, workers=pool)

    with Store(database_url) as store:
        store.migrate()
        return {r.source_id: r for r in asyncio.run(run())}


def test_a_page_that_kills_its_worker_fails_that_check_and_the_pass_goes_on(site, tmp_path, database_url,
                                                                               monkeypatch):
    # The stand-in reads every page as the real extraction does, except the one that crashes it.
    monkeypatch.setattr("monitor.sources.page.extract_page", worker_faults.extract_page)
    paths = []
    for n in range(12):
        body = govuk_page(n)
        if n == 5:
            body = body.replace(b"<body", worker_faults.CRASH + b"<body", 1)
        site.page(f"/p{n}", body)
        paths.append(f"/p{n}")
    settings = settings_for(tmp_path, site, paths, database_url)

    pool = WorkerPool(1)
    results = check_with(settings, database_url, pool)

    crashed = results.pop("p5")
    assert crashed.outcome == "failed"
    assert "worker process reading it ended (killed by signal SIGSEGV)" in crashed.error
    assert pool.lost == 1
    # Every other page was read, those queued behind the crash in the dead worker's pipe included.
    assert {r.outcome for r in results.values()} == {"first"}, {k: r.error for k, r in results.items()}

    # Next time the page is fine: its first snapshot, nothing lost or invented meanwhile.
    site.page("/p5", govuk_page(5))
    again = check_with(settings, database_url, WorkerPool(1))
    assert again["p5"].outcome == "first"
    assert {r.outcome for k, r in again.items() if k != "p5"} == {"unchanged"}


def test_a_page_that_hangs_its_worker_fails_after_the_job_timeout(site, tmp_path, database_url, monkeypatch):
    monkeypatch.setattr("monitor.sources.page.extract_page", worker_faults.extract_page)
    site.page("/stuck", govuk_page(1).replace(b"<body", worker_faults.HANG + b"<body", 1))
    site.page("/fine", govuk_page(2))
    settings = settings_for(tmp_path, site, ["/stuck", "/fine"], database_url)

    results = check_with(settings, database_url, WorkerPool(1, job_timeout=1.0))

    assert results["stuck"].outcome == "failed"
    assert "took longer than 1 s" in results["stuck"].error
    assert results["fine"].outcome == "first"


def test_workers_that_cannot_start_leave_the_pages_to_this_process(site, tmp_path, database_url, caplog):
    site.page("/a", govuk_page(1))
    site.page("/b", govuk_page(2))
    settings = settings_for(tmp_path, site, ["/a", "/b"], database_url)

    with caplog.at_level(logging.WARNING, logger="sendwatch.pool"):
        results = check_with(settings, database_url, WorkerPool(2, preload=("monitor.no_such_module",)))

    assert {r.outcome for r in results.values()} == {"first"}
    (warning,) = [r.getMessage() for r in caplog.records if "could not start" in r.getMessage()]
    assert "exited with status 1" in warning and "reading pages in this process" in warning


def test_closing_the_pool_ends_and_reaps_its_workers():
    async def run() -> list[int]:
        pool = WorkerPool(2)
        await pool.start()
        first = await pool(len, b"abc")
        assert first == 3
        pids = [w.process.pid for w in pool._workers]
        await pool.close()
        return pids

    pids = asyncio.run(run())
    assert pids
    for pid in pids:
        with pytest.raises(ProcessLookupError):  # gone and waited for: no zombie left
            os.kill(pid, 0)


@pytest.mark.parametrize(("value", "words"), [
    ("-1", "greater than or equal to 0"),
    ('"many"', "valid integer"),
    ("1000", "less than or equal to 256"),
])
def test_the_workers_setting_is_checked_with_the_config(tmp_path, value, words):
    config = tmp_path / "sendwatch.toml"
    config.write_text(f"workers = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, kinds=KINDS)
    message = str(caught.value)
    assert str(config) in message and "workers" in message and words in message, message


@pytest.mark.parametrize(("workers", "cores", "processes"), [(None, 2, 1), (None, 1, 0), (0, 8, 0), (1, 8, 0),
                                                             (3, 1, 2)])
def test_workers_counts_the_processes_of_a_check_the_main_one_included(monkeypatch, workers, cores, processes):
    from config.settings import Settings

    monkeypatch.setattr(check, "machine_cores", lambda: cores)
    assert check.worker_processes(Settings(workers=workers)) == processes


def test_a_pass_cancelled_while_a_worker_is_busy_leaves_no_worker_behind(site, tmp_path, database_url,
                                                                          monkeypatch):
    # As Ctrl-C does to `sendwatch check`: the pass is cancelled with a page in a worker.
    monkeypatch.setattr("monitor.sources.page.extract_page", worker_faults.extract_page)
    site.page("/stuck", govuk_page(1).replace(b"<body", worker_faults.HANG + b"<body", 1))
    settings = settings_for(tmp_path, site, ["/stuck"], database_url)
    pool = WorkerPool(1)
    pids = []

    async def run():
        with Store(database_url) as store:
            store.migrate()
            task = asyncio.ensure_future(check_sources(settings, store, workers=pool))
            while not (pool._workers and pool._workers[0].pending):  # the page has gone to the worker
                await asyncio.sleep(0.01)
            pids.append(pool._workers[0].process.pid)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await pool.close()

    asyncio.run(run())
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
