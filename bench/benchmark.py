"""sendwatch against urlwatch 2.29: same local site, same run, pass by pass.

What it measures
----------------
A local site of ``--pages`` GOV.UK-shaped publication pages (``tests/govuk_site.py``: the
full template around distinct content, padded to about ``--size`` bytes) is served from a
separate process on 127.0.0.1, so its CPU is counted for neither tool. Pass 0 is the first
fetch (the baseline); each later pass changes ``--change-fraction`` of the pages (chosen
from ``--seed``): a paragraph is edited, or an attachment is added with a change-history
entry, or both. Every response carries fresh per-response noise: each pass serves page
versions rendered with noise seeds never used before (the two fetches of a page in a pass
get different ones), and every single response also gets a freshly drawn CSRF token, so a
tool that diffed raw HTML would report every page as changed.

Each tool runs once per pass as a subprocess, and that subprocess is measured (by the small
launcher ``bench/measure.py``): wall time, CPU seconds (user + sys, from ``os.wait4``), peak
RSS (its ``ru_maxrss``), bytes it has stored on disk after the pass, and its report scored
against the truth: changes found, false changes (reported, not real) and missed ones (real,
not reported). The tools take turns going first. MB here is 10**6 bytes.

- sendwatch: ``sendwatch --config sendwatch.toml check`` with one ``[[source]]`` per page,
  ``per_host_concurrency`` = ``--concurrency`` (10, urlwatch's thread count) and no
  per-host delay. Stored: its SQLite database and WAL.
- urlwatch 2.29 (installed from PyPI into ``bench/.venv-urlwatch`` when missing), set up as
  a competent user would: one job per page with ``filter: [{css: main}, html2text]``, only
  the stdout text reporter, its own config, jobs and cache files (never ~/.config). It runs
  jobs on a fixed pool of 10 threads (``urlwatch.worker.MAX_WORKERS``) and has no per-host
  delay. Stored: its cache database.

The server's own CPU time during each run is printed too, to show it is not the bottleneck.

Run it
------
    .venv/bin/python bench/benchmark.py                 # 1,000 pages of 50 KB, 3 change passes
    .venv/bin/python bench/benchmark.py --pages 50      # a quick smoke run
    .venv/bin/python bench/benchmark.py --tools sendwatch --profile-sendwatch bench/out/prof
                                            # where sendwatch's time goes (py-spy, or --profiler cprofile)

Missing the target (sendwatch at most 0.5x urlwatch's CPU and wall time per change pass,
every real change found, no false one) is reported, not an error: the exit status is
non-zero only when the benchmark or one of the tools crashed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import itertools
import json
import multiprocessing
import os
import platform
import pstats
import random
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.govuk_site import PageContent, render_govuk_page  # noqa: E402

BENCH = ROOT / "bench"
URLWATCH_VENV = BENCH / ".venv-urlwatch"
URLWATCH_PACKAGES = ["urlwatch==2.29", "cssselect", "lxml", "html2text"]
TOOLS_VENV = BENCH / ".venv-tools"
PY_SPY_RATE = 250  # samples per second
MB = 1_000_000

# -- the site's content -----------------------------------------------------------------------

SUBJECTS = ["Local authorities", "Schools", "Further education colleges", "Integrated care boards",
            "Early years providers", "Special schools", "Parent carer forums", "Multi-academy trusts",
            "Alternative provision settings", "Health and social care partners"]
VERBS = ["must publish", "should review", "are expected to agree", "will report on", "need to consult on",
         "must keep under review", "should set out", "are funded to deliver", "have to explain",
         "will be inspected on"]
OBJECTS = ["the local offer", "education, health and care plans", "annual reviews",
           "high needs funding allocations", "transport arrangements for eligible pupils",
           "the local SEND and alternative provision partnership plan", "inclusion dashboards",
           "mediation and tribunal outcomes", "specialist placements", "support for children without a plan",
           "personal budgets", "preparation for adulthood"]
TAILS = ["within 20 weeks of a request", "by the end of the financial year", "in line with the Code of Practice",
         "with parents, carers and young people", "at least once a year", "before the start of the academic year",
         "using the national standards", "alongside health and social care partners",
         "and publish the results", "as set out in the improvement plan"]
TOPICS = ["High needs funding", "Area SEND inspections", "EHC plan timeliness", "Alternative provision",
          "Inclusion in mainstream schools", "Preparation for adulthood", "Home to school transport",
          "Early years SEND", "Tribunal and mediation", "Workforce and training"]
DOC_TYPES = ["Guidance", "Policy paper", "Statutory guidance", "Research and analysis", "Official statistics"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "September", "October", "November"]


def _sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))


def _attachment(rng: random.Random, index: int, title: str) -> tuple[str, str, str]:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    url = f"https://assets.publishing.service.gov.uk/media/{rng.getrandbits(48):012x}/{slug}-{index:04d}.pdf"
    return title, url, f"PDF, {rng.randint(80, 2400)} KB, {rng.randint(2, 120)} pages"


def page_path(index: int) -> str:
    return f"/government/publications/send-guidance-{index:04d}"


def page_id(index: int) -> str:
    return f"page-{index:04d}"


def page_content(index: int, seed: int) -> PageContent:
    """The first version of page ``index``: distinct, realistic-looking content."""
    rng = random.Random(seed * 1_000_003 + index)
    topic = rng.choice(TOPICS)
    body = ["## Overview", _paragraph(rng), _paragraph(rng), "## What this means for children and families"]
    body += [f"- {_sentence(rng)}" for _ in range(rng.randint(2, 4))]
    body.append(_paragraph(rng))
    if rng.random() < 0.5:
        body.append("> " + _sentence(rng))
    if rng.random() < 0.4:
        body += ["| Stage | Timescale |", "| Request | 6 weeks |", "| Draft plan | 16 weeks |",
                 "| Final plan | 20 weeks |"]
    body += ["## Next steps", _paragraph(rng)]
    first = datetime(2023, 1, 9, 9, 30, tzinfo=UTC) + timedelta(days=rng.randint(0, 600))
    history = [(_iso(first), "First published.")]
    if rng.random() < 0.5:
        history.insert(0, (_iso(first + timedelta(days=rng.randint(5, 200))), "Updated guidance."))
    attachments = [_attachment(rng, index, f"{topic}: {rng.choice(OBJECTS)}") for _ in range(rng.randint(0, 3))]
    return PageContent(
        title=f"{topic}: {rng.choice(OBJECTS)} ({index})",
        summary=_sentence(rng),
        body=body,
        attachments=attachments,
        change_history=history,
        document_type=rng.choice(DOC_TYPES),
        base_path=page_path(index),
    )


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def changed_pages(pages: int, fraction: float, pass_no: int, seed: int) -> list[int]:
    """The pages that change in ``pass_no`` (none in pass 0), chosen from the seed."""
    if pass_no == 0:
        return []
    count = max(1, round(pages * fraction))
    return sorted(random.Random(seed * 7_919 + pass_no).sample(range(pages), count))


def change_page(content: PageContent, index: int, pass_no: int, seed: int) -> PageContent:
    """A real change: an edited paragraph, a new attachment with a change note, or both."""
    rng = random.Random((seed * 1_000_003 + index) * 131 + pass_no)
    kind = rng.choice(["paragraph", "attachment", "both"])
    body, attachments, history = list(content.body), list(content.attachments), list(content.change_history)
    if kind in ("paragraph", "both"):
        paragraphs = [i for i, block in enumerate(body) if not block.startswith(("#", "-", "|", ">"))]
        at = rng.choice(paragraphs)
        sentences = body[at].split(". ")
        month = MONTHS[(index + pass_no) % len(MONTHS)]
        sentences[rng.randrange(len(sentences))] = (
            f"From {month} 2026 {rng.choice(SUBJECTS).lower()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"within {10 + pass_no + index % 17} weeks"
        )
        body[at] = ". ".join(sentences).rstrip(".") + "."
    if kind in ("attachment", "both"):
        title = f"{rng.choice(TOPICS)} update {pass_no}: {rng.choice(OBJECTS)}"
        attachments.insert(0, _attachment(rng, index, title))
    when = datetime(2026, 1, 5, 10, 0, tzinfo=UTC) + timedelta(days=7 * pass_no, minutes=index)
    history.insert(0, (_iso(when), f"Updated ({kind}) in pass {pass_no}."))
    if kind == "paragraph":
        history.pop(0)  # an edit without a change note, as often happens
    return dataclasses.replace(content, body=body, attachments=attachments, change_history=history)


# -- rendering (in a pool of worker processes, between passes) ------------------------------------

CSRF_MARK = b'<meta name="csrf-token" content="'


def split_for_token(html: bytes) -> tuple[bytes, bytes]:
    """Cut the page where its CSRF token sits, so the server can put a fresh one in each response."""
    start = html.find(CSRF_MARK)
    if start < 0:  # the template has moved on: carry the token in a comment at the end instead
        return html + b"<!-- request ", b" -->\n"
    start += len(CSRF_MARK)
    return html[:start], html[html.index(b'"', start):]


def render_variants(job: tuple[str, PageContent, list[int], int]) -> tuple[str, list[tuple[bytes, bytes]]]:
    path, content, seeds, size = job
    return path, [split_for_token(render_govuk_page(content, noise_seed=s, pad_to=size).encode()) for s in seeds]


class Content:
    """What the site says, pass by pass, and the truth each pass is scored against."""

    VARIANTS_PER_PASS = 2  # each tool's fetch of a page in a pass gets noise of its own

    def __init__(self, pages: int, size: int, fraction: float, seed: int) -> None:
        self.pages, self.size, self.fraction, self.seed = pages, size, fraction, seed
        self.contents = [page_content(i, seed) for i in range(pages)]

    def advance(self, pass_no: int) -> set[str]:
        """Apply this pass's changes; return the ids of the pages that really changed."""
        changed = changed_pages(self.pages, self.fraction, pass_no, self.seed)
        for i in changed:
            self.contents[i] = change_page(self.contents[i], i, pass_no, self.seed)
        return {page_id(i) for i in changed}

    def render(self, pass_no: int, pool: concurrent.futures.Executor) -> dict[str, list[tuple[bytes, bytes]]]:
        jobs = [(page_path(i), c, self._noise_seeds(i, pass_no), self.size) for i, c in enumerate(self.contents)]
        return dict(pool.map(render_variants, jobs, chunksize=25))

    def _noise_seeds(self, index: int, pass_no: int) -> list[int]:
        base = ((self.seed * 1_000_003 + pass_no) * 100_003 + index) * self.VARIANTS_PER_PASS
        return [base + slot for slot in range(self.VARIANTS_PER_PASS)]


