"""``sendwatch demo``: the whole system at work, offline, in well under a minute.

The demo serves a small pretend GOV.UK on 127.0.0.1 (a random port) whose pages change
over four steps, writes a config whose sources point at it, and runs the real service
(``monitor.app.service.Service``: scheduler, checks, outbox, dashboard) against it in a
folder of its own, with email going to a Maildir.

Sources are checked every few hours, as they would be in earnest, so the demo does not
wait for their time: after each step it asks the scheduler to run every check now
(``Service.check_now``), which is what the scheduler does when a check falls due. The
first step needs no asking: sources never checked run as the service starts.

1. first look: every source gets its first snapshot; the ledger finds a commitment
   overdue and says so by email;
2. the SEND code of practice page gains a revised code and a change note (a development);
   a saved GOV.UK search finds "SEND and alternative provision improvement plan" (a
   development, and a document followed from then on); a news page gets an unrelated
   story (a change, no development); the tribunal statistics page starts failing;
3. the tribunal page fails again: the source is broken, and one email says so;
4. the tribunal page is back: one email says that too.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
from datetime import UTC, datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from config import load_settings
from monitor.app.service import Service, ServiceError
from monitor.sources import KINDS, READS
from storage import Store

MARKER = ".sendwatch-demo"  # a folder holding this is the demo's to clear and reuse
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

CODE = "/government/publications/send-code-of-practice-0-to-25"
PLAN = "/government/publications/send-and-alternative-provision-improvement-plan"
SEARCH = "/api/search.json"
NEWS = "/government/organisations/department-for-education/news"
TRIBUNAL = "/government/statistics/send-tribunal-appeals"

STEPS = (
    ("First look: sendwatch takes a first snapshot of every source.", ()),
    ("A week later on the pretend GOV.UK:", (
        "the SEND code of practice page gains a revised code and a change note",
        "a saved GOV.UK search finds a new document: the SEND and alternative provision improvement plan",
        "the Department for Education's news page gets a story about teachers' pay (nothing to do with SEND)",
        "the SEND tribunal statistics page starts failing (HTTP 503)",
    )),
    ("The next day:", (
        "the tribunal statistics page fails again: two failures in a row make the source broken",
    )),
    ("The day after:", (
        "the tribunal statistics page is back",
    )),
)


# -- the pretend GOV.UK ------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    """A GOV.UK-shaped page, with the chrome and the per-response noise sendwatch ignores."""
    nonce = os.urandom(12).hex()
    return f"""<!DOCTYPE html>
