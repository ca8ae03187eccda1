"""The public subscription pages end to end: uvicorn on 127.0.0.1, a real SMTP server
(aiosmtpd), and the real record. Sign up, confirm by the emailed link, get a development
with a footer, change the subscription, leave with the one-click POST, and get nothing
more; and the attacks the pages must resist."""

from __future__ import annotations

import re
import time

import httpx
import itsdangerous.timed
import pytest
from bs4 import BeautifulSoup

from config import load_settings
from config.settings import RecipientSettings
from monitor.app import links
from monitor.app.outbox import send_due
from monitor.app.web import create_app
from monitor.sources import KINDS
from storage import Store
from tests.conftest import CODE_OF_PRACTICE
from tests.mailserver import MailServer, free_port
from tests.test_email import REVISION, code_page

SECRET = "k" * 40


def revision(year: int) -> list:
    """The Code's page with another revision each time: a development each time."""
    return REVISION + [(f"SEND code of practice: 0 to 25 years ({year} revision)", f"/media/code-{year}.pdf", "PDF")]
CHECK = ('[[source]]\nid = "code"\nurl = "{site}/code"\ncommitments = ["code-of-practice"]\n')


class World:
    def __init__(self, tmp_path, site, database_url, mail, port, secret=SECRET):
        self.path = tmp_path / "sendwatch.toml"
        self.site, self.port = site, port
        self.path.write_text(
            f'database_url = "{database_url}"\n[fetch]\nper_host_delay = 0\nretries = 0\n'
            f'[web]\npublic_url = "http://127.0.0.1:{port}"\n'
            f'[email]\nfrom = "sendwatch <alerts@sendwatch.example>"\n'
            f'[email.smtp]\nhost = "127.0.0.1"\nport = {mail.port}\nsecurity = "none"\ntimeout = 5\n'
            + CODE_OF_PRACTICE + CHECK.format(site=site.url("")))
        self.env = {"SENDWATCH_SECRET_KEY": secret} if secret else {}
        self.settings = load_settings(self.path, env=self.env, kinds=KINDS)
        self.store = Store(self.settings.database_url)
        self.mail = mail

    def send(self) -> None:
        send_due(self.settings, self.store)

    def check(self) -> None:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        from monitor.app.check import check_sources
        # In a thread of its own: a browser test's Playwright keeps an event loop in this one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, check_sources(self.settings, self.store)).result()
        self.send()


@pytest.fixture
def world(tmp_path, site, database_url):
    with MailServer() as mail:
        w = World(tmp_path, site, database_url, mail, free_port())
        app = create_app(lambda: w.settings, w.store)
        with serving_on(app, w.port) as base:
            w.base = base
            yield w
        w.store.close()


def serving_on(app, port):
    import threading
    from contextlib import contextmanager

    import uvicorn

    @contextmanager
    def run():
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            assert thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)
    return run()


def form_of(response: httpx.Response) -> dict:
    soup = BeautifulSoup(response.text, "html.parser")
    return {i["name"]: i.get("value", "") for i in soup.select("form input[type=hidden]")}


def sign_up(client: httpx.Client, email: str, **fields) -> httpx.Response:
    page = client.get("/subscribe")
    assert page.status_code == 200
    return client.post("/subscribe", data={**form_of(page), "email": email, "scope": "all", "mode": "each",
                                           **fields})


def link_in(message, path: str) -> str:
    body = message.get_body(("plain",)).get_content()
    found = re.search(rf"(http://127\.0\.0\.1:\d+/{path}/\S+)", body)
    assert found, body
    return found.group(1)


