"""bench/floor.py, the benchmark's floor, against a local site: it must keep running as the
code it measures changes (the benchmark itself needs urlwatch from PyPI, so it is not run here)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "<html><head><title>T</title></head><body><main id='content'><p>{}</p></main></body></html>"


@pytest.mark.parametrize("step", ["start-up", "httpx", "fetcher", "parse"])
def test_the_floor_measures_each_step_on_the_site(site, tmp_path, step):
    bodies = [PAGE.format("x" * (100 * n)).encode() for n in range(1, 4)]
    for n, body in enumerate(bodies):
        site.page(f"/p{n}", body)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(f"/p{n}") + "\n" for n in range(len(bodies))), encoding="utf-8")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "floor.py"), step, str(urls), "2"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["step"] == step
    assert result["bytes"] == (0 if step == "start-up" else sum(map(len, bodies)))
    assert ("parse_cpu" in result) == (step == "parse")
    assert len(site.requests) == (0 if step == "start-up" else len(bodies))
