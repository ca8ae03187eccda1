"""The layers keep their direction (README, Architecture): config, then the pure core, then
the record and the sources, then the application. The contract is in pyproject.toml.
And the code type-checks: mypy, configured there too ([tool.mypy])."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_every_import_runs_down_the_layers():
    result = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_code_type_checks():
    # One cold run over the files [tool.mypy] names, writing no cache: nothing is left in
    # the work tree, and a stale cache can never hide an error.
    result = subprocess.run([str(BIN / "mypy"), "--cache-dir", os.devnull], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout
