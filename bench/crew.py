"""Workers sharing the checks through PostgreSQL: throughput, CPU, lag, and a worker killed.

A local site of N small pages (a separate process, politeness off: no per-host delay, no
per-host concurrency limit that would bind), one fresh PostgreSQL database per run, and
W ``sendwatch worker`` processes. Per worker count:

- first pass: every source's first check; the time from the workers' start until every
  source has its first version recorded;
- change pass: 10% of pages changed, every source made due (its last check set two hours
  back, as if the interval had passed), the time until every source is checked again;
- checks per second, CPU per check (the workers' user+system time, from /proc, over the
  checks they made; PostgreSQL's own CPU is not counted), lag (how late each check
  started against its scheduled time: the workers' ``lag_ms``), and checks of one page
  running at once (counted by the site: must be 0), and sources checked more than once in
  a pass, and changes recorded twice (must be 0);
- with ``--kill``: one worker killed with SIGKILL when a third of the change pass is done;
  then whether every source is still checked, every change recorded once, and how long
  after the kill the killed worker's checks were checked again.

    .venv/bin/python bench/crew.py                          # 10,000 pages; 1, 2 and 4 workers; a kill
    .venv/bin/python bench/crew.py --pages 1000 --workers 2 # a quick run

It is a benchmark, not a test: it prints figures and fails nothing. It needs PostgreSQL on
127.0.0.1:5432 (trust auth, user postgres) and creates and drops databases there.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgresql://postgres@127.0.0.1:5432/"
TICK = 1  # seconds: how often the workers queue due checks (the default 10 s would add 10 s of lag a pass)


# -- the site ------------------------------------------------------------------------------------------


def page(index: int, version: int) -> bytes:
    body = "".join(f"<p>Paragraph {n} of page {index}: guidance on special educational needs support, "
                   f"version {version if n == 3 else 1}.</p>" for n in range(12))
    return (f"<!DOCTYPE html><html><head><title>Page {index}</title></head><body><header>GOV.UK</header>"
            f"<main><h1>Page {index}</h1>{body}</main><footer>Crown copyright</footer></body></html>").encode()


def serve(conn, pages: int) -> None:
    versions = [1] * pages
    flights: dict[int, int] = {}
    most = [0]
    twice = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            match = re.fullmatch(r"/p(\d+)", self.path)
            if not match or int(match[1]) >= pages:
                self.send_error(404)
                return
            index = int(match[1])
            with lock:
                flights[index] = flights.get(index, 0) + 1
                most[0] = max(most[0], flights[index])
                if flights[index] > 1:
                    twice[0] += 1
            try:
                body = page(index, versions[index])
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            finally:
                with lock:
                    flights[index] -= 1

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    while True:
        what, value = conn.recv()
        if what == "change":
            for index in value:
                versions[index] += 1
            conn.send(None)
        elif what == "stats":
            conn.send({"most_at_once": most[0], "overlapping_requests": twice[0]})
        else:
            server.shutdown()
            conn.send(None)
            return


class Site:
    def __init__(self, pages: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child, pages), daemon=True)
        self.process.start()
        self.port = self.conn.recv()

    def ask(self, what: str, value=None):
        self.conn.send((what, value))
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.process.join(5)


# -- one run -------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Run:
    def __init__(self, directory: Path, pages: int, workers: int, site: Site, concurrency: int) -> None:
        self.directory, self.pages, self.workers, self.site = directory, pages, workers, site
        self.database = f"sendwatch_crew_bench_{workers}"
        with psycopg.connect(SERVER + "postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {self.database}")
        self.url = SERVER + self.database
        self.config = directory / "sendwatch.toml"
        sources = "".join(f'[[source]]\nid = "p{i}"\nkind = "page"\nurl = "http://127.0.0.1:{site.port}/p{i}"\n'
                          f'interval = "1h"\nselector = "main"\n' for i in range(pages))
        self.config.write_text(
            f'database_url = "postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}"\n'
            f'data_dir = "{directory / "data"}"\n'
            '[fetch]\ncontact = "bench@example.org"\nper_host_delay = 0\nper_host_concurrency = 100\n'
            '[service]\njitter = 0\n'
            f'[cluster]\ntick = {TICK}\nconcurrency = {concurrency}\n'
            '[web]\nenabled = false\n' + sources)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
        self.env["PYTHONPATH"] = str(ROOT)
        self.processes: list[subprocess.Popen] = []
        self.cpu: dict[int, float] = {}

    def start_workers(self) -> None:
        for n in range(self.workers):
            log = open(self.directory / f"worker-{n}.log", "w")  # noqa: SIM115 (the process's own)
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "monitor.app.cli", "--config", str(self.config), "worker"],
                cwd=self.directory, env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def sample_cpu(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    self.cpu[process.pid] = cpu_seconds(process.pid)
                except OSError:
                    pass

    def scalar(self, sql: str):
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql).fetchone()[0]

    def wait(self, sql: str, target: int, limit: float = 3600) -> float:
        started = time.monotonic()
        while time.monotonic() - started < limit:
            if all(p.poll() is not None for p in self.processes):
                raise SystemExit(f"every worker exited; see {self.directory}/worker-*.log: "
                                 + (self.directory / "worker-0.log").read_text()[-2000:])
            self.sample_cpu()
            try:
                if self.scalar(sql) >= target:
                    return time.monotonic() - started
            except psycopg.errors.UndefinedTable:
                pass
            time.sleep(0.25)
        raise SystemExit(f"timed out waiting for: {sql}")

    def log_lengths(self) -> list[int]:
        return [len((self.directory / f"worker-{n}.log").read_text().splitlines()) for n in range(self.workers)]

    def lags(self, since: list[int] | None = None) -> list[float]:
        """Each check's lag (``lag_ms``) from the workers' logs, after line ``since[n]`` of worker n."""
        lags = []
        for n in range(self.workers):
            lines = (self.directory / f"worker-{n}.log").read_text().splitlines()
            for line in lines[since[n] if since else 0:]:
                if match := re.search(r" check worker=\S+ source=\S+ status=(?!skipped)\S+ .*lag_ms=(\d+)", line):
                    lags.append(int(match[1]) / 1000)
        return lags

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            process.wait(60)
        with psycopg.connect(SERVER + "postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    return (f"median {statistics.median(values):.1f} s, p95 {values[int(0.95 * (len(values) - 1))]:.1f} s, "
            f"max {values[-1]:.1f} s")


def one(directory: Path, pages: int, workers: int, concurrency: int, kill: bool) -> dict:
    site = Site(pages)
    run = Run(directory, pages, workers, site, concurrency)
    result: dict = {"workers": workers, "pages": pages}
    try:
        run.start_workers()
        first = run.wait("SELECT count(DISTINCT source_id) FROM snapshots", pages)
        run.sample_cpu()
        cpu_first = sum(run.cpu.values())
        result["first"] = {"seconds": round(first, 1), "checks_per_s": round(pages / first, 1),
                           "cpu_ms_per_check": round(1000 * cpu_first / pages, 2), "lag": summary(run.lags())}
        lines = run.log_lengths()

        changed = list(range(0, pages, 10))
        site.ask("change", changed)
        checks_before = run.scalar("SELECT count(*) FROM checks")
        with psycopg.connect(run.url, autocommit=True) as conn:
            conn.execute("UPDATE sources SET last_checked_at = now() - interval '2 hours'")
            started_at = conn.execute("SELECT now()").fetchone()[0].isoformat()
        due_sql = f"SELECT count(*) FROM sources WHERE last_checked_at >= '{started_at}'"
        before_kill = 0.0
        if kill and workers > 1:
            before_kill = run.wait(due_sql, pages // 3)
            run.sample_cpu()  # the victim's CPU up to its death counts
            victim = run.processes[-1]
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
        after = run.wait(due_sql, pages)
        change = before_kill + after
        run.sample_cpu()
        cpu_change = sum(run.cpu.values()) - cpu_first
        checks = run.scalar("SELECT count(*) FROM checks") - checks_before
        result["change"] = {
            "seconds": round(change, 1), "checks_per_s": round(pages / change, 1),
            "cpu_ms_per_check": round(1000 * cpu_change / max(1, checks), 2), "lag": summary(run.lags(lines)),
            "changes_recorded": run.scalar("SELECT count(*) FROM changes"), "changes_made": len(changed),
            "checks_recorded": checks,
            "sources_checked_twice": run.scalar(
                f"SELECT count(*) FROM (SELECT source_id FROM checks WHERE started_at >= '{started_at}' "
                "GROUP BY source_id HAVING count(*) > 1) twice"),
        }
        if kill and workers > 1:
            handed = sum(1 for n in range(workers - 1) for line in
                         (directory / f"worker-{n}.log").read_text().splitlines() if " lost job=" in line)
            result["kill"] = {"jobs_handed_on": handed, "from_kill_until_every_source_checked_s": round(after, 1)}
        result["site"] = site.ask("stats")
    finally:
        run.stop()
        site.stop()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=10, help="checks at once per worker")
    parser.add_argument("--no-kill", action="store_true", help="no worker killed in the change pass")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory(prefix="sendwatch-crew-") as directory:
            result = one(Path(directory), args.pages, workers, args.concurrency, kill=not args.no_kill)
        results.append(result)
        print(json.dumps(result), flush=True)
    if args.json:
        return
    print(f"\n{args.pages} pages, concurrency {args.concurrency} per worker, tick {TICK} s, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    print("| workers | first pass | checks/s | CPU ms/check | change pass | checks/s | CPU ms/check | lag (change) "
          "| at once | checked twice | changes recorded / made |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        f, c = r["first"], r["change"]
        print(f"| {r['workers']} | {f['seconds']} s | {f['checks_per_s']} | {f['cpu_ms_per_check']} | {c['seconds']} s "
              f"| {c['checks_per_s']} | {c['cpu_ms_per_check']} | {c['lag']} "
              f"| {r['site']['overlapping_requests']} | {c['sources_checked_twice']} "
              f"| {c['changes_recorded']} / {c['changes_made']} |")
    for r in results:
        if "kill" in r:
            print(f"{r['workers']} workers, one killed with SIGKILL a third into the change pass: "
                  f"{r['kill']['jobs_handed_on']} job(s) handed on; every source checked "
                  f"{r['kill']['from_kill_until_every_source_checked_s']} s after the kill")


if __name__ == "__main__":
    main()
