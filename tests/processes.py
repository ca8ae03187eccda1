"""Real ``sendwatch check`` processes over many sources of a local site, and their record.

Shared by the tests where several processes, or a killed one, record the same sources.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import create_engine, select

from storage.models import ChangeRecord, SnapshotRecord, SourceRecord
from tests.conftest import CODE_OF_PRACTICE, Reply, config_head

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = 3
SOURCES = 12
HOLD = 5.0  # seconds an answer waits for the other processes at most


def page(path: str, version: str) -> bytes:
    return (f"<html><head><title>SEND code of practice {path}</title></head><body><main>"
            f"<h1>SEND code of practice {path}</h1><p>SEN support guidance, version {version}.</p>"
            f"</main></body></html>").encode()


def held_until_all_ask(path: str, version) -> Reply:
    """An answer given once PROCESSES requests for it have arrived (or HOLD has passed).
    ``version`` is a string, or a callable giving each request its own version."""
    arrived = threading.Barrier(PROCESSES)

    def body() -> bytes:
        try:
            arrived.wait(HOLD)
        except threading.BrokenBarrierError:
            pass  # a slow process: answer anyway, the assertions hold whatever the order
        return page(path, version() if callable(version) else version)

    return Reply(body=body)


class Watch:
    def __init__(self, tmp_path: Path, site, database_url: str, extra: str = "") -> None:
        self.tmp_path, self.site, self.database_url = tmp_path, site, database_url
        self.config = tmp_path / "sendwatch.toml"
        sources = "".join(f'[[source]]\nid = "p{n}"\nurl = "{site.url(f"/p{n}")}"\n'
                          f'commitments = ["code-of-practice"]\n' for n in range(SOURCES))
        self.config.write_text(
            f'data_dir = "{tmp_path / "data"}"\n'
            + config_head(database_url, per_host_concurrency=SOURCES, read_timeout=30, total_timeout=40)
            + extra + CODE_OF_PRACTICE + '[[recipient]]\nemail = "forum@example.org"\n' + sources)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
        self.env.update(XDG_DATA_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path),
                        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))

    def serve_pages(self, version) -> None:
        for n in range(SOURCES):
            self.site.set(f"/p{n}", held_until_all_ask(f"/p{n}", version))

    def start_check(self) -> subprocess.Popen:
        command = [sys.executable, "-m", "monitor.app.cli", "--config", str(self.config), "check"]
        return subprocess.Popen(command, cwd=self.tmp_path, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def check(self) -> subprocess.CompletedProcess:
        process = self.start_check()
        out, err = process.communicate(timeout=120)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def check_at_once(self) -> list[subprocess.CompletedProcess]:
        processes = [self.start_check() for _ in range(PROCESSES)]
        done = []
        for process in processes:
            out, err = process.communicate(timeout=120)
            done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
        return done

    def rows(self, model):
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(select(model)).all()
        finally:
            engine.dispose()


def lines_for(run: subprocess.CompletedProcess, source_id: str) -> list[str]:
    return [line for line in run.stdout.splitlines() if line.split()[1:2] == [source_id]]


def assert_no_failures(runs: list[subprocess.CompletedProcess]) -> None:
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert not [line for line in run.stdout.splitlines() if line.startswith("failed")], run.stdout
        assert "Traceback" not in run.stderr, run.stderr


def assert_every_version_made_current_by_a_change(watch: Watch) -> None:
    """Per source, the changes form one chain from the first snapshot to the current one:
    no version became current without the change that leads to it, none twice."""
    changes = sorted(watch.rows(ChangeRecord.__table__), key=lambda c: c.id)
    firsts = {}
    for snapshot in sorted(watch.rows(SnapshotRecord.__table__), key=lambda s: s.id):
        firsts.setdefault(snapshot.source_id, snapshot.id)
    for source in watch.rows(SourceRecord.__table__):
        chain = [c for c in changes if c.source_id == source.id]
        at = firsts[source.id]
        for change in chain:
            assert change.from_snapshot_id == at, f"{source.id}: change {change.id} does not follow {at}"
            assert change.to_snapshot_id != at
            at = change.to_snapshot_id
        assert source.current_snapshot_id == at, f"{source.id}: current version {source.current_snapshot_id} " \
                                                 f"has no change leading to it (last change ends at {at})"
