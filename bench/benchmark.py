"""sendwatch against urlwatch 2.29: same local site, same run, pass by pass.

What it measures
----------------
A local site of ``--pages`` GOV.UK-shaped publication pages (``tests/govuk_site.py``: the
full template around distinct content, padded to about ``--size`` bytes) is served from a
separate process on 127.0.0.1, so its CPU is counted for neither tool. The passes, by kind:

- first: the first fetch of every page (the baseline), a figure of its own;
- change (``--passes``, default 3): ``--change-fraction`` of the pages (chosen from
  ``--seed``) really change: a paragraph is edited, or an attachment is added with a
  change-history entry, or both;
- faults (with ``--faults``): nothing changes, but ``--fault-fraction`` of the pages (10%,
  chosen from the seed) answer badly to every request of the pass, a mix of four faults in
  equal shares: 500; 503 with ``Retry-After: --retry-after``; a hang (the request is read,
  then nothing is sent until the client gives up and closes); a truncated body
  (``Content-Length`` of the whole page, half of it sent, then the connection closed);
- recovery (after faults): the same site answering cleanly again, nothing changed.

Every response carries fresh per-response noise: each pass serves page versions rendered
with noise seeds never used before (the two fetches of a page in a pass get different ones),
and every single response also gets a freshly drawn CSRF token, so a tool that diffed raw
HTML would report every page as changed. The rendered pages wait in files under the run's
directory (one pass at a time), so neither the benchmark nor the site holds them in memory.

With ``--etag`` every page answer carries an ``ETag`` (its version) and a ``Last-Modified``
(when that version was published), and a request whose ``If-None-Match`` names the current
version (or, without one, whose ``If-Modified-Since`` is not before it) is answered 304
with no body. Without it, as on most of GOV.UK, there are no validators and every answer is
a 200 with the whole page.

Each tool runs once per pass as a subprocess, and that subprocess is measured (by the small
launcher ``bench/measure.py``): wall time; CPU seconds (user + sys, from ``os.wait4``) of
the tool and of every process it started (sendwatch's worker processes), and of its main
process alone (``main``); peak RSS, the sum
of each of its processes' own peaks (for one process, its ``ru_maxrss``), and PSS, the
highest sum of their proportional set sizes sampled every 50 ms (pages the processes share
counted once); bytes it has stored after the pass; and its report scored against
the truth: changes found, false changes (reported, not real) and missed ones (real, not
reported), and in the faults and recovery passes which faulted pages it reported as failed
or changed. The tools take turns going first. MB here is 10**6 bytes. Both run from
bytecode already written: urlwatch's was written when pip installed it, and sendwatch's
packages are compiled before the passes (as an installed package's are; the checkout's
editable install would otherwise compile them on every run where PYTHONDONTWRITEBYTECODE
is set).

- sendwatch: ``sendwatch --config sendwatch.toml check`` with one ``[[source]]`` per page,
  written as the README tells users to: ``selector = "main"`` (``--no-selector``: the
  whole page, for comparison), ``per_host_concurrency`` = ``--concurrency`` (10,
  urlwatch's thread count) and no per-host delay; ``workers`` unset (one process per core,
  the main one included: on 2 cores one worker process parses the pages; ``--workers N``
  sets it, 0 for none); every other fetch setting (timeouts,
  retries, backoff, ``max_retry_after``) at its default. Stored: its SQLite database and
  WAL, or with ``--database-url`` a PostgreSQL database created for the run (dropped
  after it, unless ``--keep``) and counted as the size of its tables with their indexes
  and TOAST. PostgreSQL's own CPU and memory are another process's (on a server other
  work may share), so they are not in sendwatch's figures.
- urlwatch 2.29 (installed from PyPI into ``bench/.venv-urlwatch`` when missing), set up as
  a competent user would: one job per page with ``filter: [{css: main}, html2text]``, only
  the stdout text reporter, its own config, jobs and cache files (never ~/.config). It runs
  jobs on a fixed pool of 10 threads (``urlwatch.worker.MAX_WORKERS``), has no per-host
  delay, and its defaults elsewhere (60 s timeout, no retries). Stored: its cache database.

The server's own CPU time during each run is printed too, to show it is not the bottleneck.
After the passes, a table gives sendwatch/urlwatch per pass kind (CPU, wall, peak RSS,
stored bytes); ``--json FILE`` writes everything printed as one JSON object.

Run it
------
    .venv/bin/python bench/benchmark.py                 # 1,000 pages of 50 KB, 3 change passes
    .venv/bin/python bench/benchmark.py --pages 50      # a quick smoke run
    .venv/bin/python bench/benchmark.py --faults        # then a faults pass and a recovery pass
    .venv/bin/python bench/benchmark.py --etag          # the site offers ETag/Last-Modified and 304s
    .venv/bin/python bench/benchmark.py --no-selector   # sendwatch sources without selector = "main"
    .venv/bin/python bench/benchmark.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/sendwatch_bench
    .venv/bin/python bench/benchmark.py --json bench/out/run.json
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
import email.utils
import http
import itertools
import json
import math
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
import time
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
PASS_KINDS = ("first", "change", "faults", "recovery")
FAULT_KINDS = ("500", "503", "hang", "truncated")
HANG_LIMIT = 900  # seconds a hung answer waits for the client to give up before the site closes it

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


def faulted_pages(pages: int, fraction: float, seed: int) -> dict[int, str]:
    """The pages that fail in the faults pass, each with its fault: the four kinds in equal
    shares (as near as the count allows), pages and kinds both drawn from the seed."""
    if fraction <= 0:
        return {}
    rng = random.Random(seed * 104_729 + 31)
    chosen = rng.sample(range(pages), min(pages, max(1, round(pages * fraction))))
    return {index: FAULT_KINDS[n % len(FAULT_KINDS)] for n, index in enumerate(chosen)}


# -- rendering (in a pool of worker processes, between passes) ------------------------------------

CSRF_MARK = b'<meta name="csrf-token" content="'


def split_for_token(html: bytes) -> tuple[bytes, bytes]:
    """Cut the page where its CSRF token sits, so the server can put a fresh one in each response."""
    start = html.find(CSRF_MARK)
    if start < 0:  # the template has moved on: carry the token in a comment at the end instead
        return html + b"<!-- request ", b" -->\n"
    start += len(CSRF_MARK)
    return html[:start], html[html.index(b'"', start):]


@dataclass(frozen=True)
class Served:
    """What the site answers for one path in a pass.

    ``variants``: (file, offset of the CSRF token, length without the token), one per fetch
    in turn; ``etag`` and ``modified`` (Unix seconds) describe the content's version;
    ``fault`` is one of FAULT_KINDS, or None for a clean answer.
    """

    variants: list[tuple[str, int, int]]
    etag: str
    modified: int
    fault: str | None = None


def render_variants(job: tuple[str, PageContent, list[int], int, str]) -> tuple[str, list[tuple[str, int, int]]]:
    """Render a page once per noise seed into files (``stem-N.html``): the site reads them per request."""
    path, content, seeds, size, stem = job
    variants = []
    for slot, seed in enumerate(seeds):
        prefix, suffix = split_for_token(render_govuk_page(content, noise_seed=seed, pad_to=size).encode())
        file = f"{stem}-{slot}.html"
        with open(file, "wb") as out:
            out.write(prefix + suffix)
        variants.append((file, len(prefix), len(prefix) + len(suffix)))
    return path, variants


class Content:
    """What the site says, pass by pass, and the truth each pass is scored against."""

    VARIANTS_PER_PASS = 2  # each tool's fetch of a page in a pass gets noise of its own

    def __init__(self, pages: int, size: int, fraction: float, seed: int) -> None:
        self.pages, self.size, self.fraction, self.seed = pages, size, fraction, seed
        self.contents = [page_content(i, seed) for i in range(pages)]
        self.versions = [1] * pages
        now = _after_now()
        self.modified = [now] * pages

    def advance(self, pass_no: int) -> set[str]:
        """Apply this pass's changes; return the ids of the pages that really changed."""
        changed = changed_pages(self.pages, self.fraction, pass_no, self.seed)
        now = _after_now()
        for i in changed:
            self.contents[i] = change_page(self.contents[i], i, pass_no, self.seed)
            self.versions[i] += 1
            self.modified[i] = now
        return {page_id(i) for i in changed}

    def render(self, pass_no: int, pool: concurrent.futures.Executor, directory: Path,
               faults: dict[int, str]) -> dict[str, Served]:
        directory.mkdir(parents=True)
        jobs = [(page_path(i), c, self._noise_seeds(i, pass_no), self.size, str(directory / f"{i:05d}"))
                for i, c in enumerate(self.contents)]
        rendered = dict(pool.map(render_variants, jobs, chunksize=25))
        return {page_path(i): Served(rendered[page_path(i)], f'"{i:x}-v{self.versions[i]}"', self.modified[i],
                                     faults.get(i))
                for i in range(self.pages)}

    def _noise_seeds(self, index: int, pass_no: int) -> list[int]:
        base = ((self.seed * 1_000_003 + pass_no) * 100_003 + index) * self.VARIANTS_PER_PASS
        return [base + slot for slot in range(self.VARIANTS_PER_PASS)]


