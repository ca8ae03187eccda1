"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

Pages must work with JavaScript switched off, load nothing the Content-Security-Policy
refuses, never run a hostile page's script even where JavaScript is on, pass axe-core's
WCAG 2.2 AA and best-practice rules, and fit a 320 px wide screen.
"""

from __future__ import annotations

import os
import re

import httpx
import pytest
from argon2 import PasswordHasher
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import expect, sync_playwright

from monitor.app import links
from monitor.app.web import app as web_app
from tests.test_web import EXPECTED_DOCUMENT, built_world, crawl

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with built_world(tmp_path_factory.mktemp("browser")) as built:
        yield built


@pytest.fixture(scope="module")
def browser(world):
    # After the world: Playwright's sync API keeps an event loop running in this thread, and
    # building the world runs ``sendwatch check``, which needs to start its own.
    # Failing, not skipping: a skipped browser test would hide that nothing was checked.
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) "
                    "to run the browser tests; Playwright's own browser downloads are not used")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page whose console errors, page errors, failed requests and dialogs are recorded."""

    def __init__(self, context) -> None:
        self.page = context.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: self.problems.append(f"HTTP {r.status}: {r.url}")
                     if r.status >= 400 else None)
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def visit(self, url: str):
        response = self.page.goto(url)
        assert response is not None and response.status == 200, url
        return self.page


@pytest.fixture
def no_js(browser):
    context = browser.new_context(java_script_enabled=False)
    yield Watched(context)
    context.close()


@pytest.fixture
def with_js(browser):
    context = browser.new_context(java_script_enabled=True)
    yield Watched(context)
    context.close()


def test_the_dashboard_works_without_javascript_and_links_to_a_diff(no_js, world):
    page = no_js.visit(world.base + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "SEND commitments: what was promised and what has happened")
    expect(page.get_by_role("heading", name="The commitments ledger")).to_be_visible()
    ledger = page.get_by_role("table").first
    expect(ledger.get_by_role("rowheader", name="A revised SEND Code of Practice")).to_be_visible()
    expect(ledger.get_by_role("columnheader", name="Days overdue")).to_be_visible()
    expect(page.get_by_text("Overdue", exact=True)).to_be_visible()  # a word, not a colour
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("link", name="Commitments", exact=True)).to_have_attribute("aria-current", "page")

    # The stylesheet was allowed by the CSP and applied: the skip link waits off screen.
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.bounding_box()["x"] < 0

    # Keyboard users land on the skip link first, and can see where they are.
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["x"] >= 0

    page.get_by_role("link", name=re.compile(r"^1 document added: 'SEND code of practice")).click()
    expect(page).to_have_url(re.compile(rf"/changes/{world.changes['code']}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Change {world.changes['code']}: {EXPECTED_DOCUMENT}")
    added = page.locator("ol.diff ins", has_text="It was revised in 2026.")
    removed = page.locator("ol.diff del", has_text="It was last revised in 2015.")
    expect(added).to_be_visible()
    expect(removed).to_be_visible()
    expect(added).to_contain_text("Added:")  # said to screen readers, not only shown in green
    expect(page.get_by_role("link", name=f"{EXPECTED_DOCUMENT} (2026 revision)")).to_have_attribute(
        "href", world.site.url("/media/code-2026.pdf"))
    expect(page.get_by_role("heading", name="Developments recorded for this change")).to_be_visible()
    assert no_js.problems == []


def test_a_commitment_page_without_javascript(no_js, world):
    page = no_js.visit(world.base + "/commitments/code-of-practice")
    expect(page.get_by_role("heading", level=1)).to_have_text("A revised SEND Code of Practice")
    expect(page.get_by_text("Revise the SEND Code of Practice.")).to_be_visible()
    expect(page.get_by_text("In progress", exact=True)).to_be_visible()
    developments = page.get_by_role("heading", name="Developments sendwatch recorded")
    expect(developments).to_be_visible()
    expect(page.locator("ol.timeline > li")).to_have_count(3)
    expect(page.get_by_role("link", name="SEND and AP improvement plan published")).to_be_visible()
    expect(page.get_by_role("link", name="Follow this commitment (Atom feed)")).to_have_attribute(
        "href", "/commitments/code-of-practice/feed.atom")

    page = no_js.visit(world.base + "/commitments/update-later-in-the-year")
    expect(page.get_by_text(re.compile(r"Overdue, \d+ days overdue"))).to_be_visible()
    assert no_js.problems == []


def test_hostile_pages_run_no_script_even_with_javascript_on(with_js, world):
    violations = []
    for path in ("/", "/developments", "/commitments/code-of-practice", "/sources", "/sources/hostile",
                 *(f"/changes/{i}" for i in world.changes.values())):
        page = with_js.visit(world.base + path)
        # Nothing from the record became an element: no script, no image, no handler.
        assert page.locator("script").count() == 0, path
        assert page.locator("img").count() == 0, path
        assert page.locator("[onerror], [onclick], [onload]").count() == 0, path
        violations += page.evaluate("() => performance.getEntriesByType('resource')"
                                    ".filter(e => !e.name.includes('/static/')).map(e => e.name)")
    page = with_js.visit(f"{world.base}/changes/{world.changes['hostile']}")
    assert "<script>alert(1)</script>" in page.get_by_role("heading", level=1).inner_text()
    # The focus ring is drawn by the stylesheet, so keyboard users see where they are.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    assert skip.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    assert with_js.dialogs == [], "a hostile script ran"
    assert violations == []
    assert with_js.problems == []


# axe-core's rules for WCAG 2.0, 2.1 and 2.2 at levels A and AA, and its best practices
# (landmarks, headings, regions), whatever their impact: a "minor" one is still a fault.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
# A small phone (WCAG's reflow width, 320 CSS px) and a common one.
PHONE_WIDTHS = (320, 390)


OPERATOR_PASSWORD = "a long operator passphrase"
SUBSCRIBER = "forum@example.org"  # a recipient in the test record's configuration


def every_page(world, monkeypatch) -> dict[str, int]:
    """Every HTML page the dashboard serves with this record, with the status it answers:
    all those its links reach, a second page of developments, the error pages, and the
    subscription pages an emailed link opens."""
    # Two developments a page, so the developments list has a second page and its
    # page links (the server runs in this process).
    monkeypatch.setattr(web_app, "PAGE_SIZE", 2)
    # Sign-up and operator sign-in are open only with a secret (and a password hash); the
    # settings are read for every request.
    monkeypatch.setattr(world, "settings", world.settings.model_copy(update={
        "secret_key": "s" * 40, "operator_password_hash": PasswordHasher().hash(OPERATOR_PASSWORD),
        "web": world.settings.web.model_copy(update={"public_url": world.base})}))
    with httpx.Client(base_url=world.base, timeout=10) as client:
        pages = {path: r.status_code for path, r in crawl(client).items()
                 if r.headers["content-type"].startswith("text/html")}
        # A mangled link's long id is repeated on its 404 page.
        for path in ("/no/such/page", "/sources/send_code_of_practice_0_to_25_years_withdrawn_in_2026",
                     "/developments?page=two", "/sources/%00"):
            pages[path] = client.get(path).status_code
        for purpose in ("confirm", "manage", "unsubscribe"):
            path = links.url(world.settings, purpose, SUBSCRIBER).removeprefix(world.settings.dashboard_url)
            pages[path] = client.get(path).status_code
    assert {"/subscribe", "/manage", "/operator/sign-in"} <= set(pages)
    assert pages["/no/such/page"] == 404 and pages["/developments?page=two"] == 400
    assert pages["/sources/%00"] == 400  # the guard's own plain page
    assert "/developments?page=2" in pages and {f"/changes/{i}" for i in world.changes.values()} <= set(pages)
    return pages


def axe_violations(page) -> list[str]:
    """axe-core's findings on the page as shown now, one line per rule and element."""
    # Evaluated by the browser's debugging protocol, which the page's CSP does not govern.
    page.evaluate(AXE_SCRIPT)
    results = page.evaluate("options => axe.run(document, options)",
                            {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]})
    return [f"{v['id']} ({v['impact']}) {' '.join(map(str, node['target']))}: {node['failureSummary']}"
            for v in results["violations"] for node in v["nodes"]]


