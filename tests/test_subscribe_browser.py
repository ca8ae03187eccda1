"""Subscribing in a real browser (Debian's headless Chromium, JavaScript off), with a real
SMTP server: sign up, read the confirmation from the server, open its link and confirm,
receive a development, change the subscription on the page its email links to, leave with
the one-click POST a mail program sends, and receive nothing more."""

from __future__ import annotations

import os

import httpx
import pytest
from playwright.sync_api import sync_playwright

from monitor.app.web import create_app
from tests.mailserver import MailServer, free_port
from tests.test_email import REVISION, code_page
from tests.test_subscribe_web import World, link_in, revision, serving_on
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def world(tmp_path, site, database_url):
    with MailServer() as mail:
        w = World(tmp_path, site, database_url, mail, free_port())
        with serving_on(create_app(lambda: w.settings, w.store), w.port) as base:
            w.base = base
            yield w
        w.store.close()


@pytest.fixture
def page(world):
    # After the world: its checks run their own event loop, Playwright's sync API keeps one.
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = chromium.new_context(java_script_enabled=False)
        yield context.new_page()
        context.close()
        chromium.close()


def test_a_reader_subscribes_confirms_changes_and_leaves_in_a_browser(world, page):
    world.site.page("/code", code_page())
    world.check()  # the baseline, before anyone subscribes
    page.goto(f"{world.base}/")
    page.get_by_role("link", name="Subscribe").click()
    page.get_by_label("Email address").fill("forum@example.org")
    page.get_by_label("Only those I tick").check()
    page.get_by_label("A revised SEND Code of Practice").check()
    page.get_by_role("button", name="Subscribe").click()
    assert page.get_by_role("heading", name="Check your email").is_visible()
    world.send()
    (confirmation,) = world.mail.messages
    assert confirmation["To"] == "forum@example.org"
    page.goto(link_in(confirmation, "confirm"))
    page.get_by_role("button", name="Confirm").click()
    assert page.get_by_role("heading", name="You are subscribed").is_visible()

    world.site.page("/code", code_page(attachments=REVISION))
    world.check()
    development = world.mail.messages[-1]
    assert development["To"] == "forum@example.org" and "SEND Code of Practice" in development["Subject"]

    page.goto(link_in(development, "manage"))
    page.get_by_label("A weekly digest").check()
    page.get_by_label("and a weekly one on").select_option("friday")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("status").inner_text().startswith("Saved")
    assert world.store.subscribers.get("forum@example.org").mode == "weekly"

    # The mail program's one-click unsubscribe: a POST, no page, no cookie.
    done = httpx.post(link_in(development, "unsubscribe"), content=b"List-Unsubscribe=One-Click",
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200
    sent = len(world.mail.messages)
    world.site.page("/code", code_page(attachments=revision(2027)))
    world.check()
    assert len(world.mail.messages) == sent and world.store.subscribers.get("forum@example.org") is None