def test_sign_up_confirm_receive_change_and_leave_with_one_click(world):
    with httpx.Client(base_url=world.base) as client:
        done = sign_up(client, "Parent@Example.org", scope="chosen", commitment="code-of-practice")
        assert done.status_code == 200 and "If this address can be subscribed" in done.text
        world.send()
        (confirmation,) = world.mail.messages
        assert confirmation["To"] == "Parent@example.org"
        assert "A revised SEND Code of Practice" in confirmation.get_body(("plain",)).get_content()
        # Nothing but the confirmation before it is confirmed.
        world.site.page("/code", code_page())
        world.check()
        world.site.page("/code", code_page(attachments=REVISION))
        world.check()
        assert len(world.mail.messages) == 1
        confirm = link_in(confirmation, "confirm")
        page = client.get(confirm)
        assert page.status_code == 200 and "Confirm" in page.text  # a button, not the confirmation itself
        assert world.store.subscribers.get("parent@example.org").status == "pending"
        confirmed = client.post(confirm, data=form_of(page))
        assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    world.site.page("/code", code_page(attachments=revision(2027)))
    world.check()
    development = world.mail.messages[-1]
    assert development["To"] == "Parent@example.org" and "Code of Practice" in development["Subject"]
    plain = development.get_body(("plain",)).get_content()
    assert ("You get this because Parent@example.org is subscribed to 'A revised SEND Code of Practice' "
            "(one email per development).") in plain
    manage, unsubscribe = link_in(development, "manage"), link_in(development, "unsubscribe")
    assert f'href="{unsubscribe}"' in development.get_body(("html",)).get_content()
    with httpx.Client() as client:
        page = client.get(manage)
        chosen = client.post(manage, data={**form_of(page), "scope": "all", "mode": "weekly", "at": "16:00",
                                           "weekday": "friday", "action": "save"})
        assert chosen.status_code == 200 and "Saved" in chosen.text
    record = world.store.subscribers.get("parent@example.org")
    assert (record.mode, record.at, record.weekday, record.commitments) == ("weekly", "16:00", "friday", ["all"])
    # A development now waits for the weekly digest; the one-click POST (no page, no cookie,
    # as a mail program sends it) ends the subscription and cancels what was waiting.
    world.site.page("/code", code_page(attachments=revision(2028)))
    world.check()
    held = world.store.outbox.notifications(status="held", recipient="Parent@example.org")
    assert len(held) == 1
    one_click = httpx.post(unsubscribe, content=b"List-Unsubscribe=One-Click",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    assert world.store.subscribers.get("parent@example.org") is None
    assert [n.status for n in world.store.outbox.notifications(recipient="Parent@example.org")
            if n.id == held[0].id] == ["cancelled"]
    sent = len(world.mail.messages)
    world.site.page("/code", code_page(attachments=revision(2029)))
    world.check()
    assert len(world.mail.messages) == sent


def test_a_form_without_its_csrf_token_or_with_another_cookies_is_refused(world):
    with httpx.Client(base_url=world.base) as client:
        page = client.get("/subscribe")
        bare = client.post("/subscribe", data={"email": "a@example.org", "scope": "all", "mode": "each"})
        assert bare.status_code == 403 and "did not come from this site" in bare.text
        token = form_of(page)["csrf_token"]
    with httpx.Client(base_url=world.base) as other:  # another browser: another cookie
        other.get("/subscribe")
        forged = other.post("/subscribe", data={"csrf_token": token, "email": "a@example.org"})
        assert forged.status_code == 403
    world.send()
    assert world.mail.messages == [] and world.store.subscribers.all() == []


def test_tampered_expired_and_rotated_links_are_refused(world, monkeypatch):
    world.store.subscribers.add(RecipientSettings(email="x@example.org"))
    manage = links.url(world.settings, "manage", "x@example.org")
    assert httpx.get(manage).status_code == 200
    tampered = manage[:-3] + ("AAA" if not manage.endswith("AAA") else "BBB")
    assert httpx.get(tampered).status_code == 400
    # A manage link is no confirmation link.
    assert httpx.get(manage.replace("/manage/", "/confirm/")).status_code == 400
    # A confirmation older than 48 hours has expired.
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: time.time_ns() / 1e9 - 49 * 3600)
    old = links.url(world.settings, "confirm", "y@example.org")
    monkeypatch.undo()
    expired = httpx.get(old)
    assert expired.status_code == 400 and "expired" in expired.text
    # Rotating the secret invalidates every link sent before.
    world.settings = load_settings(world.path, env={"SENDWATCH_SECRET_KEY": "r" * 40}, kinds=KINDS)
    assert httpx.get(manage).status_code == 400


def test_sign_ups_are_limited_per_address_and_per_client_and_say_the_same_either_way(world):
    with httpx.Client(base_url=world.base) as client:
        first = sign_up(client, "victim@example.org")
        again = sign_up(client, "victim@example.org")  # a second request within the hour
        world.send()
        assert [m["To"] for m in world.mail.messages] == ["victim@example.org"]  # one email, not two
        world.store.subscribers.add(RecipientSettings(email="known@example.org"))
        known = sign_up(client, "known@example.org")
        unknown = sign_up(client, "nobody@example.org")

        def shown(response):
            return BeautifulSoup(response.text, "html.parser").select_one("main").get_text(" ", strip=True)
        assert shown(first) == shown(again) == shown(known) == shown(unknown)
        link_known = client.post("/manage", data={**form_of(client.get("/manage")), "email": "known@example.org"})
        link_unknown = client.post("/manage", data={**form_of(client.get("/manage")), "email": "x@example.org"})
        assert shown(link_known) == shown(link_unknown)
        # The subscriber gets one working link (its sign-up and its request came within the
        # hour: one email, not two); the unknown address gets nothing.
        world.send()
        (asked,) = [m for m in world.mail.messages if m["To"] == "known@example.org"]
        assert asked["Subject"] == "sendwatch: your subscription to the SEND commitments"
        assert client.get(link_in(asked, "manage")).status_code == 200
        assert not [m for m in world.mail.messages if m["To"] == "x@example.org"]
        # The tenth sign-up or link request from one client in an hour is the last.
        for n in range(4):
            assert sign_up(client, f"n{n}@example.org").status_code == 200
        assert sign_up(client, "one-too-many@example.org").status_code == 429


def test_links_use_the_configured_address_never_the_request_host(world):
    with httpx.Client(base_url=world.base, headers={"host": "evil.example"}) as client:
        assert sign_up(client, "parent@example.org").status_code == 200
    world.send()
    (message,) = world.mail.messages
    assert link_in(message, "confirm").startswith(f"http://127.0.0.1:{world.port}/confirm/")
    assert "evil.example" not in message.as_string()


def test_an_invalid_address_is_refused_with_the_form_again(world):
    with httpx.Client(base_url=world.base) as client:
        refused = sign_up(client, "not-an-address")
        assert refused.status_code == 400 and "Enter an email address like name@example.org" in refused.text
        assert 'aria-invalid="true"' in refused.text
    assert world.store.subscribers.all() == []


def test_without_a_secret_key_the_pages_say_sign_up_is_not_open(tmp_path, site, database_url):
    with MailServer() as mail:
        w = World(tmp_path, site, database_url, mail, free_port(), secret=None)
        with serving_on(create_app(lambda: w.settings, w.store), w.port) as base:
            page = httpx.get(f"{base}/subscribe")
            assert page.status_code == 200 and "SENDWATCH_SECRET_KEY" in page.text and "<form" not in page.text
            assert 'href="/subscribe"' not in httpx.get(f"{base}/").text  # and no menu entry leads there
        with serving_on(create_app(lambda: w.settings.model_copy(update={"secret_key": SECRET}), w.store),
                        w.port) as base:
            assert 'href="/subscribe"' in httpx.get(f"{base}/").text
        w.store.close()


def test_on_an_https_address_every_subscriber_email_offers_one_click_unsubscribe(tmp_path, site, database_url):
    with MailServer() as mail:
        w = World(tmp_path, site, database_url, mail, free_port())
        w.settings = w.settings.model_copy(update={"web": w.settings.web.model_copy(
            update={"public_url": "https://sendwatch.example.org"})})
        w.store.subscribers.add(RecipientSettings(email="parent@example.org"))
        w.site.page("/code", code_page())
        w.check()
        w.site.page("/code", code_page(attachments=REVISION))
        w.check()
        (message,) = mail.messages
        assert re.fullmatch(r"<https://sendwatch\.example\.org/unsubscribe/[\w.-]+>", message["List-Unsubscribe"])
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        token = message["List-Unsubscribe"].rsplit("/", 1)[1].rstrip(">")
        assert links.read(w.settings, "unsubscribe", token) == "parent@example.org"
        w.store.close()


def test_a_form_without_a_length_is_refused_before_it_is_read(world):
    def body():
        yield b"email=a%40example.org&"
        yield b"x=" + b"y" * 100_000
    refused = httpx.post(f"{world.base}/subscribe", content=body(),
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 411


def test_the_public_dashboard_does_not_count_the_emails_the_pages_cause(world):
    world.store.subscribers.add(RecipientSettings(email="known@example.org"))
    with httpx.Client(base_url=world.base) as client:
        before = BeautifulSoup(client.get("/").text, "html.parser").select_one("main").get_text(" ", strip=True)
        client.post("/manage", data={**form_of(client.get("/manage")), "email": "known@example.org"})
        assert [n.kind for n in world.store.outbox.notifications(status="pending")] == ["manage-link"]
        after = BeautifulSoup(client.get("/").text, "html.parser").select_one("main").get_text(" ", strip=True)
    assert after == before


def test_per_client_limits_count_an_ipv6_network_of_64_bits_as_one_client():
    from monitor.app.web.forms import RateLimit
    limit = RateLimit(limit=2, window=3600)
    assert limit.allow("2001:db8:1:2::1", now=0) and limit.allow("2001:db8:1:2::ffff", now=1)
    assert not limit.allow("2001:db8:1:2:abcd::9", now=2)  # the same /64
    assert limit.allow("2001:db8:1:3::1", now=3) and limit.allow("192.0.2.1", now=3)


def test_without_a_public_address_sign_up_is_closed_but_emailed_links_still_work(world):
    from config.settings import EmailSettings, WebSettings
    world.store.subscribers.add(RecipientSettings(email="x@example.org"))
    manage = links.url(world.settings, "manage", "x@example.org")
    world.settings = world.settings.model_copy(update={"web": WebSettings(), "email": EmailSettings()})
    page = httpx.get(f"{world.base}/subscribe")
    assert "no public address" in page.text and "<form" not in page.text
    assert "no public address" in httpx.get(f"{world.base}/manage").text
    assert 'href="/subscribe"' not in httpx.get(f"{world.base}/").text
    assert httpx.get(manage).status_code == 200  # a link already sent keeps working
