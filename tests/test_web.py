"""The web app end to end: a real record made by ``sendwatch check`` against a local site
(one of whose pages is hostile), served by uvicorn on 127.0.0.1 and read over HTTP.

The record is built once per module and per database, since every test here only reads it.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
import uvicorn
from bs4 import BeautifulSoup

from config import Settings, load_settings
from monitor.app.web import app as web_app
from monitor.app.web import create_app
from monitor.app.web.present import paginate, web_url
from monitor.core.diff import diff_documents
from monitor.core.diff import hunks as diff_hunks
from monitor.core.document import ATTACHMENT, Document, Item
from monitor.core.drafts import POSSIBLE, DevelopmentDraft
from monitor.core.ledger import lateness, london_date
from monitor.sources import KINDS
from storage import CheckMeta, Store
from tests.conftest import UPDATE_LATER, Site, database_kinds, fresh_database
from tests.govuk_site import PageContent, render_govuk_page

# What a hostile page says. Each payload is numbered so a failure names the one that got through.
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
EXPECTED_DOCUMENT = "SEND code of practice: 0 to 25 years"

CONFIG = '''
[fetch]
per_host_delay = 0
retries = 0

[[commitment]]
id = "code-of-practice"
title = "A revised SEND Code of Practice"
promise = "Revise the SEND Code of Practice."
made_in = "Government response to the Education Committee"
made_on = 2020-07-23
made_url = "https://www.gov.uk/government/publications/send-review"
expected_by = 2021-12-31
phrases = ["SEND code of practice", "SEN support"]
documents = ["SEND code of practice: 0 to 25 years"]
known = [{{ date = 2023-03-02, title = "SEND and AP improvement plan published", url = "https://www.gov.uk/plan" }}]

''' + UPDATE_LATER + '''
[[recipient]]
email = "forum@example.org"
mode = "daily"

[[source]]
id = "code"
url = "{site}/code"
commitments = ["code-of-practice"]

[[source]]
id = "hostile"
url = "{site}/hostile"
commitments = ["code-of-practice"]

# A long path, as GOV.UK's are: its error is shown on the dashboard, and must wrap on a phone.
[[source]]
id = "broken"
url = "{site}/government/publications/send-code-of-practice-0-to-25-years-withdrawn"
'''


def code_page(lines, attachments=()):
    return render_govuk_page(PageContent(
        title="SEND code of practice: 0 to 25 years", body=list(lines), attachments=list(attachments),
        change_history=[("2015-01-01T00:00:00Z", "First published.")]))


def hostile_page(version: int):
    attachments = [(f"{SCRIPT} Annex {IMG}", "/media/annex.pdf", "PDF")]
    if version > 1:
        attachments += [
            (f"{EXPECTED_DOCUMENT} {SCRIPT}", '/media/code.pdf?x="><script>alert(3)</script>', "PDF"),
            ("Click me", "javascript:alert(4)", ""),
        ]
    return render_govuk_page(PageContent(
        title=f"{SCRIPT} SEND plan {IMG}", summary=f"Summary {SCRIPT}",
        body=[f"A paragraph {IMG}", f"Version {version} {SCRIPT}"], attachments=attachments,
        change_history=[("2024-01-01T00:00:00Z", f"First published {SCRIPT}.")]))


@dataclass
class World:
    base: str  # where the web app answers
    site: Site
    settings: Settings
    store: Store
    changes: dict[str, int]  # what each change is -> its id
    health: dict = field(default_factory=lambda: {"scheduler": "running"})


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1, as the service would."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def sendwatch(config: Path, *args: str) -> None:
    from monitor.app.cli import main

    assert main(["--config", str(config), *args]) == 0


@contextmanager
def built_world(directory: Path, database_kind: str = "sqlite") -> Iterator[World]:
    """Two rounds of ``sendwatch check`` against a local site, one more change recorded
    through the Store (with a ``javascript:`` URL the extractor would never produce), and
    the web app serving the result."""
    site = Site().start()
    with pytest.MonkeyPatch.context() as mp, fresh_database(database_kind, directory) as url:
        for name in ("SENDWATCH_CONFIG", "SENDWATCH_DATABASE_URL", "SENDWATCH_DATA_DIR"):
            mp.delenv(name, raising=False)
        mp.chdir(directory)
        path = directory / "sendwatch.toml"
        path.write_text(f'database_url = "{url}"\ndata_dir = "{directory / "data"}"\n'
                        + CONFIG.format(site=site.base))
        site.page("/code", code_page(["The code explains the duties of local authorities.",
                                      "It was last revised in 2015.", "Contact the SEND unit by post."]))
        site.page("/hostile", hostile_page(1))
        sendwatch(path, "check")
        site.page("/code", code_page(
            ["The code explains the duties of local authorities.", "It was revised in 2026.",
             "Contact the SEND unit by post."],
            attachments=[(f"{EXPECTED_DOCUMENT} (2026 revision)", "/media/code-2026.pdf", "PDF")]))
        site.page("/hostile", hostile_page(2))
        sendwatch(path, "check")
        settings = load_settings(path, env={}, kinds=KINDS)
        store = Store(settings.database_url)
        changes = {c.source_id: c.id for c in store.history.changes()}
        changes["javascript"] = record_javascript_development(store)
        world = World("", site, settings, store, changes)
        try:
            app = create_app(lambda: world.settings, store, lambda: dict(world.health))
            with serving(app) as base:
                world.base = base
                yield world
        finally:
            store.close()
            site.stop()


def record_javascript_development(store: Store) -> int:
    """A change on the hostile source whose item and development point at javascript: URLs."""
    state = store.sources.state("hostile")
    old = store.history.document(state.snapshot_id)
    bad = Item(ATTACHMENT, "javascript:alert(5)", title=f"{EXPECTED_DOCUMENT} (revised)", url="javascript:alert(5)")
    new = Document(old.title, old.blocks + (f"Later {SCRIPT}",), old.items + (bad,))
    evidence = [{"phrase": SCRIPT, "where": "expected document", "text": IMG, "weight": 1.0}]
    draft = DevelopmentDraft(commitment_id="code-of-practice", title=f"revised {SCRIPT}", score=1.0,
                             evidence=evidence, url="javascript:alert(6)")
    # And a possible development, for a person to review: listed on the dashboard, nowhere else.
    possible = DevelopmentDraft(commitment_id="update-later-in-the-year", title=f"possible {SCRIPT}", score=0.4,
                                evidence=evidence, url="javascript:alert(7)", status=POSSIBLE)
    recorded = store.history.record_document("hostile", new, diff_documents(old, new), CheckMeta(datetime.now(UTC), 1),
                                             developments=[draft, possible])
    return recorded.change_id


@pytest.fixture(scope="module", params=database_kinds())
def world(request, tmp_path_factory):
    with built_world(tmp_path_factory.mktemp("web"), request.param) as built:
        yield built


@pytest.fixture(scope="module")
def client(world):
    with httpx.Client(base_url=world.base, timeout=10) as http:
        yield http


def soup(response: httpx.Response) -> BeautifulSoup:
    assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
    return BeautifulSoup(response.text, "html.parser")


def text_of(page: BeautifulSoup) -> str:
    return " ".join(page.get_text(" ").split())


def crawl(client: httpx.Client, start: str = "/") -> dict[str, httpx.Response]:
    """Every page of the app reachable from ``start`` by its own links and feeds."""
    seen: dict[str, httpx.Response] = {}
    queue = [start]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        response = client.get(path)
        seen[path] = response
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        for tag in soup(response).find_all(["a", "link"], href=True):
            href = tag["href"]
            parts = urlsplit(href)
            if not parts.scheme and not parts.netloc and href.startswith("/"):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert len(seen) < 500, "the crawl does not end"
    return seen


# -- pure pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize("url, allowed", [
    ("https://www.gov.uk/x", True), ("http://127.0.0.1:8/a?b=c", True), ("HTTPS://WWW.GOV.UK/", True),
    ("javascript:alert(1)", False), ("JavaScript:alert(1)", False), ("java\tscript:alert(1)", False),
    (" javascript:alert(1)", False), (" https://www.gov.uk/", False), ("data:text/html,x", False),
    ("//evil.example/x", False), ("/relative", False), ("https://", False), ("", False), (None, False),
    ("vbscript:msgbox", False), ("https://[::1/", False),
])
def test_only_plain_web_urls_may_become_links(url, allowed):
    assert web_url(url) == (url if allowed else None)


def test_the_diff_shows_changed_blocks_in_place_with_context():
    old = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
    new = ["a", "b", "c", "D", "e", "f", "g", "h", "i", "j"]
    hunks = diff_hunks(old, new, context=1)
    assert [[(line.op, line.text) for line in hunk] for hunk in hunks] == [
        [("same", "c"), ("removed", "d"), ("added", "D"), ("same", "e")],
        [("same", "i"), ("added", "j")],
    ]
    assert diff_hunks(old, old) == []


def test_pages():
    assert paginate([], 1, 10).count == 1
    page = paginate(list(range(25)), 3, 10)
    assert (page.items, page.previous, page.next, page.total) == ([20, 21, 22, 23, 24], 2, None, 25)
    assert paginate(list(range(25)), 4, 10) is None and paginate([1], 0, 10) is None


# -- pages ----------------------------------------------------------------------------------


def test_the_dashboard_shows_the_ledger_developments_sources_and_email(client, world):
    page = soup(client.get("/"))
    assert page.find("h1").get_text() == "SEND commitments: what was promised and what has happened"
    text = text_of(page)
    ledger = page.find("h2", id="ledger").find_next("table")
    rows = {row.th.get_text(strip=True): row for row in ledger.tbody.find_all("tr")}
    code = rows["A revised SEND Code of Practice"]
    late = lateness(date(2021, 12, 31), london_date(datetime.now(UTC)))
    assert f"In progress; {late}" in " ".join(code.find_all("td")[0].get_text().split())
    assert "23 July 2020" in code.get_text() and "years ago" in code.get_text()
    latest = code.find_all("td")[-1].find("a")
    assert latest["href"].startswith("/changes/")  # the latest development links to its change
    overdue = rows["An update later in the year"]
    assert "Overdue" in overdue.get_text() and "31 December 2020" in overdue.get_text()
    days = int(overdue.find_all("td")[3].get_text(strip=True))
    assert days > 1900  # since 31 December 2020
    recent = page.find("h2", id="recent").find_next("table").tbody.find_all("tr")
    assert len(recent) == 3
    assert "3 sources watched: 2 working, 1 failing" in text
    failing = page.find("h3", string="Failing sources").find_next("ul")
    assert "broken" in failing.get_text() and "404" in failing.get_text()
    assert "held for digests" in text


def test_a_commitment_page_shows_the_promise_state_developments_and_known_facts(client, world):
    page = soup(client.get("/commitments/code-of-practice"))
    assert page.find("h1").get_text() == "A revised SEND Code of Practice"
    text = text_of(page)
    assert "Revise the SEND Code of Practice." in text
    assert "Government response to the Education Committee" in text and "23 July 2020" in text
    assert f"In progress; {lateness(date(2021, 12, 31), london_date(datetime.now(UTC)))}" in text.replace(" ;", ";")
    timeline = page.find("h2", id="developments").find_next("ol")
    entries = timeline.find_all("li", recursive=False)
    assert len(entries) == 3
    hrefs = [li.find("a")["href"] for li in entries]
    assert hrefs[0] == f"/changes/{world.changes['javascript']}"  # newest first
    assert set(hrefs) == {f"/changes/{world.changes[k]}" for k in ("javascript", "hostile", "code")}
    known = page.find("h2", id="known").find_next("ul")
    assert known.find("a", href="https://www.gov.uk/plan").get_text() == "SEND and AP improvement plan published"
    assert page.find("link", rel="alternate", href="/commitments/code-of-practice/feed.atom")

    overdue = text_of(soup(client.get("/commitments/update-later-in-the-year")))
    assert "Overdue" in overdue and "days overdue" in overdue and "None yet." in overdue


def test_developments_are_listed_newest_first_and_paginated(client, world, monkeypatch):
    page = soup(client.get("/developments"))
    rows = page.find("table").tbody.find_all("tr")
    assert len(rows) == 3
    assert rows[0].find("a", href=f"/changes/{world.changes['javascript']}")
    monkeypatch.setattr(web_app, "PAGE_SIZE", 2)  # the server runs in this process
    first = soup(client.get("/developments"))
    assert len(first.find("table").tbody.find_all("tr")) == 2
    assert first.find("a", rel="next")["href"] == "/developments?page=2" and not first.find("a", rel="prev")
    second = soup(client.get("/developments?page=2"))
    assert len(second.find("table").tbody.find_all("tr")) == 1
    assert second.find("a", rel="prev") and not second.find("a", rel="next")
    assert "Page 2 of 2 (3 in all)" in text_of(second)
    assert client.get("/developments?page=3").status_code == 404
    assert client.get("/developments?page=0").status_code == 404
    assert client.get("/developments?page=two").status_code == 400
    assert client.get("/developments", params={"page": "²"}).status_code == 400


def test_sources_show_their_status_versions_and_checks(client, world):
    listing = soup(client.get("/sources"))
    rows = {row.th.get_text(strip=True): row.get_text(" ", strip=True) for row in listing.find_all("tr") if row.th
            and row.th.get("scope") == "row"}
    assert set(rows) == {"broken", "code", "hostile"}
    assert "Failing" in rows["broken"] and "Working" in rows["code"]
    assert "page" in rows["code"] and world.site.url("/code") in rows["code"]

    code = soup(client.get("/sources/code"))
    assert code.find("h1").get_text() == "Source code"
    versions = code.find("h2", id="versions").find_next("table").tbody.find_all("tr")
    assert len(versions) == 2
    assert versions[0].find("a", href=f"/changes/{world.changes['code']}")
    assert "First version seen" in versions[1].get_text()
    checks = code.find("h2", id="checks").find_next("table").tbody.find_all("tr")
    assert [c.find_all("td")[1].get_text(strip=True) for c in checks] == ["Changed", "First"]
    assert "in the configuration" in text_of(code)

    broken = text_of(soup(client.get("/sources/broken")))
    assert "Failing" in broken and "404" in broken and "No version has been read yet." in broken


def test_the_diff_view_marks_added_and_removed_text_and_items(client, world):
    page = soup(client.get(f"/changes/{world.changes['code']}"))
    assert page.find("h1").get_text() == f"Change {world.changes['code']}: {EXPECTED_DOCUMENT}"
    added = [" ".join(i.get_text(" ").split()) for i in page.select("ol.diff ins")]
    removed = [" ".join(d.get_text(" ").split()) for d in page.select("ol.diff del")]
    assert added == ["+ Added: Documents", f"+ Added: {EXPECTED_DOCUMENT} (2026 revision)", "+ Added: PDF",
                     "+ Added: It was revised in 2026."]
    assert removed == ["− Removed: It was last revised in 2015."]
    same = [li.get_text(" ", strip=True) for li in page.select("ol.diff li.same")]
    assert "The code explains the duties of local authorities." in same  # context around the change
    # The labels are text for screen readers, the signs are for the eye: never colour alone.
    assert page.select_one("ol.diff ins .visually-hidden").get_text() == "Added: "
    item = page.find("h3", string="Added").find_next("ul").find("ins")
    assert "Document added" in item.get_text()
    assert item.find("a")["href"] == world.site.url("/media/code-2026.pdf")
    development = page.find("h2", id="developments").find_next("article")
    assert "A revised SEND Code of Practice" in development.h3.get_text()
    evidence = [td.get_text() for td in development.find("table").tbody.find_all("td")]
    assert "expected document" in evidence and EXPECTED_DOCUMENT.lower() in " ".join(evidence).lower()

    plain = text_of(soup(client.get(f"/changes/{world.changes['hostile']}")))
    assert "Document added" in plain


def test_every_page_reachable_from_the_dashboard_answers(client, world):
    pages = crawl(client)
    assert {"/", "/developments", "/sources", "/sources/code", "/sources/hostile", "/sources/broken",
            "/commitments/code-of-practice", "/commitments/update-later-in-the-year", "/feed.atom",
            "/commitments/code-of-practice/feed.atom", "/api/commitments", "/healthz",
            "/static/style.css", "/static/favicon.svg"} <= set(pages)
    assert {f"/changes/{i}" for i in world.changes.values()} <= set(pages)
    assert {path: r.status_code for path, r in pages.items() if r.status_code != 200} == {}


def test_html_pages_are_semantic_and_accessible(client, world):
    for path, response in crawl(client).items():
        if not response.headers["content-type"].startswith("text/html"):
            continue
        page = soup(response)
        assert page.html["lang"] == "en", path
        assert len(page.find_all("h1")) == 1, path
        assert page.find("header") and page.find("nav") and page.find("main", id="main") and page.find("footer")
        assert page.find("a")["href"] == "#main", f"{path}: the skip link comes first"
        for th in page.select("thead th"):
            assert th.get("scope") == "col", path
        for th in page.select("tbody th"):
            assert th.get("scope") == "row", path
        assert page.find("link", rel="stylesheet")["href"] == "/static/style.css"
        assert not page.find(style=True), f"{path}: inline styles would break the CSP"


def test_hostile_text_is_shown_escaped_and_never_becomes_markup(client, world):
    pages = crawl(client)
    for path, response in pages.items():
        body = response.text
        assert "<script" not in body.lower(), path
        assert "<img src=x" not in body, path
        if not response.headers["content-type"].startswith("text/html"):
            continue
        for tag in soup(response).find_all(True):
            assert tag.name not in ("script", "iframe", "object", "embed", "base"), path
            assert not [a for a in tag.attrs if a.lower().startswith("on")], f"{path}: {tag}"
            for name in ("href", "src", "action", "formaction"):
                value = tag.get(name)
                if value is not None:
                    assert value.startswith(("/", "#", "http://", "https://")), f"{path}: {name}={value!r}"
    hostile = pages[f"/changes/{world.changes['hostile']}"].text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile  # shown, as text
    page = soup(pages[f"/changes/{world.changes['hostile']}"])
    assert SCRIPT in page.find("h1").get_text()
    # The attachment's URL, quote and all, stays inside its attribute.
    links = [a["href"] for a in page.find_all("a") if "code.pdf" in a["href"]]
    assert set(links) == {world.site.url('/media/code.pdf?x="><script>alert(3)</script>')}

    bad = soup(pages[f"/changes/{world.changes['javascript']}"])
    assert not bad.find("a", href=re.compile("javascript", re.I))
    assert "javascript:alert(5)" in text_of(bad)  # shown as text, not as a link
    assert IMG in text_of(bad.find("h2", id="developments").find_next("table"))


def test_the_dashboard_lists_possible_developments_and_nothing_else_does(client, world):
    section = soup(client.get("/")).find("h2", id="possible").parent
    (row,) = section.find("tbody").find_all("tr")
    cells = [td.get_text(" ", strip=True) for td in row.find_all("td")]
    (possible,) = world.store.ledger.developments(statuses=(POSSIBLE,))
    assert cells[0] == str(possible.id) and cells[4] == "0.40"
    assert cells[3] == f"possible {SCRIPT}"  # the page's words, as text
    assert row.find("a", string=f"possible {SCRIPT}")["href"] == f"/changes/{world.changes['javascript']}"
    assert not row.find("a", href=re.compile("javascript", re.I))
    assert "sendwatch review confirm ID" in text_of(section)
    # Not a development: not in the list of developments, the feeds, the API or the ledger.
    for path in ("/developments", "/feed.atom", "/api/developments", "/commitments/update-later-in-the-year"):
        assert "possible &lt;script&gt;" not in client.get(path).text and "possible <script>" not in \
            client.get(path).text, path


def test_unknown_ids_answer_404(client):
    for path in ("/commitments/no-such", "/commitments/no-such/feed.atom", "/sources/no-such", "/changes/999999",
                 "/changes/99999999999999999999999999", "/changes/abc", "/no/such/page"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        page = soup(response)
        assert page.find("h1").get_text() == "Page not found", path
        assert page.find("nav")  # a way back
    hostile = client.get("/sources/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert hostile.status_code == 404 and "<script" not in hostile.text
    for path in ("/api/commitments/no-such", "/api/changes/999999"):
        response = client.get(path)
        assert response.status_code == 404 and "error" in response.json(), path


def test_security_headers_are_on_every_response(client, world):
    for path in ("/", f"/changes/{world.changes['code']}", "/feed.atom", "/api/sources", "/healthz",
                 "/static/style.css", "/no/such/page", "/api/nope", "/developments?page=x"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == web_app.CSP, path
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
    assert client.post("/").status_code == 405


# -- feeds ----------------------------------------------------------------------------------


def test_the_atom_feeds_are_valid_and_every_entry_links_to_a_page(client, world):
    response = client.get("/feed.atom")
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert b"<script" not in response.content and b"&lt;script&gt;" in response.content
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "sendwatch: developments on the SEND commitments"
    # Ids are tag: URIs, the same however the dashboard is reached; links are absolute.
    assert feed.feed.id == "tag:127.0.0.1,2026:sendwatch/feed"
    by_localhost = feedparser.parse(httpx.get(world.base.replace("127.0.0.1", "localhost") + "/feed.atom").text)
    assert [e.id for e in by_localhost.entries] == [e.id for e in feed.entries]
    assert feed.feed.author == "sendwatch"
    assert len(feed.entries) == 3
    assert feed.entries[0].link == f"{world.base}/changes/{world.changes['javascript']}"
    for entry in feed.entries:
        assert entry.id and entry.updated and entry.summary and entry.title
        assert entry.title.startswith("A revised SEND Code of Practice: ")
        for link in entry.links:
            assert link.href.startswith(world.base + "/"), link.href  # absolute, on this server
            assert client.get(link.href).status_code == 200, link.href
    assert len({e.id for e in feed.entries}) == 3

    mine = feedparser.parse(client.get("/commitments/code-of-practice/feed.atom").content)
    assert not mine.bozo and len(mine.entries) == 3
    assert mine.feed.title == "sendwatch: A revised SEND Code of Practice"
    assert mine.feed.link == f"{world.base}/commitments/code-of-practice"
    empty = feedparser.parse(client.get("/commitments/update-later-in-the-year/feed.atom").content)
    assert not empty.bozo and empty.entries == []


def test_feed_links_use_the_public_address_never_the_host_header(client, world):
    # By default links name the address the dashboard listens on, whatever Host a client sends.
    feed = feedparser.parse(client.get("/feed.atom", headers={"Host": "evil.example"}).content)
    assert [link.href for link in feed.feed.links if link.rel == "self"] == [f"{world.base}/feed.atom"]
    assert feed.feed.link == f"{world.base}/"
    assert len(feed.entries) == 3 and all(e.link.startswith(f"{world.base}/changes/") for e in feed.entries)
    mine = feedparser.parse(client.get("/commitments/code-of-practice/feed.atom",
                                       headers={"Host": "evil.example"}).content)
    assert [link.href for link in mine.feed.links if link.rel == "self"] == \
        [f"{world.base}/commitments/code-of-practice/feed.atom"]
    assert all(e.link.startswith(world.base + "/changes/") for e in mine.entries)

    # Behind a proxy, [web] public_url is the address readers reach.
    settings = world.settings
    public = settings.model_copy(update={"web": settings.web.model_copy(
        update={"public_url": "https://sendwatch.example.org/send"})})
    with serving(create_app(lambda: public, world.store)) as base:
        feed = feedparser.parse(httpx.get(f"{base}/feed.atom", headers={"Host": "evil.example"}).content)
    assert [link.href for link in feed.feed.links if link.rel == "self"] == \
        ["https://sendwatch.example.org/send/feed.atom"]
    assert feed.feed.link == "https://sendwatch.example.org/send/"
    assert {e.link.rsplit("/", 1)[0] for e in feed.entries} == {"https://sendwatch.example.org/send/changes"}
    assert feed.feed.id == "tag:127.0.0.1,2026:sendwatch/feed"  # ids stay: readers would show all again


# -- the JSON API ---------------------------------------------------------------------------


def test_the_json_api(client, world):
    commitments = client.get("/api/commitments").json()
    assert [c["id"] for c in commitments] == ["code-of-practice", "update-later-in-the-year"]
    assert commitments[0]["state"] == "in progress" and commitments[1]["state"] == "overdue"
    assert commitments[1]["days_overdue"] > 1900
    assert commitments[0]["lateness"] == lateness(date(2021, 12, 31), london_date(datetime.now(UTC)))

    one = client.get("/api/commitments/code-of-practice").json()
    assert one["title"] == "A revised SEND Code of Practice" and len(one["developments"]) == 3
    assert one["known"] == [{"date": "2023-03-02", "title": "SEND and AP improvement plan published",
                             "url": "https://www.gov.uk/plan"}]
    development = one["developments"][0]
    assert {"id", "detected_at", "title", "url", "source_id", "change_id", "score", "evidence",
            "commitment_id"} <= set(development)

    everything = client.get("/api/developments").json()
    assert len(everything) == 3
    assert client.get("/api/developments", params={"since": "2999-01-01"}).json() == []
    assert len(client.get("/api/developments", params={"since": "2000-01-01T00:00:00Z"}).json()) == 3
    assert client.get("/api/developments", params={"since": "soon"}).status_code == 400
    assert client.get("/api/developments", params={"since": "9999-12-31T23:59:59-05:00"}).status_code == 400

    sources = {s["id"]: s for s in client.get("/api/sources").json()}
    assert sources["broken"]["consecutive_failures"] == 2 and sources["code"]["last_error"] is None

    changes = client.get("/api/changes").json()
    assert {c["id"] for c in changes} == set(world.changes.values())
    only = client.get("/api/changes", params={"source": "code"}).json()
    assert [c["id"] for c in only] == [world.changes["code"]]
    assert client.get("/api/changes", params={"since": "2999-01-01"}).json() == []
    # The API reads since= as the CLI reads --since: a duration back from now too.
    assert {c["id"] for c in client.get("/api/changes", params={"since": "7d"}).json()} == set(world.changes.values())
    assert len(client.get("/api/developments", params={"since": "7d"}).json()) == 3
    refused = client.get("/api/changes", params={"since": "2026"})
    assert refused.status_code == 400
    assert "'2026' is not a date (2026-01-31), an instant" in refused.json()["error"]
    assert len(client.get("/api/changes", params={"limit": "1"}).json()) == 1
    assert client.get("/api/changes", params={"limit": "0"}).status_code == 400
    assert client.get("/api/changes", params={"limit": "99999999999999999999"}).status_code == 400

    change = client.get(f"/api/changes/{world.changes['code']}").json()
    assert change["source_id"] == "code"
    assert change["detail"]["removed_lines"] == ["It was last revised in 2015."]
    assert change["detail"]["added_items"][0]["url"] == world.site.url("/media/code-2026.pdf")
    assert [d["commitment_id"] for d in change["developments"]] == ["code-of-practice"]
    assert client.get("/api/changes").headers["content-type"] == "application/json"


# -- health -----------------------------------------------------------------------------------


def test_healthz_reports_ok_with_the_service_state(client, world):
    world.health = {"scheduler": "running", "next_runs": {"code": datetime(2030, 1, 1, tzinfo=UTC)}}
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "scheduler": "running", "broken_sources": [],
                               "next_runs": {"code": "2030-01-01T00:00:00Z"}}
    assert response.headers["cache-control"] == "no-store"


def test_healthz_fails_when_the_scheduler_is_stopped(client, world):
    world.health = {"scheduler": "stopped"}
    try:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "failing" and response.json()["database"] == "ok"
    finally:
        world.health = {"scheduler": "running"}


def test_healthz_is_degraded_while_a_source_is_broken(world):
    strict = world.settings.model_copy(update={"email": world.settings.email.model_copy(update={"broken_after": 1})})
    with serving(create_app(lambda: strict, world.store)) as base:
        response = httpx.get(f"{base}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "broken_sources": ["broken"]}


def test_healthz_fails_when_the_health_probe_itself_fails(world):
    def probe() -> dict:
        raise RuntimeError("scheduler gone")

    with serving(create_app(lambda: world.settings, world.store, probe)) as base:
        response = httpx.get(f"{base}/healthz")
    assert response.status_code == 503
    assert response.json()["scheduler"] == "unknown: RuntimeError: scheduler gone"


def test_an_unreachable_database_fails_health_and_pages_say_so(tmp_path):
    # The database's directory is replaced by a file after the Store is made: nothing can open it.
    store = Store(f"sqlite:///{tmp_path / 'gone' / 'sendwatch.db'}", migrate=False)
    (tmp_path / "gone").rmdir()
    (tmp_path / "gone").write_text("not a directory")
    try:
        with serving(create_app(Settings, store)) as base:
            health = httpx.get(f"{base}/healthz")
            page = httpx.get(f"{base}/")
            api = httpx.get(f"{base}/api/sources")
    finally:
        store.close()
    assert health.status_code == 503
    assert health.json()["status"] == "failing"
    assert health.json()["database"].startswith("OperationalError: unable to open database file")
    assert page.status_code == 503 and "cannot reach its database" in page.text
    assert page.headers["content-security-policy"] == web_app.CSP
    assert api.status_code == 503 and api.json() == {"error": "The record cannot be read just now"}


def test_a_closed_postgresql_server_fails_health(tmp_path):
    pytest.importorskip("psycopg")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = Store(f"postgresql+psycopg://sendwatch:secret@127.0.0.1:{port}/sendwatch", migrate=False)
    try:
        with serving(create_app(Settings, store, lambda: {"scheduler": "running"})) as base:
            response = httpx.get(f"{base}/healthz")
    finally:
        store.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing" and body["scheduler"] == "running"
    assert body["database"].startswith("OperationalError") and "secret" not in body["database"]


def test_an_unexpected_error_is_a_plain_page_with_the_security_headers(world):
    def no_settings() -> Settings:
        raise RuntimeError("config <b>gone</b>")

    with serving(create_app(no_settings, world.store)) as base:
        page = httpx.get(f"{base}/")
        api = httpx.get(f"{base}/api/commitments")
        missing = httpx.get(f"{base}/no/such/page")
        health = httpx.get(f"{base}/healthz")
    assert page.status_code == 500 and "Something went wrong" in page.text
    assert "config" not in page.text and "Traceback" not in page.text  # details go to the log only
    assert page.headers["content-security-policy"] == web_app.CSP
    assert api.status_code == 500 and api.json() == {"error": "Something went wrong"}
    assert missing.status_code == 404 and "Page not found" in missing.text  # still a page with a way back
    assert health.status_code == 200 and health.json()["database"] == "ok"


def test_settings_are_read_for_every_request(world):
    current = {"settings": world.settings}
    with serving(create_app(lambda: current["settings"], world.store)) as base:
        assert "A revised SEND Code of Practice" in httpx.get(f"{base}/").text
        renamed = tuple(c.model_copy(update={"title": "The Code, renamed"}) if c.id == "code-of-practice" else c
                        for c in world.settings.commitments)
        current["settings"] = world.settings.model_copy(update={"commitments": renamed})
        assert "The Code, renamed" in httpx.get(f"{base}/").text


def test_a_commitment_removed_from_the_config_is_named_not_linked(world):
    from monitor.app.web import create_app

    trimmed = world.settings.model_copy(update={"commitments": ()})
    with serving(create_app(lambda: trimmed, world.store)) as base:
        page = httpx.get(f"{base}/developments", timeout=10)
    assert page.status_code == 200
    assert "(no longer in the configuration)" in page.text
    assert "/commitments/" not in page.text.split("<main", 1)[1]


def test_a_nul_in_an_address_is_a_bad_request_not_a_database_outage(client, world):
    # PostgreSQL refuses a NUL in text: asked for, it was a 503 "cannot reach its database".
    for path in ("/api/changes?source=%00", "/sources/%00", "/api/developments?commitment=a%00b"):
        response = client.get(path)
        assert response.status_code == 400, (path, response.status_code)
        assert response.headers["x-content-type-options"] == "nosniff"  # still secured
    assert client.get("/healthz").status_code == 200