# -- the server (its own process) ----------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default 5 would drop connections urlwatch opens 10 at a time


def serve(conn) -> None:
    """Serve pages on 127.0.0.1 until told to stop; take orders over ``conn``.

    Orders: ("pages", {path: [(prefix, suffix), ...]}) replaces the site for a new pass;
    ("stats", None) answers (CPU seconds used so far, requests served, 404s); ("stop", None).
    """
    site: dict[str, list[tuple[bytes, bytes]]] = {}
    fetches: dict[str, itertools.count] = {}
    counts = {"requests": 0, "missing": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive for clients that reuse connections

        def do_GET(self) -> None:
            variants = site.get(self.path)
            with lock:
                counts["requests"] += 1
                counts["missing"] += variants is None
            if variants is None:
                self._reply(404, b"not found", "text/plain")
                return
            prefix, suffix = variants[next(fetches[self.path]) % len(variants)]
            token = os.urandom(43).hex().encode()  # 86 characters, like GOV.UK's
            self._reply(200, prefix + token + suffix, "text/html; charset=utf-8")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            head = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                    f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                    "Cache-Control: max-age=0, private\r\n\r\n")
            self.wfile.write(head.encode() + body)  # one write: no Nagle stall between head and body

        def log_message(self, *args) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    while True:
        order, arg = conn.recv()
        if order == "pages":
            site.clear()
            site.update(arg)
            fetches.clear()
            fetches.update((path, itertools.count()) for path in arg)
            conn.send("ok")
        elif order == "stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            with lock:
                conn.send((usage.ru_utime + usage.ru_stime, counts["requests"], counts["missing"]))
        elif order == "stop":
            server.shutdown()
            conn.send("bye")
            return


