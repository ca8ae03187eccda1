"""What a person sees when sendwatch cannot do what they asked: the real command in its own
process, one line on standard error naming the problem, exit status 2, nothing lost.

The full disk is reproduced with RLIMIT_FSIZE in the child (SIGXFSZ ignored, so writes
past the limit fail with EFBIG instead of killing it): SQLite reports that as "disk I/O
error" (a real ENOSPC would read "database or disk is full"; both take the same path).
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import config_head
from tests.mailserver import free_port

ROOT = Path(__file__).resolve().parents[1]
HUGE = "99999999999999999999"  # beyond any database integer


def sendwatch(tmp_path: Path, *args: str, file_size_limit: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run([sys.executable, "-m", "monitor.app.cli", "--config", str(tmp_path / "sendwatch.toml"),
                           *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=limit_writes if file_size_limit is not None else None)


def the_one_line(result: subprocess.CompletedProcess, command: str) -> str:
    """The error line, after checking it is all there is (``serve`` logs that it is starting first)."""
    lines = result.stderr.splitlines()
    if command == "serve" and lines and "starting pid=" in lines[0]:
        lines = lines[1:]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def write_config(tmp_path: Path, head: str, sources: str = "") -> None:
    (tmp_path / "sendwatch.toml").write_text(head + "\n[web]\nport = 0\n" + sources, encoding="utf-8")


A_SOURCE = '[[source]]\nid = "a"\nurl = "http://127.0.0.1:9/a"\n'


@pytest.mark.parametrize("args, message", [
    (["explain", HUGE], f"sendwatch explain: argument CHANGE_ID: there is no change {HUGE}"),
    (["explain", "-1"], "sendwatch explain: argument CHANGE_ID: there is no change -1"),
    (["diff", "a", "--from", HUGE, "--to", "1"], f"sendwatch diff: argument --from: there is no snapshot {HUGE}"),
    (["history", "a", "--checks", HUGE], f"sendwatch history: argument --checks: {HUGE} is too large"),
    (["history", "a", "--checks", "-1"],
     "sendwatch history: argument --checks: expected a whole number of at least 0, got '-1'"),
    (["changes", "--limit", HUGE], f"sendwatch changes: argument --limit: {HUGE} is too large"),
    (["changes", "--limit", "-3"],
     "sendwatch changes: argument --limit: expected a whole number of at least 1, got '-3'"),
])
def test_a_number_out_of_range_is_one_line_and_exit_2(tmp_path, args, message):
    write_config(tmp_path, config_head(f"sqlite:///{tmp_path / 'sendwatch.db'}"), A_SOURCE)
    line = the_one_line(sendwatch(tmp_path, *args), args[0])
    assert line.startswith(message), line
    assert line.endswith(f"(see: sendwatch {args[0]} --help)")


@pytest.mark.parametrize("args, record", [(["explain", "3000000000"], "change 3000000000"),
                                          (["diff", "a", "--from", "1", "--to", "3000000000"], "snapshot 3000000000")])
def test_an_id_beyond_what_the_database_holds_is_no_such_record(tmp_path, database_url, args, record):
    # Between PostgreSQL's largest integer (ids are 32-bit there) and SQLite's.
    write_config(tmp_path, config_head(database_url), A_SOURCE)
    line = the_one_line(sendwatch(tmp_path, *args), args[0])
    assert f": there is no {record} (" in line, line


def test_export_into_a_missing_folder_or_onto_a_folder_is_one_line_and_exit_2(tmp_path):
    write_config(tmp_path, config_head(f"sqlite:///{tmp_path / 'sendwatch.db'}"))
    missing = the_one_line(sendwatch(tmp_path, "export", "--output", str(tmp_path / "no" / "ledger.json")), "export")
    assert missing == f"sendwatch: --output {tmp_path / 'no' / 'ledger.json'}: the folder {tmp_path / 'no'} " \
                      "does not exist"
    folder = the_one_line(sendwatch(tmp_path, "export", "--output", str(tmp_path)), "export")
    assert folder.startswith(f"sendwatch: --output {tmp_path}: is a folder; give a file name")


def test_an_export_the_disk_cannot_hold_leaves_the_earlier_one_whole(tmp_path):
    # Enough commitments for an export of about 65 KB; the limit lets the database be read.
    commitments = "".join(
        f'[[commitment]]\nid = "c{n}"\ntitle = "Commitment {n}"\npromise = "{"A promise made in words. " * 12}"\n'
        f'made_in = "A response"\nmade_on = 2020-07-23\nphrases = ["phrase {n}"]\n' for n in range(100))
    write_config(tmp_path, config_head(f"sqlite:///{tmp_path / 'sendwatch.db'}"), commitments)
    ledger = tmp_path / "ledger.json"
    assert sendwatch(tmp_path, "export", "--output", str(ledger)).returncode == 0
    earlier = ledger.read_bytes()
    assert len(earlier) > 50_000

    line = the_one_line(sendwatch(tmp_path, "export", "--output", str(ledger), file_size_limit=40_000), "export")
    assert line == f"sendwatch: --output {ledger}: cannot write it: File too large"
    assert ledger.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".ledger")) == []


def unusable_database(kind: str) -> str:
    """The URL of a database that cannot be used: on a closed port of this machine, or
    missing from the tests' PostgreSQL server."""
    if kind == "unreachable":
        return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/sendwatch"
    server = make_url(os.environ["SENDWATCH_TEST_DATABASE_URL"])
    return server.set(database=f"sendwatch_missing_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)


@pytest.mark.parametrize("command", ["check", "sources", "serve"])
@pytest.mark.parametrize("kind", ["unreachable"] + (["missing"] if os.environ.get("SENDWATCH_TEST_DATABASE_URL")
                                                     else []))
def test_a_database_that_cannot_be_used_is_one_line_and_exit_2(tmp_path, command, kind):
    url = unusable_database(kind)
    write_config(tmp_path, f'data_dir = "{tmp_path / "data"}"\n' + config_head(url), A_SOURCE)
    line = the_one_line(sendwatch(tmp_path, command), command)
    shown = make_url(url).render_as_string(hide_password=True)
    assert line.startswith(f"sendwatch: cannot use the database {shown}: "), line
    if kind == "missing":
        assert line.endswith(f'database "{make_url(url).database}" does not exist'), line
    else:
        assert line.endswith("Connection refused"), line


@pytest.mark.parametrize("command", ["init", "check", "sources", "serve"])
def test_a_data_dir_that_cannot_be_created_is_one_line_and_exit_2(tmp_path, command):
    (tmp_path / "a-file").write_text("not a folder")
    data_dir = tmp_path / "a-file" / "data"
    write_config(tmp_path, f'data_dir = "{data_dir}"\n[fetch]\ncontact = "tests@example.org"\n', A_SOURCE)
    line = the_one_line(sendwatch(tmp_path, command), command)
    assert line == f"sendwatch: {data_dir}: Not a directory"


def big_page(seed: int) -> str:
    words = random.Random(seed)
    text = " ".join(f"{words.choice(['plan', 'review', 'code', 'support'])}{words.randrange(10**6)}"
                    for _ in range(8000))
    return f"<html><head><title>Page {seed}</title></head><body><main><p>{text}</p></main></body></html>"


@pytest.mark.parametrize("command", ["check", "sources", "serve"])
def test_a_full_disk_at_start_is_one_line_and_exit_2(tmp_path, command):
    write_config(tmp_path, f'data_dir = "{tmp_path / "data"}"\n[fetch]\ncontact = "tests@example.org"\n', A_SOURCE)
    line = the_one_line(sendwatch(tmp_path, command, file_size_limit=0), command)
    assert line == f"sendwatch: cannot use the database sqlite:///{tmp_path / 'data' / 'sendwatch.db'}: " \
                   "disk I/O error"


def test_a_disk_that_fills_during_a_check_is_one_line_and_exit_2_and_corrupts_nothing(tmp_path, site):
    sources = ""
    for n in range(6):
        site.page(f"/p{n}", big_page(n))
        sources += f'[[source]]\nid = "p{n}"\nurl = "{site.url(f"/p{n}")}"\n'
    write_config(tmp_path, config_head(f"sqlite:///{tmp_path / 'sendwatch.db'}"), sources)
    assert sendwatch(tmp_path, "sources").returncode == 0  # the database, made while there is room
    room = (tmp_path / "sendwatch.db").stat().st_size + 40_000  # less than the six pages' snapshots

    line = the_one_line(sendwatch(tmp_path, "check", file_size_limit=room), "check")
    assert line == f"sendwatch: cannot use the database sqlite:///{tmp_path / 'sendwatch.db'}: disk I/O error"

    # With room again, the next pass records every page: nothing half-written is in the way.
    again = sendwatch(tmp_path, "check")
    assert again.returncode == 0, again.stderr
    outcomes = [line.split()[0] for line in again.stdout.splitlines() if line.startswith(("first", "unchanged",
                                                                                            "failed"))]
    assert len(outcomes) == 6 and set(outcomes) <= {"first", "unchanged"}, again.stdout


@pytest.mark.skipif(not os.environ.get("SENDWATCH_TEST_DATABASE_URL"), reason="needs the tests' PostgreSQL server")
@pytest.mark.parametrize("command", ["check", "sources"])
def test_a_database_that_refuses_for_want_of_permission_is_one_line_and_exit_2(tmp_path, command):
    # Reachable, but the role may not create sendwatch's tables (PostgreSQL 15's default
    # for a role that does not own the schema).
    from sqlalchemy import create_engine, text

    server = make_url(os.environ["SENDWATCH_TEST_DATABASE_URL"])
    name, role = f"sendwatch_noperm_{uuid.uuid4().hex[:8]}", f"sw_reader_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    on_it = create_engine(server.set(database=name), isolation_level="AUTOCOMMIT")
    with on_it.connect() as conn:
        conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    on_it.dispose()
    try:
        url = server.set(database=name, username=role, password=None).render_as_string(hide_password=False)
        write_config(tmp_path, f'data_dir = "{tmp_path / "data"}"\n' + config_head(url), A_SOURCE)
        line = the_one_line(sendwatch(tmp_path, command), command)
        assert line.startswith(f"sendwatch: the database {make_url(url).render_as_string(hide_password=True)} "
                               "refused: permission denied for schema public"), line
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