<html lang="en" class="govuk-template"><head><meta charset="utf-8">
<title>{escape(title)} - GOV.UK</title>
<script nonce="{nonce}">document.documentElement.className += ' js-enabled';</script>
<meta name="csrf-token" content="{os.urandom(32).hex()}"></head>
<body class="govuk-template__body">
<div id="global-cookie-message" class="gem-c-cookie-banner" role="region" aria-label="Cookies on GOV.UK">
<p class="govuk-body">We use some essential cookies to make this website work.</p></div>
<header role="banner" class="gem-c-layout-super-navigation-header">
<a class="govuk-header__link" href="/">GOV.UK</a> <a href="/browse/education">Education and learning</a></header>
<div class="govuk-width-container"><main class="govuk-main-wrapper" id="content" role="main" lang="en">
<h1 class="gem-c-title__text govuk-heading-l">{escape(title)}</h1>
{body}
</main></div>
<div class="gem-c-feedback" data-module="feedback"><p>Is this page useful?</p>
<input type="hidden" name="token" value="{os.urandom(16).hex()}"></div>
<footer class="govuk-footer" role="contentinfo">
<p>All content is available under the Open Government Licence v3.0, except where otherwise stated</p></footer>
</body></html>"""


def _code_item(step: int, today: str) -> dict:
    attachments = [{"title": "SEND code of practice: 0 to 25 years", "content_type": "application/pdf",
                    "url": "/government/uploads/system/uploads/attachment_data/file/398815/SEND_Code_of_Practice.pdf",
                    "file_size": 2_416_640, "number_of_pages": 292}]
    history = [{"public_timestamp": "2015-01-09T14:00:00.000+00:00", "note": "First published."},
               {"public_timestamp": "2020-04-30T10:30:00.000+01:00",
                "note": "Added guidance on temporary changes during the coronavirus outbreak."}]
    if step >= 1:
        attachments.insert(0, {"title": "SEND code of practice: 0 to 25 years (revised, for consultation)",
                               "content_type": "application/pdf", "file_size": 2_621_440, "number_of_pages": 305,
                               "url": "/government/uploads/system/uploads/attachment_data/file/1/"
                                      "SEND_code_of_practice_revised.pdf"})
        history.append({"public_timestamp": today,
                        "note": "Added the revised SEND code of practice, published for consultation."})
    return {
        "base_path": CODE, "title": "SEND code of practice: 0 to 25 years", "document_type": "statutory_guidance",
        "description": "Statutory guidance for organisations that work with and support children and young "
                       "people who have special educational needs or disabilities.",
        "updated_at": datetime.now(UTC).isoformat(),  # moves on every publish: not content
        "details": {"body": "<p>The code explains the duties of local authorities, health bodies, schools "
                            "and colleges to provide for those with special educational needs.</p>",
                    "attachments": attachments, "change_history": history},
    }


def _plan_item() -> dict:
    return {
        "base_path": PLAN, "title": "SEND and alternative provision improvement plan",
        "document_type": "policy_paper",
        "description": "Right support, right place, right time: how the government will change the SEND and "
                       "alternative provision system.",
        "details": {"body": "<p>This plan sets out the government's response to the SEND review "
                            "consultation.</p>",
                    "attachments": [{"title": "SEND and alternative provision improvement plan",
                                     "content_type": "application/pdf", "file_size": 5_242_880,
                                     "number_of_pages": 100,
                                     "url": "/government/uploads/system/uploads/attachment_data/file/2/"
                                            "SEND_and_AP_improvement_plan.pdf"}],
                    "change_history": [{"public_timestamp": "2023-03-02T00:30:00.000+00:00",
                                        "note": "First published."}]},
    }


def _search(step: int, today: str) -> dict:
    results = [
        {"title": "Special educational needs in England", "link": "/government/statistics/special-educational-"
         "needs-in-england", "description": "Statistics on pupils with special educational needs.",
         "public_timestamp": "2025-06-12T09:30:00.000+01:00", "content_store_document_type": "national_statistics"},
        {"title": "SEND code of practice: 0 to 25 years", "link": CODE,
         "description": "Statutory guidance on duties, policies and procedures relating to children and young "
                        "people with special educational needs and disabilities.",
         "public_timestamp": "2020-04-30T10:30:00.000+01:00", "content_store_document_type": "statutory_guidance"},
        {"title": "Children with special educational needs and disabilities: a guide for parents",
         "link": "/children-with-special-educational-needs",
         "description": "Help for children with special educational needs and disabilities.",
         "public_timestamp": "2019-11-01T12:00:00.000+00:00", "content_store_document_type": "guide"},
    ]
    if step >= 1:
        results.insert(0, {"title": "SEND and alternative provision improvement plan", "link": PLAN,
                           "description": "Right support, right place, right time: how the government will "
                                          "change the SEND and alternative provision system.",
                           "public_timestamp": today, "content_store_document_type": "policy_paper"})
    return {"results": results, "total": len(results), "start": 0}


def _news(step: int) -> str:
    stories = [("Free breakfast clubs: the next schools announced", "/government/news/breakfast-clubs"),
               ("Apprenticeship levy: what changes in April", "/government/news/apprenticeship-levy")]
    if step >= 1:
        stories.insert(0, ("Teachers' pay award for 2026 to 2027 accepted in full", "/government/news/teachers-pay"))
    items = "\n".join(f'<li><a class="govuk-link" href="{href}">{escape(title)}</a></li>' for title, href in stories)
    return _page("Department for Education: news and communications",
                 f"<p>The latest news from the Department for Education.</p>\n<ul>\n{items}\n</ul>")


def _tribunal() -> str:
    return _page("SEND tribunal appeals: statistics",
                 "<p>Quarterly statistics on appeals to the First-tier Tribunal (Special Educational Needs "
                 "and Disability).</p><p>Next update: 11 December.</p>")


class DemoSite:
    """The pretend GOV.UK, on 127.0.0.1 and a random port; ``step`` says how far it has got."""

    def __init__(self) -> None:
        self.step = 0
        # A stable "today" for the demo's new items: the same on every request of a step.
        self.today = datetime.now(UTC).replace(microsecond=0).isoformat()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> DemoSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) of a request, at the current step."""
        step, today = self.step, self.today
        path = path.split("?", 1)[0]
        html, json_type = "text/html; charset=utf-8", "application/json; charset=utf-8"
        if path == "/api/content" + CODE:
            return 200, json_type, json.dumps(_code_item(step, today)).encode()
        if path == "/api/content" + PLAN:
            return 200, json_type, json.dumps(_plan_item()).encode()
        if path == SEARCH:
            return 200, json_type, json.dumps(_search(step, today)).encode()
        if path == NEWS:
            return 200, html, _news(step).encode()
        if path == TRIBUNAL:
            if step in (1, 2):
                return 503, html, b"<html><body><h1>Sorry, we're experiencing technical difficulties</h1></body></html>"
            return 200, html, _tribunal().encode()
        return 404, html, b"<html><body><h1>Page not found</h1></body></html>"

    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # the service's own log says what was fetched
                pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                status, content_type, body = site.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


# -- the demo's config -------------------------------------------------------------------------


def demo_config(folder: Path, site: str, port: int) -> str:
    return f'''# Written by `sendwatch demo`. Every source points at the demo's pretend GOV.UK
# ({site}), which lives only while the demo runs: `sendwatch check` with this
# config fails once it has gone, but everything it recorded stays readable.

data_dir = "{folder}"
database_url = "sqlite:///{folder / "sendwatch.db"}"

[fetch]
per_host_delay = 0    # the demo site is ours: no need to be polite to it
retries = 0

[web]
host = "127.0.0.1"
port = {port}

[service]
jitter = 0            # sources never checked are checked as soon as the service starts
stop_timeout = 5

[email]
from = "sendwatch demo <sendwatch@localhost>"
dashboard_url = "http://127.0.0.1:{port}"
broken_after = 2      # a source is broken after 2 failed checks in a row (default 5)
# No [email.smtp]: email is written to the Maildir {folder / "mail"}

[[recipient]]
email = "you@example.org"
name = "You"

# Whoever runs sendwatch: told when a source breaks or recovers, or an email bounces.
[[operator]]
email = "you@example.org"

[[commitment]]
id = "send-review"
title = "The SEND Review"
promise = """The SEND Review would take up many of the Committee's concerns, and the government
would give an update later in 2020."""
made_in = "Government response to the Education Committee's report on SEND"
made_on = 2020-07-23
expected_by = 2020-12-31
expected_note = "an update later in the year"
phrases = ["SEND review", "right support, right place, right time",
           "SEND and alternative provision improvement plan"]
documents = ["SEND review: right support, right place, right time",
             "SEND and alternative provision improvement plan"]

[[commitment]]
id = "code-of-practice"
title = "A revised SEND Code of Practice"
promise = "Revise the SEND Code of Practice, informed by the SEND Review."
made_in = "Government response to the Education Committee's report on SEND"
made_on = 2020-07-23
phrases = ["SEND code of practice", "revised code of practice"]
documents = ["SEND code of practice: 0 to 25 years"]

[[source]]
id = "send-code-of-practice"
kind = "govuk-content"
url = "{site}{CODE}"
interval = "6h"
commitments = ["code-of-practice"]

[[source]]
id = "send-search"
kind = "govuk-search"
url = "{site}{SEARCH}"
interval = "2h"
[source.params]
q = "special educational needs"

[[source]]
id = "dfe-news"
kind = "page"
url = "{site}{NEWS}"
interval = "2h"
commitments = ["send-review", "code-of-practice"]

[[source]]
id = "send-tribunal-statistics"
kind = "page"
url = "{site}{TRIBUNAL}"
interval = "1d"
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _folder(given: str | None) -> Path:
    """The demo's folder: new and temporary, or ``--dir`` if empty or a previous demo's."""
    if not given:
        folder = Path(tempfile.mkdtemp(prefix="sendwatch-demo-"))
    else:
        folder = Path(given).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / MARKER).exists():  # a previous demo's: start again from nothing
            for entry in folder.iterdir():
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        elif any(folder.iterdir()):
            raise FileExistsError(f"{folder} is not empty; give --dir an empty or new folder")
    (folder / MARKER).write_text("made by sendwatch demo; the demo clears this folder when it runs again\n")
    return folder


# -- running it --------------------------------------------------------------------------------


def run_demo(directory: str | None = None, *, wait: bool = True) -> int:
    """``sendwatch demo``: the demo in ``directory`` (default: a new temporary folder);
    ``wait``: keep the dashboard up until Ctrl-C once it has run."""
    try:
        folder = _folder(directory)
    except (OSError, FileExistsError) as exc:
        print(f"sendwatch demo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    site = DemoSite().start()
    try:
        port = _free_port()
        config = folder / "sendwatch.toml"
        config.write_text(demo_config(folder, site.base, port), encoding="utf-8")
        # The demo's own config wins over SENDWATCH_* variables meant for a real installation.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
        settings = load_settings(config, env=env, kinds=KINDS)
        _quiet_logging()
        print("sendwatch demo: everything runs on this machine; nothing is fetched from the internet.")
        print(f"  folder:    {folder}")
        print(f"  demo site: {site.base}/ (a pretend GOV.UK whose pages change as the demo goes on)")
        print(f"  config:    {config}\n", flush=True)
        with Store(settings.database) as store:
            store.sources.sync(settings.sources, READS)
            return asyncio.run(_run(settings, store, config, env, site, folder, wait=wait))
    finally:
        site.stop()


def _quiet_logging() -> None:
    """The service's one line per check, without timestamps and on standard output, so
    that they read in order under the step that caused them."""
    logging.getLogger("sendwatch.check").setLevel(logging.ERROR)  # failures are in the service's line
    service = logging.getLogger("sendwatch.service")
    service.setLevel(logging.INFO)
    service.propagate = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("    %(message)s"))
    service.addHandler(handler)


async def _run(settings, store: Store, config: Path, env, site: DemoSite, folder: Path, *, wait: bool) -> int:
    service = Service(settings, store, config=config, env=env)
    service.install_signal_handlers()
    try:
        try:
            await service.start()
        except ServiceError as exc:
            print(f"sendwatch demo: {exc}", file=sys.stderr)
            return EXIT_ERROR
        for number, (headline, events) in enumerate(STEPS):
            if service.stop_requested.is_set():
                break
            site.step = number
            print(f"\nStep {number + 1} of {len(STEPS)}. {headline}")
            for event in events:
                print(f"  - {event}")
            sys.stdout.flush()
            if number == 1:
                print("  Sources are checked every few hours; the demo does not wait for that: after each "
                      "step it\n  asks the scheduler to run every check now, as it would when their time came.")
            if number:
                service.check_now()  # what the scheduler does when their time comes
            await service.settle()
        await service.flush_outbox()
        sys.stderr.flush()
        print("\n" + "\n".join(_summary(store, settings, config, service.dashboard, wait)), flush=True)
        if wait and not service.stop_requested.is_set():
            await service.stop_requested.wait()
    finally:
        await service.stop()
        service.remove_signal_handlers()
    return EXIT_OK


def maildir_messages(maildir: Path) -> list:
    """The emails in a Maildir, in the order they were delivered."""
    files = [p for box in ("new", "cur") if (maildir / box).is_dir() for p in (maildir / box).iterdir()]
    files.sort(key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]


def _summary(store: Store, settings, config: Path, dashboard: str | None, wait: bool) -> list[str]:
    lines = ["What happened"]
    outcomes: dict[str, int] = {}
    for source in store.sources.all():
        for check in store.history.checks(source.id, limit=1000):
            outcomes[check.outcome] = outcomes.get(check.outcome, 0) + 1
    lines.append(f"  checks: {sum(outcomes.values())} ("
                 + ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) + ")")
    changes = sorted(store.history.changes(), key=lambda c: c.id)
    lines.append(f"  changes: {len(changes)}")
    lines += [f"    {c.id:>3}  {c.source_id}: {c.summary}" for c in changes]
    developments = store.ledger.developments()
    lines.append(f"  developments: {len(developments)} (changes that bear on a commitment)")
    lines += [f"    {d.commitment_id}: {d.title}" for d in reversed(developments)]
    for followed in store.sources.followed():
        lines.append(f"  now following {followed.id}: found by the search, checked on its own from now on")

    maildir = settings.email.maildir
    subjects = [message["Subject"] for message in maildir_messages(maildir)]
    lines.append(f"  email: {len(subjects)} written to the Maildir {maildir}")
    lines += [f"    - {subject}" for subject in subjects]

    run = f"sendwatch --config {config}"
    developed = {d.change_id for d in developments}
    explain = [(c.id, "why this change is a development") for c in changes if c.id in developed][:1]
    explain += [(c.id, "and why this one is not") for c in changes if c.id not in developed][:1]
    lines += ["", "Where to look",
              f"  dashboard: {dashboard or 'not available (see above)'}"
              + ("" if wait else "  (up while the demo ran; run `sendwatch demo` without --no-wait to browse it)"),
              f"  email:     {maildir}/new/ (one file per email; any Maildir reader opens {maildir})",
              f"  the record, from the command line (it stays in {config.parent}):",
              f"    {run} changes",
              f"    {run} commitments",
              *[f"    {run} explain {change_id}    ({why})" for change_id, why in explain],
              f"    {run} history send-code-of-practice",
              f"    {run} sources"]
    if wait:
        lines += [f"    {run} status     (in another terminal, while this runs)",
                  "", "The dashboard stays up until you press Ctrl-C."]
    return lines