class SiteProcess:
    """The server process, as the parent sees it."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child,), name="bench-site", daemon=True)
        self.process.start()
        self.port = self.conn.recv()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def publish(self, pages: dict[str, list[tuple[bytes, bytes]]]) -> None:
        self.conn.send(("pages", pages))
        self.conn.recv()

    def stats(self) -> tuple[float, int, int]:
        self.conn.send(("stats", None))
        return self.conn.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(("stop", None))
                self.conn.recv()
            except (OSError, EOFError):
                pass
            self.process.join(5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# -- running a tool and measuring it --------------------------------------------------------------


@dataclass
class Measured:
    wall: float
    cpu: float
    rss_mb: float
    exit_code: int
    stdout: str
    stderr: str


class Launcher:
    """Runs each tool from bench/measure.py, a small process of its own, and measures it there.

    Started from the benchmark directly, a tool's peak RSS would begin at the benchmark's own
    (Linux carries the high-water mark of the memory a process was forked from into it).
    """

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.proc = subprocess.Popen([sys.executable, str(BENCH / "measure.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> Measured:
        out, err = self.outdir / "last-stdout.txt", self.outdir / "last-stderr.txt"
        job = {"cmd": cmd, "env": env, "cwd": str(cwd), "timeout": timeout, "stdout": str(out), "stderr": str(err)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("bench/measure.py died")
        r = json.loads(line)
        return Measured(r["wall"], r["cpu"], r["maxrss_kb"] * 1024 / MB, r["exit"],
                        out.read_text("utf-8", "replace"), err.read_text("utf-8", "replace"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


@dataclass
class Report:
    """What a tool said about one pass, by page id."""

    new: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)


def file_bytes(*paths: Path) -> int:
    return sum(p.stat().st_size for p in paths if p.exists())


def tool_env(home: Path) -> dict[str, str]:
    """The same clean environment for both tools: a scratch HOME, no proxies, no sendwatch overrides."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().endswith("_PROXY") and not k.startswith(("SENDWATCH_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_DATA_HOME=str(home / ".local/share"), NO_PROXY="127.0.0.1,localhost", PYTHONHASHSEED="0")
    return env


class Sendwatch:
    name = "sendwatch"
    LINE = re.compile(r"^(first|unchanged|changed|failed|not-modified)\s+(\S+)")

    def __init__(self, workdir: Path, base_url: str, pages: int, concurrency: int,
                 profile: tuple[str, Path] | None):
        self.executable = Path(sys.executable).parent / "sendwatch"
        if not self.executable.exists():
            raise SystemExit(f"no sendwatch next to {sys.executable}: run this with the project's .venv/bin/python")
        self.dir = workdir / "sendwatch"
        self.dir.mkdir(parents=True)
        self.db = self.dir / "data" / "sendwatch.db"
        self.config = self.dir / "sendwatch.toml"
        self.profile = profile  # (profiler, directory) or None
        self.config.write_text(self._config_text(base_url, pages, concurrency), encoding="utf-8")

    def _config_text(self, base_url: str, pages: int, concurrency: int) -> str:
        lines = [f'database_url = "sqlite:///{self.db}"', "", "[fetch]", 'contact = "bench@example.org"',
                 f"per_host_concurrency = {concurrency}", "per_host_delay = 0", ""]
        for i in range(pages):
            lines += ["[[source]]", f'id = "{page_id(i)}"', f'url = "{base_url}{page_path(i)}"', 'interval = "6h"', ""]
        return "\n".join(lines)

    def command(self, pass_no: int) -> list[str]:
        check = ["--config", str(self.config), "check"]
        if self.profile is None:
            return [str(self.executable), *check]
        profiler, directory = self.profile
        if profiler == "cprofile":
            out = directory / f"sendwatch-pass{pass_no}.prof"
            return [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "monitor.app.cli", *check]
        out = directory / f"sendwatch-pass{pass_no}.txt"
        return [str(ensure_py_spy()), "record", "--format", "raw", "--function", "--rate", str(PY_SPY_RATE),
                "--output", str(out), "--", str(self.executable), *check]

    def parse(self, stdout: str) -> Report:
        report = Report()
        buckets = {"first": report.new, "changed": report.changed, "failed": report.errors}
        for line in stdout.splitlines():
            match = self.LINE.match(line)
            if match and match.group(1) in buckets:
                buckets[match.group(1)].add(match.group(2))
        return report

    def stored_bytes(self) -> int:
        return file_bytes(self.db, self.db.with_name(self.db.name + "-wal"))

    def recorded_changes(self, env: dict[str, str]) -> int:
        """How many changes ``sendwatch changes --json`` lists: a check on the parsed stdout."""
        out = subprocess.run([str(self.executable), "--config", str(self.config), "changes", "--json"],
                             env=env, capture_output=True, text=True, check=True).stdout
        return len(json.loads(out))


class Urlwatch:
    name = "urlwatch"
    LINE = re.compile(r"^\d+\. (NEW|CHANGED|ERROR): (\S+)$")

    def __init__(self, workdir: Path, base_url: str, pages: int, executable: Path, html2text_method: str):
        self.executable = executable
        self.dir = workdir / "urlwatch"
        self.dir.mkdir(parents=True)
        self.urls, self.config = self.dir / "urls.yaml", self.dir / "urlwatch.yaml"
        self.cache, self.hooks = self.dir / "cache.db", self.dir / "hooks.py"
        html2text = f"html2text: {html2text_method}" if html2text_method else "html2text"
        jobs = [f"name: {page_id(i)}\nurl: {base_url}{page_path(i)}\nfilter:\n  - css: main\n  - {html2text}\n"
                for i in range(pages)]
        self.urls.write_text("---\n".join(jobs), encoding="utf-8")
        self.config.write_text(URLWATCH_CONFIG, encoding="utf-8")
        self.hooks.write_text("", encoding="utf-8")

    def command(self, pass_no: int) -> list[str]:
        return [str(self.executable), "--urls", str(self.urls), "--config", str(self.config),
                "--cache", str(self.cache), "--hooks", str(self.hooks)]

    def parse(self, stdout: str) -> Report:
        report = Report()
        buckets = {"NEW": report.new, "CHANGED": report.changed, "ERROR": report.errors}
        for line in stdout.splitlines():
            match = self.LINE.match(line)
            if match:
                buckets[match.group(1)].add(match.group(2))
        return report

    def stored_bytes(self) -> int:
        return file_bytes(self.cache, *(self.cache.with_name(self.cache.name + s) for s in ("-wal", "-journal")))


# Only the stdout reporter (the text report, with diffs, no colour); everything else keeps
# urlwatch's defaults, where every other reporter is off.
URLWATCH_CONFIG = """\
display:
  new: true
  error: true
  unchanged: false
  empty-diff: true
report:
  text:
    line_length: 75
    details: true
    footer: true
    minimal: false
    separate: false
  stdout:
    enabled: true
    color: false
  email:
    enabled: false
"""


def ensure_py_spy() -> Path:
    """py-spy (a sampling profiler, from PyPI) in bench/.venv-tools, made on first use."""
    executable = TOOLS_VENV / "bin" / "py-spy"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True)
        subprocess.run([str(TOOLS_VENV / "bin" / "pip"), "install", "--quiet", "py-spy"],
                       check=True, stdout=subprocess.DEVNULL)
    return executable


