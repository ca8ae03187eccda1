"""What a person sees when sendwatch cannot do what they asked: the real command in its own
process, one line on standard error naming the problem, exit status 2, nothing lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import config_head

ROOT = Path(__file__).resolve().parents[1]
HUGE = "99999999999999999999"  # beyond any database integer


def sendwatch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(tmp_path / "sendwatch.toml"),
                           *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


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
