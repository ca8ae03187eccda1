"""Subscribers kept in the record: the config's recipients in step with the file, others
added by an operator, leaving at once, forgetting, and suspension after refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from config.settings import RecipientSettings
from monitor.core.drafts import NotificationDraft
from storage import Store
from storage.subscribers import CONFIRM, SubscriberError
from tests.mailserver import MailServer
from tests.test_email import REVISION, Setup, code_page, development, recipients, smtp_table

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
# A second revision of the Code: another development after the first.
AGAIN = code_page(attachments=REVISION + [("SEND code of practice: 0 to 25 years (2027 revision)",
                                           "/media/code-2027.pdf", "PDF, 2 MB")])


@pytest.fixture
def store(database_url):
    with Store(database_url) as store:
        yield store


def statuses(store, address):
    return sorted(n.status for n in store.outbox.notifications() if n.recipient.casefold() == address)


def test_the_config_recipients_are_subscribers_in_step_with_the_file(store):
    store.subscribers.sync([RecipientSettings(email="A@example.org"), RecipientSettings(email="b@example.org")])
    assert [r.email for r in store.subscribers.active()] == ["A@example.org", "b@example.org"]
    store.outbox.enqueue([NotificationDraft("b@example.org", "development", held=True)], NOW)
    # b leaves the file (its held email is cancelled); a changes its mode.
    store.subscribers.sync([RecipientSettings(email="a@example.org", mode="daily")])
    assert [(r.email, r.mode) for r in store.subscribers.active()] == [("a@example.org", "daily")]
    assert statuses(store, "b@example.org") == ["cancelled"]
    with pytest.raises(SubscriberError, match="config file: remove it there"):
        store.subscribers.remove("a@example.org")


def test_leaving_cancels_what_is_queued_and_forgetting_erases_everything(store):
    store.subscribers.add(RecipientSettings(email="forum@example.org", mode="weekly"))
    ids = store.outbox.enqueue([NotificationDraft("forum@example.org", "development"),
                                NotificationDraft("Forum@example.org", "overdue", held=True),
                                NotificationDraft("other@example.org", "development")], NOW)
    store.outbox.mark_sent(ids[0], NOW)
    store.outbox.enqueue([NotificationDraft("forum@example.org", "reminder")], NOW)
    assert store.subscribers.remove("forum@example.org") == 2  # the held one and the pending one
    assert store.subscribers.active() == []
    assert statuses(store, "forum@example.org") == ["cancelled", "cancelled", "sent"]
    assert store.subscribers.remove("forum@example.org", forget=True) == 3
    assert statuses(store, "forum@example.org") == [] and statuses(store, "other@example.org") == ["pending"]
    with pytest.raises(SubscriberError, match="not a subscriber"):
        store.subscribers.remove("forum@example.org")


def test_refusals_in_a_row_suspend_an_address_once_and_a_delivery_resets_the_count(store):
    store.subscribers.add(RecipientSettings(email="x@example.org"))
    assert not store.subscribers.bounced("x@example.org", limit=2)
    store.subscribers.delivered("x@example.org")  # a success in between: the run starts again
    assert not store.subscribers.bounced("x@example.org", limit=2)
    store.outbox.enqueue([NotificationDraft("x@example.org", "development")], NOW)
    assert store.subscribers.bounced("X@example.org", limit=2)
    assert not store.subscribers.bounced("x@example.org", limit=2)  # told once
    assert store.subscribers.active() == [] and store.subscribers.get("x@example.org").status == "suspended"
    assert statuses(store, "x@example.org") == ["cancelled"]
    store.subscribers.resume("x@example.org")
    assert [r.email for r in store.subscribers.active()] == ["x@example.org"]


@pytest.fixture
def setup(tmp_path, site, database_url):
    return Setup(tmp_path, site, database_url)


def test_a_subscriber_added_by_the_operator_gets_developments_until_removed(setup, sendwatch):
    with MailServer() as server:
        setup.write(smtp=smtp_table(server.port), recipients=recipients("stays@example.org"))
        added = sendwatch("subscribers", "add", "Forum@example.org", "--commitment", "code-of-practice")
        assert added.code == 0 and "Forum@example.org subscribed (each) to code-of-practice" in added.out
        development(setup, sendwatch)
        assert sorted(m["To"] for m in server.messages) == ["Forum@example.org", "stays@example.org"]
        listed = json.loads(sendwatch("subscribers", "list", "--json").out)
        assert [(s["email"], s["status"], s["origin"]) for s in listed] == [
            ("stays@example.org", "active", "config"), ("Forum@example.org", "active", "cli")]
        assert sendwatch("subscribers", "remove", "forum@example.org").code == 0
        setup.site.page("/code", AGAIN)
        sendwatch("check")
        # The next development reaches the one who stayed, and nobody else.
        assert [m["To"] for m in server.messages[2:]] == ["stays@example.org"]


def test_an_unknown_commitment_or_bad_address_is_refused(setup, sendwatch):
    setup.write(recipients="")
    unknown = sendwatch("subscribers", "add", "a@example.org", "--commitment", "code-of-practise")
    assert unknown.code == 2 and "unknown commitment 'code-of-practise' (known: code-of-practice)" in unknown.err
    bad = sendwatch("subscribers", "add", "not an address")
    assert bad.code == 2 and "'not an address' is not an email address" in bad.err
    assert json.loads(sendwatch("subscribers", "list", "--json").out) == []


def test_an_address_refused_again_and_again_is_suspended_and_the_operators_told(setup, sendwatch):
    with MailServer() as server:
        server.handler.refuse["gone@example.org"] = "550 5.1.1 No such user"
        setup.write(smtp=smtp_table(server.port), email="suspend_after = 1",
                    recipients=recipients("gone@example.org", "stays@example.org")
                    + '[[operator]]\nemail = "ops@example.org"\n')
        development(setup, sendwatch)
        sendwatch("notify", "send")  # the operators' notices, due from the refusal on
        to_operators = [m for m in server.messages if m["To"] == "ops@example.org"]
        assert sorted(m["Subject"] for m in to_operators) == [
            "sendwatch: an email to gone@example.org could not be delivered",
            "sendwatch: subscriber gone@example.org suspended"]
        assert len(server.messages) == 3  # and the development to stays@
        listed = sendwatch("subscribers", "list").out
        assert "gone@example.org" in listed and "suspended" in listed
        exported = sendwatch("subscribers", "export").out.splitlines()
        assert exported[0] == "email,name,commitments,mode,at,weekday,status,origin,failures,created_at"
        assert exported[1].startswith("gone@example.org,,all,each,08:00,monday,suspended,config,1,")
        # The file still lists it, but a suspended address is sent nothing until resumed.
        server.handler.refuse.clear()
        setup.site.page("/code", AGAIN)
        sendwatch("check")
        assert [m["To"] for m in server.messages[3:]] == ["stays@example.org"]
        assert sendwatch("subscribers", "resume", "gone@example.org").code == 0
        assert "active" in sendwatch("subscribers", "list").out


def test_a_sign_up_never_confirmed_is_forgotten_after_a_week(store):
    from datetime import timedelta


    assert store.subscribers.sign_up(RecipientSettings(email="typo@example.org"), NOW) == (CONFIRM, "typo@example.org")
    store.outbox.enqueue([NotificationDraft("typo@example.org", "confirm")], NOW)
    assert store.subscribers.sign_up(RecipientSettings(email="kept@example.org"), NOW) == (CONFIRM, "kept@example.org")
    store.subscribers.confirm("kept@example.org", NOW)
    assert store.subscribers.forget_unconfirmed(before=NOW - timedelta(days=7)) == 0  # not a week yet
    assert store.subscribers.forget_unconfirmed(before=NOW + timedelta(days=1)) == 1
    assert store.subscribers.get("typo@example.org") is None and statuses(store, "typo@example.org") == []
    assert store.subscribers.get("kept@example.org").status == "active"


def test_a_look_alike_domain_is_another_mailbox_and_never_gets_its_links(store):
    from storage.subscribers import MANAGE_LINK, address_of
    # maß.com is xn--ma-hia.com, a domain of its own: Unicode case folding would make it mass.com.
    assert address_of("user@maß.com") != address_of("user@mass.com")
    assert address_of("User@Example.ORG") == address_of("user@example.org")
    store.subscribers.add(RecipientSettings(email="user@mass.com"))
    assert store.subscribers.sign_up(RecipientSettings(email="user@maß.com"), NOW) == (CONFIRM, "user@maß.com")
    assert store.subscribers.get("user@mass.com").status == "active"
    # Asking again for the subscriber's own address mails the address the row holds.
    assert store.subscribers.sign_up(RecipientSettings(email="USER@mass.com"), NOW) == (MANAGE_LINK, "user@mass.com")


def test_a_pending_sign_up_is_never_rewritten_by_another_request_and_takes_its_links_choices(store):
    store.subscribers.sign_up(RecipientSettings(email="parent@example.org", mode="each"), NOW)
    later = NOW.replace(hour=15)  # hours later: another email may go, but the row stays as it was
    assert store.subscribers.sign_up(RecipientSettings(email="parent@example.org", mode="weekly", at="21:00"),
                                     later) == (CONFIRM, "parent@example.org")
    assert store.subscribers.get("parent@example.org").mode == "each"
    confirmed = store.subscribers.confirm("parent@example.org", later,
                                          RecipientSettings(email="parent@example.org", mode="daily"))
    assert (confirmed.status, confirmed.mode) == ("active", "daily")


def test_one_unasked_email_an_hour_however_many_ask(store):
    from datetime import timedelta
    store.subscribers.add(RecipientSettings(email="x@example.org"))
    asked = [store.subscribers.request_link("x@example.org", NOW + timedelta(minutes=m)) for m in (0, 1, 59, 61)]
    assert asked == [True, False, False, True]


def test_one_who_left_by_link_is_not_subscribed_again_by_the_config(store):
    store.subscribers.sync([RecipientSettings(email="a@example.org")])
    assert store.subscribers.unsubscribe("a@example.org", NOW) == 0
    store.subscribers.sync([])  # the entry commented out for a while, or another config file
    store.subscribers.sync([RecipientSettings(email="a@example.org")])
    assert store.subscribers.get("a@example.org").status == "left" and store.subscribers.active() == []


def test_a_sync_with_nothing_to_change_takes_no_write_lock(tmp_path):
    # Every check and outbox run syncs the config's recipients: when nothing changed it must
    # not wait for (or hold up) another process writing, as a service's checks do all day.
    import sqlite3

    path = tmp_path / "s.db"
    with Store(f"sqlite:///{path}") as store:
        store.subscribers.sync([RecipientSettings(email="a@example.org")])
        writer = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
        try:
            store.database.engine.dispose()
            store.subscribers.sync([RecipientSettings(email="a@example.org")])  # returns at once
            assert [r.email for r in store.subscribers.active()] == ["a@example.org"]
        finally:
            writer.execute("ROLLBACK")
            writer.close()