def ensure_urlwatch(explicit: str | None) -> Path:
    """urlwatch's executable: the one given, else the benchmark's own venv, made on first use."""
    if explicit:
        return Path(explicit)
    executable = URLWATCH_VENV / "bin" / "urlwatch"
    if not executable.exists():
        print(f"installing {' '.join(URLWATCH_PACKAGES)} into {URLWATCH_VENV.relative_to(ROOT)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(URLWATCH_VENV)], check=True)
        subprocess.run([str(URLWATCH_VENV / "bin" / "pip"), "install", "--quiet", *URLWATCH_PACKAGES],
                       check=True, stdout=subprocess.DEVNULL)
    return executable


# -- one pass -----------------------------------------------------------------------------------


@dataclass
class Row:
    tool: str
    pass_no: int
    m: Measured
    stored_mb: float
    report: Report
    real: set[str]
    pages: int
    server_cpu: float
    server_requests: int

    @property
    def found(self) -> int:
        return len(self.report.changed & self.real)

    @property
    def false(self) -> int:
        return len(self.report.changed - self.real)

    @property
    def missed(self) -> int:
        return len(self.real - self.report.changed)


def run_pass(tool, pass_no: int, real: set[str], site: SiteProcess, launcher: Launcher, env: dict[str, str],
             cwd: Path, pages: int, timeout: float) -> Row:
    cpu0, requests0, _ = site.stats()
    measured = launcher.run(tool.command(pass_no), env, cwd, timeout)
    cpu1, requests1, _ = site.stats()
    if measured.exit_code != 0:
        tail = "\n".join(measured.stderr.splitlines()[-15:])
        print(f"!! {tool.name} pass {pass_no} exited with status {measured.exit_code}:\n{tail}", flush=True)
    return Row(tool.name, pass_no, measured, tool.stored_bytes() / MB, tool.parse(measured.stdout), real, pages,
               cpu1 - cpu0, requests1 - requests0)


# -- output -------------------------------------------------------------------------------------

HEADER = (f"{'tool':<10} {'pass':>4} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>11} {'stored MB':>9} "
          f"{'found/real':>11} {'false':>5} {'missed':>6} {'errors':>6} {'exit':>4}   "
          f"{'server CPU s':>12} {'requests':>8}")


def format_row(row: Row) -> str:
    if row.pass_no == 0:
        found = f"{len(row.report.new)} new"
        false, missed = len(row.report.changed), row.pages - len(row.report.new)
    else:
        found, false, missed = f"{row.found}/{len(row.real)}", row.false, row.missed
    return (f"{row.tool:<10} {row.pass_no:>4} {row.m.wall:>8.2f} {row.m.cpu:>8.2f} {row.m.rss_mb:>11.1f} "
            f"{row.stored_mb:>9.2f} {found:>11} {false:>5} {missed:>6} {len(row.report.errors):>6} "
            f"{row.m.exit_code:>4}   {row.server_cpu:>12.2f} {row.server_requests:>8}")


def print_ratios(rows: list[Row]) -> bool:
    """Print sendwatch/urlwatch per pass; return whether every change pass met the target."""
    by_key = {(r.tool, r.pass_no): r for r in rows}
    passes = sorted({r.pass_no for r in rows})
    met = True
    print(f"\n{'pass':>4} {'wall sendwatch/urlwatch':>24} {'CPU sendwatch/urlwatch':>23}   target")
    for p in passes:
        sw, uw = by_key.get(("sendwatch", p)), by_key.get(("urlwatch", p))
        if sw is None or uw is None:
            continue
        wall, cpu = sw.m.wall / uw.m.wall, sw.m.cpu / uw.m.cpu
        if p == 0:
            verdict = "(baseline, not scored)"
        else:
            ok = wall <= 0.5 and cpu <= 0.5 and sw.missed == 0 and sw.false == 0 and not sw.report.errors
            met &= ok
            verdict = "met" if ok else "NOT met"
        print(f"{p:>4} {wall:>23.2f}x {cpu:>22.2f}x   {verdict}")
    return met


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "monitor", "storage", "config"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes in monitor/storage/config" if dirty else "")


def tool_version(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "?"


def print_header(args, urlwatch_exe: Path, env: dict[str, str]) -> None:
    print("sendwatch vs urlwatch benchmark")
    print(f"command:  {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine:  {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {platform.platform()}")
    print(f"python:   sendwatch {platform.python_version()} ({sys.executable}); urlwatch "
          f"{tool_version([str(urlwatch_exe.parent / 'python'), '--version'], env)}")
    print(f"versions: sendwatch at git {git_state()}; {tool_version([str(urlwatch_exe), '--version'], env)}")
    print(f"site:     {args.pages} pages of ~{args.size:,} bytes on one host (127.0.0.1), "
          f"{args.change_fraction:.0%} changed per pass, seed {args.seed}, no conditional-request headers")
    print(f"tools:    {args.concurrency} concurrent requests each, no per-host delay; urlwatch filter "
          f"[css: main, {('html2text: ' + args.urlwatch_html2text) if args.urlwatch_html2text else 'html2text'}]")
    if args.profile_sendwatch:
        print(f"NOTE:     sendwatch runs under {args.profiler}: its figures are not comparable")
    print(flush=True)


def print_profiles(profiler: str, profile_dir: Path, top: int = 30) -> None:
    """sendwatch's hotspots over all change passes together (pass 0, the first fetch, left out)."""
    pattern = "sendwatch-pass*.prof" if profiler == "cprofile" else "sendwatch-pass*.txt"
    files = [p for p in sorted(profile_dir.glob(pattern)) if not p.stem.endswith("pass0")]
    if not files:
        return
    print(f"\n== sendwatch profile: change passes 1-{len(files)} together ({profiler}) ==")
    if profiler == "cprofile":
        stats = pstats.Stats(*map(str, files), stream=sys.stdout).strip_dirs()
        for order in ("cumulative", "tottime"):
            stats.sort_stats(order).print_stats(top)
        return
    print_samples(files, top)


# What a sample is spent on, by the first of these found anywhere in its stack.
PHASES = [
    ("importing modules (start-up)", ("_find_and_load",)),
    ("config: reading sendwatch.toml", ("load_settings",)),
    ("diff: comparing documents", ("diff_documents",)),
    ("extract: HTML to Document", ("extract_html", "decode_html")),
    ("storage: SQLAlchemy/SQLite", ("Store.", "Sources.", "History.", "Ledger.", "Outbox.", "upgrade (storage")),
    ("fetch: httpx and the event loop I/O", ("Fetcher.", "httpx", "httpcore", "anyio")),
]
OTHER_PHASE = "other (asyncio scheduling, CLI, printing)"


def print_samples(files: list[Path], top: int) -> None:
    """Self and cumulative samples per function from py-spy's raw (collapsed stack) output."""
    own: dict[str, int] = {}
    cumulative: dict[str, int] = {}
    phases: dict[str, int] = {}
    total = 0
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames, n = stack.split(";"), int(count)
            total += n
            own[frames[-1]] = own.get(frames[-1], 0) + n
            for frame in set(frames):
                cumulative[frame] = cumulative.get(frame, 0) + n
            phase = next((name for name, marks in PHASES if any(m in stack for m in marks)), OTHER_PHASE)
            phases[phase] = phases.get(phase, 0) + n
    if not total:
        return
    runs = len(files)
    print(f"{total} samples at {PY_SPY_RATE}/s = {total / PY_SPY_RATE:.1f} CPU s over {runs} runs "
          f"({total / PY_SPY_RATE / runs:.2f} s per pass)")
    print("\nby phase (first match from the top of the list, anywhere in the stack):")
    for name, n in sorted(phases.items(), key=lambda kv: -kv[1]):
        print(f"  {n / total:6.1%}  {n / PY_SPY_RATE / runs:6.2f} s/pass  {name}")
    for title, table in (("cumulative (in the stack)", cumulative), ("self (at the top of the stack)", own)):
        print(f"\ntop {top} functions by {title}:")
        for frame, n in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"  {n / total:6.1%}  {n / PY_SPY_RATE / runs:6.2f} s/pass  {frame}")


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages on the site (default 1000)")
    parser.add_argument("--size", type=int, default=50_000, help="bytes per page, about (default 50000)")
    parser.add_argument("--passes", type=int, default=3, help="change passes after the first fetch (default 3)")
    parser.add_argument("--change-fraction", type=float, default=0.10, help="pages changed per pass (default 0.1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=10,
                        help="sendwatch's per_host_concurrency (default 10, urlwatch's fixed thread count)")
    parser.add_argument("--tools", default="sendwatch,urlwatch", help="comma-separated (default both)")
    parser.add_argument("--urlwatch", metavar="PATH", help="urlwatch executable (default: bench/.venv-urlwatch)")
    parser.add_argument("--urlwatch-html2text", metavar="METHOD", default="",
                        help="html2text method for urlwatch (default: none given, i.e. its default 're')")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the floor: the fixed stack alone (imports, fetching, parsing; bench/floor.py)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a tool run is killed")
    parser.add_argument("--workdir", type=Path, default=BENCH / "out", help="where run data goes (default bench/out)")
    parser.add_argument("--keep", action="store_true", help="keep the run's databases and configs")
    parser.add_argument("--profile-sendwatch", type=Path, metavar="DIR",
                        help="run sendwatch under a profiler, keep its output in DIR and print the hotspots")
    parser.add_argument("--profiler", choices=["py-spy", "cprofile"], default="py-spy",
                        help="for --profile-sendwatch: py-spy (sampling, from PyPI; default) or cProfile")
    return parser.parse_args(argv)


def make_tools(args, workdir: Path, base_url: str, urlwatch_exe: Path, pages: int, profile: bool) -> list:
    wanted = {t.strip() for t in args.tools.split(",") if t.strip()}
    tools = []
    if "sendwatch" in wanted:
        how = (args.profiler, args.profile_sendwatch) if profile and args.profile_sendwatch else None
        tools.append(Sendwatch(workdir, base_url, pages, args.concurrency, how))
    if "urlwatch" in wanted:
        tools.append(Urlwatch(workdir, base_url, pages, urlwatch_exe, args.urlwatch_html2text))
    return tools


def measure_start_up(tools: list, launcher: Launcher, env: dict[str, str], cwd: Path) -> None:
    """Each tool on an empty job list: what every pass pays before the first page.

    The first run warms the OS file cache (and creates the tool's files); the second is shown.
    """
    figures = []
    for tool in tools:
        launcher.run(tool.command(0), env, cwd, 120)
        m = launcher.run(tool.command(0), env, cwd, 120)
        figures.append(f"{tool.name} {m.wall:.2f} s wall, {m.cpu:.2f} s CPU, {m.rss_mb:.0f} MB")
    print(f"start-up (no sources, 2nd run): {'; '.join(figures)}")


def run_passes(args, content: Content, tools: list, site: SiteProcess, pool, launcher: Launcher,
               env: dict[str, str], cwd: Path) -> list[Row]:
    rows: list[Row] = []
    for pass_no in range(args.passes + 1):
        real = content.advance(pass_no)
        pages = content.render(pass_no, pool)
        if pass_no == 0:
            sizes = [len(p) + 86 + len(s) for variants in pages.values() for p, s in variants]
            print(f"(served page size: {min(sizes):,} to {max(sizes):,} bytes, "
                  f"mean {sum(sizes) / len(sizes):,.0f})\n\n{HEADER}", flush=True)
        site.publish(pages)
        del pages
        for tool in tools if pass_no % 2 == 0 else tools[::-1]:  # take turns going first
            row = run_pass(tool, pass_no, real, site, launcher, env, cwd, args.pages, args.timeout)
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


FLOOR_STEPS = [
    ("start-up", "Python importing httpx, httpcore, lxml, SQLAlchemy and pydantic"),
    ("httpx", "that, then every page fetched with a bare httpx.AsyncClient"),
    ("fetcher", "that, with sendwatch's Fetcher instead (monitor/sources/fetch.py)"),
]


def measure_floor(args, site: SiteProcess, launcher: Launcher, env: dict[str, str], cwd: Path,
                  rows: list[Row]) -> None:
    """What the fixed stack costs on this site before any of sendwatch's own work (bench/floor.py)."""
    url_file = cwd / "floor-urls.txt"
    url_file.write_text("".join(f"{site.base_url}{page_path(i)}\n" for i in range(args.pages)), encoding="utf-8")

    def run_step(step: str) -> tuple[Measured, dict]:
        cmd = [sys.executable, str(BENCH / "floor.py"), step, str(url_file), str(args.concurrency)]
        m = launcher.run(cmd, env, cwd, args.timeout)
        if m.exit_code != 0:
            raise RuntimeError(f"bench/floor.py {step} failed:\n{m.stderr[-2000:]}")
        return m, json.loads(m.stdout.strip().splitlines()[-1])

    print(f"\nfloor: the fixed stack alone on the same site ({args.pages} pages, {args.concurrency} at a time), "
          "CPU seconds")
    figures = {}
    for step, label in FLOOR_STEPS:
        m, _ = run_step(step)
        figures[step] = m.cpu
        print(f"  {m.cpu:6.2f}  {label}")
    _, parsed = run_step("parse")
    figures["parse"] = parsed["parse_cpu"]
    print(f"  {parsed['parse_cpu']:6.2f}  lxml (libxml2) parsing every page, nothing read from the trees")
    floor = figures["fetcher"] + figures["parse"]
    change_passes = [r.m.cpu for r in rows if r.tool == "urlwatch" and r.pass_no > 0]
    if change_passes:
        mean = sum(change_passes) / len(change_passes)
        print(f"  {floor:6.2f}  = start-up + Fetcher + parse: {floor / mean:.2f}x urlwatch's mean change-pass CPU "
              f"({mean:.2f} s), before extraction, diffing or storage")


def print_summary(args, rows: list[Row], tools: list, site: SiteProcess, env: dict[str, str]) -> None:
    print(f"\nserver: {site.stats()[2]} requests for unknown paths")
    sendwatch = next((t for t in tools if isinstance(t, Sendwatch)), None)
    if sendwatch is not None and not args.profile_sendwatch:
        said = sum(len(r.report.changed) for r in rows if r.tool == "sendwatch")
        print(f"sendwatch changes --json lists {sendwatch.recorded_changes(env)} changes; "
              f"its check output reported {said}")
    if {r.tool for r in rows} == {"sendwatch", "urlwatch"}:
        met = print_ratios(rows)
        print(f"\ntarget (sendwatch <= 0.5x urlwatch wall and CPU on every change pass, all real changes "
              f"found, no false ones): {'MET' if met else 'NOT MET'}")
    if args.profile_sendwatch:
        print_profiles(args.profiler, args.profile_sendwatch)


def run(args) -> int:
    urlwatch_exe = ensure_urlwatch(args.urlwatch)
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    env = tool_env(workdir / "home")
    (workdir / "home").mkdir()
    if args.profile_sendwatch:
        args.profile_sendwatch = args.profile_sendwatch.resolve()
        args.profile_sendwatch.mkdir(parents=True, exist_ok=True)
    print_header(args, urlwatch_exe, env)
    content = Content(args.pages, args.size, args.change_fraction, args.seed)
    launcher = Launcher(workdir)
    site = SiteProcess()
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=os.cpu_count() or 2,
                                                  mp_context=multiprocessing.get_context("fork"))
    rows: list[Row] = []
    try:
        tools = make_tools(args, workdir, site.base_url, urlwatch_exe, args.pages, profile=True)
        measure_start_up(make_tools(args, workdir / "empty", site.base_url, urlwatch_exe, 0, profile=False),
                         launcher, env, workdir)
        rows = run_passes(args, content, tools, site, pool, launcher, env, workdir)
        print_summary(args, rows, tools, site, env)
        if args.floor:
            measure_floor(args, site, launcher, env, workdir, rows)
    finally:
        pool.shutdown(cancel_futures=True)
        site.stop()
        launcher.close()
        if args.keep:
            print(f"\nrun data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(r.m.exit_code != 0 for r in rows) else 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