def test_every_page_passes_axe_at_wcag_2_2_aa_and_best_practice(with_js, world, monkeypatch):
    found = {}
    for path, status in every_page(world, monkeypatch).items():
        for width in (1280, PHONE_WIDTHS[0]):
            with_js.page.set_viewport_size({"width": width, "height": 800})
            response = with_js.page.goto(world.base + path)
            assert response is not None and response.status == status, path
            if violations := axe_violations(with_js.page):
                found[f"{path} at {width} px"] = violations
    assert not found, "\n".join(f"{where}: {line}" for where, lines in found.items() for line in lines)


def test_no_page_scrolls_sideways_on_a_phone(no_js, world, monkeypatch):
    # Tables may scroll inside their own region; the page itself may not (WCAG 1.4.10 Reflow).
    too_wide = {}
    pages = every_page(world, monkeypatch)
    for width in PHONE_WIDTHS:
        no_js.page.set_viewport_size({"width": width, "height": 800})
        for path in pages:
            no_js.page.goto(world.base + path)
            scroll_width = no_js.page.evaluate("document.documentElement.scrollWidth")
            if scroll_width > width:
                too_wide[f"{path} at {width} px"] = scroll_width
    assert too_wide == {}


def test_forms_and_an_operators_pages_pass_axe_and_fit_a_phone(with_js, world, monkeypatch):
    every_page(world, monkeypatch)  # for its settings: sign-up and sign-in open
    page, found = with_js.page, {}

    def audit(where: str) -> None:
        for width in (1280, *PHONE_WIDTHS):
            page.set_viewport_size({"width": width, "height": 800})
            if violations := axe_violations(page):
                found[f"{where} at {width} px"] = violations
            if (scroll_width := page.evaluate("document.documentElement.scrollWidth")) > width:
                found[f"{where} at {width} px"] = [f"the page is {scroll_width} px wide"]

    # What a form answers: a refusal with its message, then the outcome.
    page.goto(world.base + "/subscribe")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#email-error")).to_be_visible()
    audit("/subscribe refused")
    page.get_by_label("Email address").fill("parent@example.org")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#email-error")).to_have_count(0)
    audit("/subscribe sent")
    page.goto(world.base + "/operator/sign-in")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#password-error")).to_be_visible()
    audit("/operator/sign-in refused")
    page.get_by_label("Password").fill(OPERATOR_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(world.base + "/")
    # Signed in, the pages carry the operator's forms.
    for path in ("/", "/commitments/code-of-practice", "/sources/code"):
        page.goto(world.base + path)
        expect(page.locator("form").first).to_be_visible()
        audit(f"{path} signed in")
    assert not found, "\n".join(f"{where}: {line}" for where, lines in found.items() for line in lines)