def _after_now() -> int:
    """A Last-Modified for a version published now: the next whole second, so it is later than
    any If-Modified-Since a client can hold from a check made before (HTTP dates have no
    fractions of a second, and a change must never be answered 304)."""
    return math.floor(time.time()) + 1


# -- the server (its own process) ----------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default 5 would drop connections urlwatch opens 10 at a time


def not_modified(headers, etag: str, modified: int) -> bool:
    """Whether a conditional GET may be answered 304: If-None-Match when the client sends it
    (RFC 9110 13.2.2: it then decides alone), else If-Modified-Since."""
    match = headers.get("If-None-Match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or etag in tags
    since = headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return modified <= when.timestamp()


def serve(conn, conditional: bool, retry_after: int) -> None:
    """Serve pages on 127.0.0.1 until told to stop; take orders over ``conn``.

    Orders: ("pages", {path: Served}) replaces the site for a new pass; ("stats", None)
    answers a dict of counters (CPU seconds used so far, requests served, ...); ("stop", None).
    """
    site: dict[str, Served] = {}
    fetches: dict[str, itertools.count] = {}
    counts = {"requests": 0, "missing": 0, "not_modified": 0, "faulted": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive for clients that reuse connections

        def do_GET(self) -> None:
            served = site.get(self.path)
            with lock:
                counts["requests"] += 1
                counts["missing"] += served is None
                counts["faulted"] += served is not None and served.fault is not None
            if served is None:
                self._reply(404, b"not found", "text/plain")
                return
            validators = []
            if conditional:
                validators = [("ETag", served.etag), ("Last-Modified", email.utils.formatdate(served.modified,
                                                                                              usegmt=True))]
                if served.fault is None and not_modified(self.headers, served.etag, served.modified):
                    with lock:
                        counts["not_modified"] += 1
                    self._head(304, validators)
                    return
            if served.fault == "500":
                self._reply(500, b"Internal Server Error", "text/plain")
            elif served.fault == "503":
                self._reply(503, b"Service Unavailable", "text/plain", [("Retry-After", str(retry_after))])
            elif served.fault == "hang":
                self._hang()
            else:
                file, cut, _ = served.variants[next(fetches[self.path]) % len(served.variants)]
                with open(file, "rb") as page:
                    data = page.read()
                token = os.urandom(43).hex().encode()  # 86 characters, like GOV.UK's
                body = data[:cut] + token + data[cut:]
                if served.fault == "truncated":
                    self._head(200, [("Content-Type", "text/html; charset=utf-8"), *validators],
                               length=len(body), then=body[: len(body) // 2])
                    self.close_connection = True  # closed with half the promised bytes sent
                else:
                    self._reply(200, body, "text/html; charset=utf-8", validators)

        def _hang(self) -> None:
            """Answer nothing; wait until the client closes the connection (or HANG_LIMIT)."""
            self.close_connection = True
            self.connection.settimeout(HANG_LIMIT)
            try:
                while self.connection.recv(65536):
                    pass
            except OSError:
                pass

        def _reply(self, status: int, body: bytes, content_type: str,
                   headers: list[tuple[str, str]] = ()) -> None:
            self._head(status, [("Content-Type", content_type), *headers], length=len(body), then=body)

        def _head(self, status: int, headers: list[tuple[str, str]], length: int | None = None,
                  then: bytes = b"") -> None:
            lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"]
            lines += [f"{name}: {value}" for name, value in headers]
            if length is not None:
                lines.append(f"Content-Length: {length}")
            lines.append("Cache-Control: max-age=0, private")
            head = "\r\n".join(lines) + "\r\n\r\n"
            self.wfile.write(head.encode() + then)  # one write: no Nagle stall between head and body

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
                conn.send({"cpu": usage.ru_utime + usage.ru_stime, **counts})
        elif order == "stop":
            server.shutdown()
            conn.send("bye")
            return


class SiteProcess:
    """The server process, as the parent sees it."""

    def __init__(self, conditional: bool, retry_after: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child, conditional, retry_after), name="bench-site",
                                   daemon=True)
        self.process.start()
        self.port = self.conn.recv()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def publish(self, pages: dict[str, Served]) -> None:
        self.conn.send(("pages", pages))
        self.conn.recv()

    def stats(self) -> dict[str, float]:
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
    cpu: float  # the command's and every process it started (bench/measure.py)
    rss_mb: float  # peak RSS: the sum of each of its processes' own peaks (for one process, its ru_maxrss)
    exit_code: int
    stdout: str
    stderr: str
    pss_mb: float = 0.0  # the highest sum of its processes' PSS at one instant (shared pages split)
    processes: int = 1  # processes seen (the command and, say, its worker processes)
    orphans: int = 0  # processes it left running when it exited (reaped and counted by measure.py)
    own_cpu: float | None = None  # the command's own process alone, without its worker processes


class Launcher:
    """Runs each tool from bench/measure.py, a small process of its own, and measures it there.

    Started from the benchmark directly, a tool's peak RSS would begin at the benchmark's own
    (Linux carries the high-water mark of the memory a process was forked from into it).
    """

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.proc = subprocess.Popen([sys.executable, str(BENCH / "measure.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, cmd: list[str], env: dict[str, str], cwd: Path, timeout: float, name: str = "last") -> Measured:
        """Run ``cmd``; its output is kept as NAME.out and NAME.err in the run's directory."""
        out, err = self.outdir / f"{name}.out", self.outdir / f"{name}.err"
        job = {"cmd": cmd, "env": env, "cwd": str(cwd), "timeout": timeout, "stdout": str(out), "stderr": str(err)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("bench/measure.py died")
        r = json.loads(line)
        return Measured(r["wall"], r["cpu"], r["hwm_sum_kb"] * 1024 / MB, r["exit"],
                        out.read_text("utf-8", "replace"), err.read_text("utf-8", "replace"),
                        r["pss_sum_kb"] * 1024 / MB, r["processes"], r["orphans"], r.get("own_cpu"))

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


def compile_sendwatch() -> None:
    """Write the bytecode of sendwatch's packages, as ``pip install`` does for an installed
    package (and did for urlwatch's). The project's checkout is an editable install, and
    with PYTHONDONTWRITEBYTECODE set (as in this project's container) every run would
    otherwise compile each of its modules again: 0.05 to 0.1 s of every pass."""
    packages = [str(ROOT / name) for name in ("config", "monitor", "storage")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)


def tool_env(home: Path) -> dict[str, str]:
    """The same clean environment for both tools: a scratch HOME, no proxies, no sendwatch overrides."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().endswith("_PROXY") and not k.startswith(("SENDWATCH_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_DATA_HOME=str(home / ".local/share"), NO_PROXY="127.0.0.1,localhost", PYTHONHASHSEED="0")
    return env


class SqliteDatabase:
    """sendwatch's default store: a SQLite file (with its WAL) in the tool's directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

    def stored_bytes(self) -> int:
        return file_bytes(self.path, self.path.with_name(self.path.name + "-wal"))

    def drop(self) -> None:
        pass  # goes with the run's directory


class PostgresDatabase:
    """A PostgreSQL database made for the run (dropped first if a previous run left it)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        parsed = make_url(url)
        if not parsed.drivername.startswith("postgresql") or not re.fullmatch(r"[a-z0-9_]+", parsed.database or ""):
            raise SystemExit(f"--database-url: want postgresql+psycopg://USER@HOST:PORT/NAME with NAME in "
                             f"lower-case letters, digits and _, not {url}")
        self.name = parsed.database
        self.url = parsed.render_as_string(hide_password=False)
        self._admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT",
                                    poolclass=NullPool)
        self._engine = create_engine(parsed, poolclass=NullPool)
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')

    def stored_bytes(self) -> int:
        """Its tables with their indexes and TOAST (pg_total_relation_size): what it holds,
        without the few MB of catalogue every database carries."""
        from sqlalchemy import text

        query = ("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                 "JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                 "AND n.nspname NOT LIKE 'pg_toast%'")
        with self._engine.connect() as conn:
            return int(conn.execute(text(query)).scalar_one())

    def drop(self) -> None:
        self._engine.dispose()
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin.dispose()


class Sendwatch:
    name = "sendwatch"
    LINE = re.compile(r"^(first|unchanged|changed|failed|not-modified)\s+(\S+)")

    def __init__(self, workdir: Path, base_url: str, pages: int, concurrency: int,
                 profile: tuple[str, Path] | None, selector: str | None, database: SqliteDatabase | PostgresDatabase,
                 workers: int | None = None):
        self.executable = Path(sys.executable).parent / "sendwatch"
        if not self.executable.exists():
            raise SystemExit(f"no sendwatch next to {sys.executable}: run this with the project's .venv/bin/python")
        self.dir = workdir / "sendwatch"
        self.dir.mkdir(parents=True)
        self.database = database
        self.config = self.dir / "sendwatch.toml"
        self.profile = profile  # (profiler, directory) or None
        self.config.write_text(self._config_text(base_url, pages, concurrency, selector, workers), encoding="utf-8")

    def _config_text(self, base_url: str, pages: int, concurrency: int, selector: str | None,
                     workers: int | None) -> str:
        lines = [f"database_url = {json.dumps(self.database.url)}", *([f"workers = {workers}"] if workers is not None
                                                                       else []),
                 "", "[fetch]", 'contact = "bench@example.org"',
                 f"per_host_concurrency = {concurrency}", "per_host_delay = 0", ""]
        narrow = [f"selector = {json.dumps(selector)}"] if selector else []
        for i in range(pages):
            lines += ["[[source]]", f'id = "{page_id(i)}"', f'url = "{base_url}{page_path(i)}"', *narrow,
                      'interval = "6h"', ""]
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
        return self.database.stored_bytes()

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


@dataclass(frozen=True)
class Pass:
    no: int
    kind: str  # one of PASS_KINDS


def schedule(change_passes: int, faults: bool) -> list[Pass]:
    """The first fetch, the change passes, then (with faults) a faults pass and a recovery pass."""
    passes = [Pass(0, "first"), *(Pass(n, "change") for n in range(1, change_passes + 1))]
    if faults:
        passes += [Pass(change_passes + 1, "faults"), Pass(change_passes + 2, "recovery")]
    return passes


@dataclass
class Row:
    tool: str
    pass_no: int
    kind: str
    m: Measured
    stored_mb: float
    report: Report
    real: set[str]
    pages: int
    server: dict[str, float]  # the site's counters over this run: cpu, requests, not_modified, faulted
    faulted: dict[str, str] = field(default_factory=dict)  # page id -> fault, in the faults and recovery passes

    @property
    def found(self) -> int:
        return len(self.report.changed & self.real)

    @property
    def false(self) -> int:
        return len(self.report.changed - self.real)

    @property
    def missed(self) -> int:
        return len(self.real - self.report.changed)

    @property
    def faulted_failed(self) -> set[str]:
        """Faulted pages the tool reported as failed."""
        return self.report.errors & self.faulted.keys()

    @property
    def faulted_changed(self) -> set[str]:
        """Faulted pages the tool reported as changed (none really changed)."""
        return self.report.changed & self.faulted.keys()

    @property
    def recovered(self) -> set[str]:
        """Faulted pages checked cleanly: neither failed nor (falsely) changed."""
        return self.faulted.keys() - self.report.errors - self.report.changed

    def as_json(self) -> dict:
        out = {"tool": self.tool, "pass": self.pass_no, "kind": self.kind, "wall_s": round(self.m.wall, 3),
               "cpu_s": round(self.m.cpu, 3), "peak_rss_mb": round(self.m.rss_mb, 1),
               "peak_pss_mb": round(self.m.pss_mb, 1), "processes": self.m.processes, "orphans": self.m.orphans,
               "main_process_cpu_s": None if self.m.own_cpu is None else round(self.m.own_cpu, 3),
               "stored_mb": round(self.stored_mb, 3), "exit": self.m.exit_code, "new": len(self.report.new),
               "real_changes": len(self.real), "found": self.found, "false": self.false, "missed": self.missed,
               "errors": len(self.report.errors), "server": {k: round(v, 3) for k, v in self.server.items()}}
        if self.faulted:
            out["faulted"] = len(self.faulted)
            out["faulted_failed"] = len(self.faulted_failed)
            out["faulted_changed"] = len(self.faulted_changed)
            out["recovered"] = len(self.recovered)
        return out


def run_pass(tool, step: Pass, real: set[str], faulted: dict[str, str], site: SiteProcess, launcher: Launcher,
             env: dict[str, str], cwd: Path, pages: int, timeout: float) -> Row:
    before = site.stats()
    measured = launcher.run(tool.command(step.no), env, cwd, timeout, f"{tool.name}-pass{step.no}")
    after = site.stats()
    if measured.orphans:
        print(f"!! {tool.name} pass {step.no} left {measured.orphans} process(es) running when it exited "
              f"(waited for, and their CPU counted)", flush=True)
    if measured.exit_code != 0:
        tail = "\n".join(measured.stderr.splitlines()[-15:])
        print(f"!! {tool.name} pass {step.no} exited with status {measured.exit_code}:\n{tail}", flush=True)
    return Row(tool.name, step.no, step.kind, measured, tool.stored_bytes() / MB, tool.parse(measured.stdout),
               real, pages, {k: after[k] - before[k] for k in after}, faulted)


# -- output -------------------------------------------------------------------------------------

HEADER = (f"{'tool':<10} {'pass':>4} {'kind':<8} {'wall s':>8} {'CPU s':>8} {'main':>5} {'peak RSS MB':>11} "
          f"{'PSS MB':>6} {'procs':>5} {'stored MB':>9} "
          f"{'found/real':>11} {'false':>5} {'missed':>6} {'errors':>6} {'exit':>4}   "
          f"{'server CPU s':>12} {'requests':>8} {'304s':>5}")


def format_row(row: Row) -> str:
    if row.kind == "first":
        found = f"{len(row.report.new)} new"
        false, missed = len(row.report.changed), row.pages - len(row.report.new)
    else:
        found, false, missed = f"{row.found}/{len(row.real)}", row.false, row.missed
    main = "-" if row.m.own_cpu is None else f"{row.m.own_cpu:.2f}"
    return (f"{row.tool:<10} {row.pass_no:>4} {row.kind:<8} {row.m.wall:>8.2f} {row.m.cpu:>8.2f} {main:>5} "
            f"{row.m.rss_mb:>11.1f} {row.m.pss_mb:>6.1f} {row.m.processes:>5} {row.stored_mb:>9.2f} "
            f"{found:>11} {false:>5} {missed:>6} "
            f"{len(row.report.errors):>6} {row.m.exit_code:>4}   {row.server['cpu']:>12.2f} "
            f"{row.server['requests']:>8.0f} {row.server['not_modified']:>5.0f}")


def change_pass_verdicts(rows: list[Row]) -> tuple[list[dict], bool]:
    """sendwatch/urlwatch per change pass against the target; and whether every one met it."""
    by_key = {(r.tool, r.pass_no): r for r in rows}
    verdicts, met = [], True
    for p in sorted({r.pass_no for r in rows if r.kind == "change"}):
        sw, uw = by_key.get(("sendwatch", p)), by_key.get(("urlwatch", p))
        if sw is None or uw is None:
            continue
        wall, cpu = sw.m.wall / uw.m.wall, sw.m.cpu / uw.m.cpu
        ok = wall <= 0.5 and cpu <= 0.5 and sw.missed == 0 and sw.false == 0 and not sw.report.errors
        met &= ok
        verdicts.append({"pass": p, "wall_ratio": round(wall, 3), "cpu_ratio": round(cpu, 3), "met": ok})
    return verdicts, met


def kind_ratios(rows: list[Row]) -> dict[str, dict]:
    """sendwatch/urlwatch for each kind of pass: CPU and wall summed over the kind's passes,
    the highest peak RSS among them, and the bytes stored after the last of them."""
    out = {}
    for kind in PASS_KINDS:
        sw = [r for r in rows if r.tool == "sendwatch" and r.kind == kind]
        uw = [r for r in rows if r.tool == "urlwatch" and r.kind == kind]
        if not sw or not uw:
            continue

        def ratio(a: float, b: float) -> float | None:
            return round(a / b, 3) if b else None

        out[kind] = {
            "passes": len(sw),
            "cpu": ratio(sum(r.m.cpu for r in sw), sum(r.m.cpu for r in uw)),
            "wall": ratio(sum(r.m.wall for r in sw), sum(r.m.wall for r in uw)),
            "peak_rss": ratio(max(r.m.rss_mb for r in sw), max(r.m.rss_mb for r in uw)),
            "peak_pss": ratio(max(r.m.pss_mb for r in sw), max(r.m.pss_mb for r in uw)),
            "stored": ratio(sw[-1].stored_mb, uw[-1].stored_mb),
        }
    return out


def print_kind_ratios(ratios: dict[str, dict]) -> None:
    print("\nsendwatch/urlwatch by kind of pass (CPU and wall: summed over the kind's passes; peak RSS and PSS: "
          "the highest; stored: after the last)")
    print(f"{'kind':<9} {'passes':>6} {'CPU':>7} {'wall':>7} {'peak RSS':>9} {'PSS':>7} {'stored':>7}")

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    for kind, r in ratios.items():
        print(f"{kind:<9} {r['passes']:>6} {shown(r['cpu']):>7} {shown(r['wall']):>7} "
              f"{shown(r['peak_rss']):>9} {shown(r['peak_pss']):>7} {shown(r['stored']):>7}")


def fault_summary(rows: list[Row]) -> dict[str, dict]:
    """Per tool: how it took the faults pass, and whether the faulted pages came back after it."""
    out = {}
    for tool in dict.fromkeys(r.tool for r in rows):
        faults = next((r for r in rows if r.tool == tool and r.kind == "faults"), None)
        recovery = next((r for r in rows if r.tool == tool and r.kind == "recovery"), None)
        if faults is None:
            continue
        failed_by_kind = {kind: sum(1 for page in faults.faulted_failed if faults.faulted[page] == kind)
                          for kind in FAULT_KINDS}
        entry = {
            "wall_s": round(faults.m.wall, 3), "cpu_s": round(faults.m.cpu, 3),
            "faulted": len(faults.faulted), "reported_failed": len(faults.faulted_failed),
            "reported_failed_by_fault": failed_by_kind,
            "fault_reported_as_change": len(faults.faulted_changed),
            "other_false_changes": len(faults.report.changed - faults.faulted.keys()),
            "other_errors": len(faults.report.errors - faults.faulted.keys()),
            "requests_to_faulted_pages": int(faults.server["faulted"]),
        }
        if recovery is not None:
            entry["recovery"] = {
                "recovered": len(recovery.recovered), "still_failed": len(recovery.faulted_failed),
                "false_changes": recovery.false, "errors": len(recovery.report.errors),
            }
        out[tool] = entry
    return out


def print_fault_summary(summary: dict[str, dict], faults: dict[str, str], retry_after: int) -> None:
    mix = ", ".join(f"{sum(1 for k in faults.values() if k == kind)} {FAULT_LABELS[kind].format(retry_after)}"
                    for kind in FAULT_KINDS)
    print(f"\nfaults pass: {len(faults)} pages faulted ({mix}); nothing really changed")
    kinds = " ".join(f"{kind:>9}" for kind in FAULT_KINDS)
    print(f"{'tool':<10} {'wall s':>7} {'CPU s':>7} {'failed/faulted':>14} {kinds} {'fault as change':>15} "
          f"{'other false':>11} {'other errors':>12} {'requests':>8}   recovery pass: "
          f"{'recovered':>9} {'false changes':>13} {'errors':>6}")
    for tool, s in summary.items():
        by_kind = " ".join(f"{s['reported_failed_by_fault'][kind]:>9}" for kind in FAULT_KINDS)
        rec = s.get("recovery")
        recovery = (f"{rec['recovered']:>5}/{s['faulted']:<3} {rec['false_changes']:>13} {rec['errors']:>6}"
                    if rec else "(none)")
        print(f"{tool:<10} {s['wall_s']:>7.2f} {s['cpu_s']:>7.2f} {s['reported_failed']:>10}/{s['faulted']:<3} "
              f"{by_kind} {s['fault_reported_as_change']:>15} {s['other_false_changes']:>11} "
              f"{s['other_errors']:>12} {s['requests_to_faulted_pages']:>8}                  {recovery}")
    print("(failed/faulted and the four columns after it: faulted pages reported as failed; fault as change: "
          "faulted pages reported as changed, must be 0; requests: to the faulted pages, retries included; "
          "recovered: faulted pages checked cleanly on the next pass, neither failed nor changed)")


FAULT_LABELS = {"500": "x 500", "503": "x 503 with Retry-After: {}", "hang": "x hang",
                "truncated": "x truncated body"}


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


def describe(args, urlwatch_exe: Path | None, env: dict[str, str]) -> dict[str, str]:
    """The run's setting, line by line, as printed at the top and kept in --json."""
    urlwatch_python = urlwatch = "not run"
    if urlwatch_exe is not None:
        urlwatch_python = tool_version([str(urlwatch_exe.parent / "python"), "--version"], env)
        urlwatch = tool_version([str(urlwatch_exe), "--version"], env)
    filters = f"html2text: {args.urlwatch_html2text}" if args.urlwatch_html2text else "html2text"
    database = "PostgreSQL (database created for the run)" if args.database_url else "SQLite"
    lines = {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "machine": f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {platform.platform()}",
        "python": f"sendwatch {platform.python_version()} ({sys.executable}); urlwatch {urlwatch_python}",
        "versions": f"sendwatch at git {git_state()}; {urlwatch}",
        "site": (f"{args.pages} pages of ~{args.size:,} bytes on one host (127.0.0.1), "
                 f"{args.change_fraction:.0%} changed per change pass, seed {args.seed}, "
                 + ("ETag and Last-Modified on every page, 304 when unchanged" if args.etag
                    else "no conditional-request headers")),
        "tools": (f"{args.concurrency} concurrent requests each, no per-host delay; sendwatch "
                  + (f"selector = {json.dumps(args.selector)}" if args.selector else "without a selector")
                  + f", {database}, workers = "
                  + (str(args.workers) if args.workers is not None else "default (one process per core)")
                  + f"; urlwatch filter [css: main, {filters}]"),
    }
    if args.faults:
        lines["faults"] = (f"{args.fault_fraction:.0%} of the pages in the faults pass: 500, 503 with "
                           f"Retry-After: {args.retry_after}, hang, truncated body, in equal shares")
    if args.profile_sendwatch:
        lines["NOTE"] = f"sendwatch runs under {args.profiler}: its figures are not comparable"
    return lines


def print_header(setting: dict[str, str]) -> None:
    print("sendwatch vs urlwatch benchmark")
    for name, line in setting.items():
        print(f"{name + ':':<9} {line}")
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
    parser.add_argument("--selector", default="main",
                        help='the selector of every sendwatch source (default "main", as the README writes a page)')
    parser.add_argument("--no-selector", dest="selector", action="store_const", const=None,
                        help="sendwatch sources without a selector: the whole page, for comparison")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="sendwatch's workers setting (default: unset, one process per core, the main one "
                             "included; 0: pages parsed in the main process)")
    parser.add_argument("--database-url", metavar="URL",
                        help="run sendwatch on PostgreSQL: postgresql+psycopg://postgres@127.0.0.1:5432/NAME; "
                             "NAME (and NAME_empty, for the start-up figure) are dropped, created for the run and "
                             "dropped after it (default: SQLite in the run's directory)")
    parser.add_argument("--etag", action="store_true",
                        help="the site sends ETag and Last-Modified and answers 304 to a conditional request "
                             "for an unchanged page")
    parser.add_argument("--faults", action="store_true",
                        help="after the change passes, a faults pass (--fault-fraction of the pages answer 500, 503, "
                             "hang or a truncated body) and a clean recovery pass")
    parser.add_argument("--fault-fraction", type=float, default=0.10, help="pages faulted in the faults pass "
                        "(default 0.1)")
    parser.add_argument("--retry-after", type=int, default=5, metavar="SECONDS",
                        help="the Retry-After of the faults pass's 503s (default 5)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the run's figures to FILE as JSON")
    parser.add_argument("--urlwatch", metavar="PATH", help="urlwatch executable (default: bench/.venv-urlwatch)")
    parser.add_argument("--urlwatch-html2text", metavar="METHOD", default="",
                        help="html2text method for urlwatch (default: none given, i.e. its default 're')")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the floor: the fixed stack alone (imports, fetching, parsing; bench/floor.py)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a tool run is killed")
    parser.add_argument("--workdir", type=Path, default=BENCH / "out", help="where run data goes (default bench/out)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run's databases, configs and each tool's output of each pass (TOOL-passN.out)")
    parser.add_argument("--profile-sendwatch", type=Path, metavar="DIR",
                        help="run sendwatch under a profiler, keep its output in DIR and print the hotspots")
    parser.add_argument("--profiler", choices=["py-spy", "cprofile"], default="py-spy",
                        help="for --profile-sendwatch: py-spy (sampling, from PyPI; default) or cProfile")
    args = parser.parse_args(argv)
    args.tools = [t for t in ("sendwatch", "urlwatch") if t in {t.strip() for t in args.tools.split(",")}]
    if not args.tools:
        parser.error("--tools: name sendwatch, urlwatch or both")
    return args


class Run:
    """What one run makes and must clean up: tools, their databases, the site's files."""

    def __init__(self, args, workdir: Path, base_url: str, urlwatch_exe: Path | None) -> None:
        self.args, self.workdir, self.base_url, self.urlwatch_exe = args, workdir, base_url, urlwatch_exe
        self.databases: list[SqliteDatabase | PostgresDatabase] = []

    def tools(self, directory: Path, pages: int, profile: bool, database_suffix: str = "") -> list:
        args, tools = self.args, []
        if "sendwatch" in args.tools:
            if args.database_url:
                from sqlalchemy.engine import make_url

                url = make_url(args.database_url)
                database = PostgresDatabase(url.set(database=url.database + database_suffix)
                                            .render_as_string(hide_password=False))
            else:
                database = SqliteDatabase(directory / "sendwatch" / "data" / "sendwatch.db")
            self.databases.append(database)
            how = (args.profiler, args.profile_sendwatch) if profile and args.profile_sendwatch else None
            tools.append(Sendwatch(directory, self.base_url, pages, args.concurrency, how, args.selector, database,
                                   args.workers))
        if "urlwatch" in args.tools:
            tools.append(Urlwatch(directory, self.base_url, pages, self.urlwatch_exe, args.urlwatch_html2text))
        return tools

    def drop_databases(self) -> None:
        for database in self.databases:
            try:
                database.drop()
            except Exception as exc:  # noqa: BLE001 - cleaning up: say so and go on
                print(f"could not drop {getattr(database, 'name', database)}: {exc}", file=sys.stderr)


def measure_start_up(tools: list, launcher: Launcher, env: dict[str, str], cwd: Path) -> dict[str, dict]:
    """Each tool on an empty job list: what every pass pays before the first page.

    The first run warms the OS file cache (and creates the tool's files); the second is shown.
    """
    figures = {}
    for tool in tools:
        launcher.run(tool.command(0), env, cwd, 120)
        m = launcher.run(tool.command(0), env, cwd, 120)
        figures[tool.name] = {"wall_s": round(m.wall, 3), "cpu_s": round(m.cpu, 3), "peak_rss_mb": round(m.rss_mb, 1)}
    print("start-up (no sources, 2nd run): " + "; ".join(
        f"{name} {f['wall_s']:.2f} s wall, {f['cpu_s']:.2f} s CPU, {f['peak_rss_mb']:.0f} MB"
        for name, f in figures.items()))
    return figures


def run_passes(args, content: Content, tools: list, site: SiteProcess, pool, launcher: Launcher,
               env: dict[str, str], cwd: Path) -> tuple[list[Row], dict]:
    rows: list[Row] = []
    served: dict = {}
    faults = faulted_pages(args.pages, args.fault_fraction, args.seed) if args.faults else {}
    faulted_ids = {page_id(i): kind for i, kind in faults.items()}
    previous: Path | None = None
    ended: dict[str, float] = {}
    for step in schedule(args.passes, args.faults):
        real = content.advance(step.no) if step.kind == "change" else set()
        directory = cwd / "site" / f"pass-{step.no}"
        pages = content.render(step.no, pool, directory, faults if step.kind == "faults" else {})
        if step.kind == "first":
            sizes = [length + 86 for page in pages.values() for _, _, length in page.variants]
            served = {"min": min(sizes), "max": max(sizes), "mean": round(sum(sizes) / len(sizes))}
            print(f"(served page size: {served['min']:,} to {served['max']:,} bytes, mean {served['mean']:,})\n\n"
                  f"{HEADER}", flush=True)
        site.publish(pages)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        previous = directory
        faulted = faulted_ids if step.kind in ("faults", "recovery") else {}
        for tool in tools if step.no % 2 == 0 else tools[::-1]:  # take turns going first
            turn_of_second(ended.get(tool.name))
            row = run_pass(tool, step, real, faulted, site, launcher, env, cwd, args.pages, args.timeout)
            ended[tool.name] = time.time()
            rows.append(row)
            print(format_row(row), flush=True)
    return rows, {"page_bytes": served, "faults": faulted_ids}


def turn_of_second(after: float | None) -> None:
    """Wait, if need be, until the second in which a tool's last pass ended is over.

    urlwatch keeps its check times in whole seconds and compares with the newest: two passes
    within one second tie, and it may compare with the version before the last, reporting an
    old change again (seen on 50-page runs). Real checks are hours apart; this keeps the
    smallest runs as honest as the big ones, outside the measured time.
    """
    if after is not None:
        delay = math.floor(after) + 1 - time.time()
        if delay > 0:
            time.sleep(delay)


FLOOR_STEPS = [
    ("start-up", "Python importing httpx, httpcore, lxml, SQLAlchemy and pydantic"),
    ("httpx", "that, then every page fetched with a bare httpx.AsyncClient"),
    ("fetcher", "that, with sendwatch's Fetcher instead (monitor/sources/fetch.py)"),
]


def measure_floor(args, site: SiteProcess, launcher: Launcher, env: dict[str, str], cwd: Path,
                  rows: list[Row]) -> dict[str, float]:
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
        figures[step] = round(m.cpu, 3)
        print(f"  {m.cpu:6.2f}  {label}")
    _, parsed = run_step("parse")
    figures["parse"] = round(parsed["parse_cpu"], 3)
    print(f"  {parsed['parse_cpu']:6.2f}  lxml (libxml2) parsing every page, nothing read from the trees")
    floor = figures["fetcher"] + figures["parse"]
    figures["floor"] = round(floor, 3)
    change_passes = [r.m.cpu for r in rows if r.tool == "urlwatch" and r.kind == "change"]
    if change_passes:
        mean = sum(change_passes) / len(change_passes)
        figures["floor_over_urlwatch_change_cpu"] = round(floor / mean, 3)
        print(f"  {floor:6.2f}  = start-up + Fetcher + parse: {floor / mean:.2f}x urlwatch's mean change-pass CPU "
              f"({mean:.2f} s), before extraction, diffing or storage")
    return figures


def summarise(args, rows: list[Row], tools: list, site: SiteProcess, env: dict[str, str],
              faults: dict[str, str]) -> dict:
    summary: dict = {"unknown_paths": int(site.stats()["missing"])}
    print(f"\nserver: {summary['unknown_paths']} requests for unknown paths")
    sendwatch = next((t for t in tools if isinstance(t, Sendwatch)), None)
    if sendwatch is not None and not args.profile_sendwatch:
        said = sum(len(r.report.changed) for r in rows if r.tool == "sendwatch")
        recorded = sendwatch.recorded_changes(env)
        summary["sendwatch_changes"] = {"recorded": recorded, "reported": said}
        print(f"sendwatch changes --json lists {recorded} changes; its check output reported {said}")
    if faults:
        summary["faults"] = fault_summary(rows)
        print_fault_summary(summary["faults"], faults, args.retry_after)
    if set(args.tools) == {"sendwatch", "urlwatch"}:
        summary["ratios"] = kind_ratios(rows)
        print_kind_ratios(summary["ratios"])
        verdicts, met = change_pass_verdicts(rows)
        summary["change_passes"], summary["target_met"] = verdicts, met
        print(f"\n{'pass':>4} {'wall sendwatch/urlwatch':>24} {'CPU sendwatch/urlwatch':>23}   target")
        for v in verdicts:
            print(f"{v['pass']:>4} {v['wall_ratio']:>23.2f}x {v['cpu_ratio']:>22.2f}x   "
                  f"{'met' if v['met'] else 'NOT met'}")
        print(f"\ntarget (sendwatch <= 0.5x urlwatch wall and CPU on every change pass, all real changes "
              f"found, no false ones): {'MET' if met else 'NOT MET'}")
    if args.profile_sendwatch:
        print_profiles(args.profiler, args.profile_sendwatch)
    return summary


def run(args) -> int:
    urlwatch_exe = ensure_urlwatch(args.urlwatch) if "urlwatch" in args.tools else None
    if "sendwatch" in args.tools:
        compile_sendwatch()
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    env = tool_env(workdir / "home")
    (workdir / "home").mkdir()
    if args.profile_sendwatch:
        args.profile_sendwatch = args.profile_sendwatch.resolve()
        args.profile_sendwatch.mkdir(parents=True, exist_ok=True)
    setting = describe(args, urlwatch_exe, env)
    print_header(setting)
    result: dict = {"setting": setting, "args": {k: str(v) if isinstance(v, Path) else v
                                                 for k, v in vars(args).items()}}
    content = Content(args.pages, args.size, args.change_fraction, args.seed)
    launcher = Launcher(workdir)
    site = SiteProcess(args.etag, args.retry_after)
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=os.cpu_count() or 2,
                                                  mp_context=multiprocessing.get_context("fork"))
    this = Run(args, workdir, site.base_url, urlwatch_exe)
    rows: list[Row] = []
    try:
        tools = this.tools(workdir, args.pages, profile=True)
        result["start_up"] = measure_start_up(this.tools(workdir / "empty", 0, profile=False,
                                                         database_suffix="_empty"), launcher, env, workdir)
        rows, about = run_passes(args, content, tools, site, pool, launcher, env, workdir)
        result["site"] = about
        result["passes"] = [r.as_json() for r in rows]
        result.update(summarise(args, rows, tools, site, env, about["faults"]))
        if args.floor:
            result["floor"] = measure_floor(args, site, launcher, env, workdir, rows)
    finally:
        pool.shutdown(cancel_futures=True)
        site.stop()
        launcher.close()
        if args.keep:
            print(f"\nrun data kept in {workdir}" + (" (and its PostgreSQL databases)" if args.database_url else ""))
        else:
            this.drop_databases()
            shutil.rmtree(workdir, ignore_errors=True)
        if args.json:
            result["crashed"] = any(r.m.exit_code != 0 for r in rows)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
            print(f"figures written to {args.json}")
    return 1 if any(r.m.exit_code != 0 for r in rows) else 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
