"""bench/floor.py and bench/benchmark.py against a local site: they must keep running as the
code they measure changes (the benchmark runs here without urlwatch, which comes from PyPI)."""

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


def test_the_benchmark_scores_sendwatch_configured_as_the_readme_says(tmp_path):
    figures = tmp_path / "run.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "benchmark.py"), "--tools", "sendwatch",
                           "--pages", "6", "--size", "8000", "--passes", "1", "--change-fraction", "0.34",
                           "--etag", "--no-floor", "--workdir", str(tmp_path / "out"), "--json", str(figures)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(figures.read_text(encoding="utf-8"))
    assert 'selector = "main"' in result["setting"]["tools"]
    first, change = result["passes"]
    assert (first["kind"], first["new"], first["errors"], first["false"]) == ("first", 6, 0, 0)
    assert (change["kind"], change["real_changes"], change["found"], change["false"]) == ("change", 2, 2, 0)
    # the four unchanged pages were asked for conditionally and answered 304
    assert change["server"]["not_modified"] == 4
    assert "figures written to" in done.stdout
