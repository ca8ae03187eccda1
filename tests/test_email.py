"""Email end to end, against a real SMTP server (aiosmtpd on 127.0.0.1) and a Maildir."""

from __future__ import annotations

import mailbox
import re
import ssl
import time
from datetime import UTC, date, datetime, timedelta
from email.policy import default
from zoneinfo import ZoneInfo

import pytest
import trustme
from sqlalchemy import create_engine, text

from config import load_settings
from monitor.app.outbox import send_due
from monitor.core.drafts import NotificationDraft
from monitor.core.ledger import lateness, london_date
from monitor.sources import KINDS
from storage import Store
from storage.history import compress_json, decompress_json
from tests.conftest import CODE_OF_PRACTICE, UPDATE_LATER
from tests.govuk_site import PageContent, render_govuk_page
from tests.mailserver import MailServer, SilentServer, free_port

COMMITMENT = CODE_OF_PRACTICE

OVERDUE = UPDATE_LATER


def code_page(attachments=(), title="SEND code of practice: 0 to 25 years", lines=("The code explains duties.",)):
    return render_govuk_page(PageContent(title=title, body=list(lines), attachments=list(attachments),
                                         change_history=[("2015-01-01T00:00:00Z", "First published.")]))


REVISION = [("SEND code of practice: 0 to 25 years (2026 revision)", "/media/code-2026.pdf", "PDF, 2 MB")]


class Setup:
    def __init__(self, tmp_path, site, database_url):
        self.tmp_path, self.site, self.database_url = tmp_path, site, database_url
        self.path = tmp_path / "sendwatch.toml"

    def write(self, smtp: str = "", recipients: str = '[[recipient]]\nemail = "parent@example.org"\n',
              email: str = "", commitments: str = COMMITMENT) -> None:
        self.path.write_text(
            f'database_url = "{self.database_url}"\n[fetch]\nper_host_delay = 0\nretries = 0\n'
            f'read_timeout = 1\nconnect_timeout = 1\ntotal_timeout = 2\n'
            f'[email]\nfrom = "sendwatch <alerts@sendwatch.example>"\nbroken_after = 2\n{email}\n{smtp}\n'
            + commitments + recipients
            + f'[[source]]\nid = "code"\nurl = "{self.site.url("/code")}"\ncommitments = ["code-of-practice"]\n')

    def settings(self):
        return load_settings(self.path, env={"XDG_DATA_HOME": str(self.tmp_path / "xdg")}, kinds=KINDS)


@pytest.fixture
def setup(tmp_path, site, database_url):
    return Setup(tmp_path, site, database_url)


def recipients(*addresses: str) -> str:
    return "".join(f'[[recipient]]\nemail = "{a}"\n' for a in addresses)


def smtp_table(port, security="none", extra=""):
    return f'[email.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\ntimeout = 5\n{extra}\n'


def development(setup, sendwatch, page=None):
    """A baseline check, then a check that finds the revised code: one development."""
    setup.site.page("/code", code_page())
    sendwatch("check")
    setup.site.page("/code", page or code_page(attachments=REVISION))
    return sendwatch("check")


def test_a_development_is_emailed_with_both_parts_threading_and_list_headers(setup, sendwatch):
    with MailServer() as server:
        setup.write(smtp=smtp_table(server.port))
        result = development(setup, sendwatch)
        assert "email via SMTP 127.0.0.1" in result.out and "1 sent" in result.out
        (message,) = server.messages
        assert message["Subject"] == ("A revised SEND Code of Practice: 1 document added: 'SEND code of practice: "
                                      "0 to 25 years (2026 revision)'; 1 line added on 127.0.0.1")
        assert message["To"] == "parent@example.org"
        assert message["From"] == "sendwatch <alerts@sendwatch.example>"
        assert message["Message-ID"].endswith("@sendwatch.example>")
        assert message["In-Reply-To"] == message["References"] == "<commitment-code-of-practice@sendwatch.example>"
        assert message["List-Id"] == "SEND commitments from sendwatch <commitments.sendwatch.sendwatch.example>"
        # Without SENDWATCH_SECRET_KEY there is no unsubscribe link to offer: no header
        # pointing at a mailbox nobody reads, and a footer that says whom to ask.
        assert message["List-Unsubscribe"] is None
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",)).get_content()
        assert ("You get this because parent@example.org is subscribed to all the SEND commitments it follows "
                "(one email per development). To change or stop it, write to whoever runs this sendwatch.") in plain
        html = message.get_body(("html",)).get_content()
        assert "What changed:" in plain
        assert f"+ SEND code of practice: 0 to 25 years (2026 revision) <{setup.site.url('/media/code-2026.pdf')}>" \
            in plain
        assert "Promised 23 July 2020" in plain and "years ago" in plain
        assert "http://127.0.0.1:8080/changes/1" in plain
        assert "<ins style=" in html and setup.site.url("/media/code-2026.pdf") in html

        # A second development about the same commitment joins the same thread.
        setup.site.page("/code", code_page(attachments=REVISION + [
            ("SEND code of practice: easy read", "/media/easy-read.pdf", "PDF")]))
        sendwatch("check")
        first, second = server.messages
        assert second["In-Reply-To"] == first["In-Reply-To"]
        assert second["Message-ID"] != first["Message-ID"]


def test_hostile_page_text_cannot_inject_markup_or_headers(setup, sendwatch):
    hostile = '<img src=x onerror=alert(1)> SEND code of practice: 0 to 25 years <b>Bcc: evil@example.org</b>'
    with MailServer() as server:
        setup.write(smtp=smtp_table(server.port))
        development(setup, sendwatch, code_page(attachments=[(hostile, "javascript:alert(1)", "")],
                                                lines=("<script>alert('x')</script>", "The code explains duties.")))
        (message,) = server.messages
        assert message["Bcc"] is None
        assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
        html = message.get_body(("html",)).get_content()
        assert "<img" not in html and "<script" not in html and "<b>" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "&lt;script&gt;" in html
        assert 'href="javascript:' not in html


CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_control_characters_of_an_earlier_record_are_never_mailed(setup, sendwatch):
    # Page text is cleaned when it is read; a development recorded before that was not,
    # and its email may still be waiting in the outbox.
    with MailServer() as server:
        server.handler.temporary = "451 4.3.0 Try again later"
        setup.write(smtp=smtp_table(server.port))
        development(setup, sendwatch)
        settings = setup.settings()
        engine = create_engine(settings.database_url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE developments SET title = :t"),
                         {"t": "1 document added: 'Code\x1b]0;owned\x07 of\x08 practice'"})
            detail = conn.execute(text("SELECT detail FROM changes")).scalar_one()
            change = decompress_json(detail)
            change["added_lines"] = ["Duties \x1b[2Jof local\x9b authorities."]
            conn.execute(text("UPDATE changes SET detail = :d"), {"d": compress_json(change)})
        engine.dispose()
        server.handler.temporary = None
        with Store(settings.database_url) as store:
            assert len(send_due(settings, store, now=datetime.now(UTC) + timedelta(minutes=5)).sent) == 1
        (message,) = server.messages
        plain = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "1 document added: 'Code]0;owned of practice'" in message["Subject"]
        assert "  + Duties [2Jof local authorities." in plain
        assert "Duties [2Jof local authorities." in html
        for part in (plain, html, message["Subject"]):
            assert not CONTROLS.search(part.replace("\r\n", "\n")), repr(part)  # CRLF: SMTP's line ends


def test_without_smtp_mail_goes_to_the_maildir(setup, sendwatch):
    setup.write(email='maildir = "mail"')
    result = development(setup, sendwatch)
    maildir = setup.tmp_path / "xdg" / "sendwatch" / "mail"
    assert f"email via Maildir {maildir}: 1 sent" in result.out
    (message,) = list(mailbox.Maildir(maildir, factory=None, create=False))
    assert message["To"] == "parent@example.org"
    assert "SEND code of practice" in message["Subject"]


def test_notify_test_reports_each_recipient(setup, sendwatch):
    with MailServer() as server:
        server.handler.refuse["gone@example.org"] = "550 5.1.1 No such user"
        setup.write(smtp=smtp_table(server.port),
                    recipients=recipients("parent@example.org", "gone@example.org"))
        result = sendwatch("notify", "test")
        assert result.code == 1
        assert "parent@example.org: sent" in result.out
        assert "gone@example.org: failed: gone@example.org refused: 550 5.1.1 No such user" in result.out
        assert [m["To"] for m in server.messages] == ["parent@example.org"]
        assert server.messages[0]["Subject"] == "sendwatch test email"


def test_a_permanent_refusal_for_one_of_two_recipients_is_recorded_and_shown(setup, sendwatch):
    with MailServer() as server:
        server.handler.refuse["gone@example.org"] = "550 5.1.1 No such user"
        setup.write(smtp=smtp_table(server.port),
                    recipients=recipients("parent@example.org", "gone@example.org"))
        result = development(setup, sendwatch)
        assert "1 sent, 0 to retry, 1 failed" in result.out
        assert [m["To"] for m in server.messages] == ["parent@example.org"]
        shown = sendwatch("sources").out
        assert "email that could not be delivered (1):" in shown and "gone@example.org  development" in shown
        assert "550 5.1.1 No such user" in shown
        # Nothing more goes out on the next run: the failure is final, the success recorded.
        sendwatch("notify", "send")
        assert len(server.messages) == 1


def test_an_email_given_up_is_told_to_the_operators_once(setup, sendwatch):
    with MailServer() as server:
        server.handler.refuse["gone@example.org"] = "550 5.1.1 No such user"
        server.handler.refuse["ops-gone@example.org"] = "550 5.1.1 No such user"
        setup.write(smtp=smtp_table(server.port),
                    recipients=recipients("gone@example.org")
                    + '[[operator]]\nemail = "ops@example.org"\n[[operator]]\nemail = "ops-gone@example.org"\n')
        development(setup, sendwatch)
        sendwatch("notify", "send")  # the operators' notices are due from the failure on
        (notice,) = server.messages
        assert notice["To"] == "ops@example.org"
        assert notice["Subject"] == "sendwatch: an email to gone@example.org could not be delivered"
        assert "550 5.1.1 No such user" in notice.get_body(("plain",)).get_content()
        # The notice to the operator whose address fails is given up too, and makes no notice of its own.
        sendwatch("notify", "send")
        assert len(server.messages) == 1
        assert "ops-gone@example.org  delivery-failed" in sendwatch("sources").out


def test_server_down_then_up_delivers_once(setup, sendwatch):
    port = free_port()
    setup.write(smtp=smtp_table(port))
    result = development(setup, sendwatch)
    assert "0 sent, 1 to retry" in result.out and "cannot connect" in result.out
    settings = setup.settings()
    with MailServer(port=port) as server, Store(settings.database_url) as store:
        early = send_due(settings, store, now=datetime.now(UTC) + timedelta(seconds=10))
        assert early.sent == [] and server.messages == []  # backoff: not yet
        later = send_due(settings, store, now=datetime.now(UTC) + timedelta(minutes=5))
        assert len(later.sent) == 1 and len(server.messages) == 1
        assert send_due(settings, store, now=datetime.now(UTC) + timedelta(hours=1)).sent == []
        assert len(server.messages) == 1


def test_a_temporary_451_is_retried(setup, sendwatch):
    with MailServer() as server:
        server.handler.temporary = "451 4.3.0 Try again later"
        setup.write(smtp=smtp_table(server.port))
        result = development(setup, sendwatch)
        assert "will retry: parent@example.org: parent@example.org refused: 451 4.3.0 Try again later" in result.out
        server.handler.temporary = None
        settings = setup.settings()
        with Store(settings.database_url) as store:
            assert len(send_due(settings, store, now=datetime.now(UTC) + timedelta(minutes=5)).sent) == 1
        assert len(server.messages) == 1


def smtp_at(port: int, timeout: float) -> str:
    return f'[email.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = {timeout}\n'


def queue(settings, store: Store, count: int, at: datetime) -> list[int]:
    return store.outbox.enqueue([NotificationDraft(recipient="parent@example.org", kind="test")] * count, at)


def timed_run(settings, store: Store, now: datetime):
    """``send_due`` at ``now``; (its report, the latest moment it could have stamped)."""
    started = time.monotonic()
    report = send_due(settings, store, now=now)
    return report, now + timedelta(seconds=time.monotonic() - started)


def test_a_silent_server_holds_a_run_no_longer_than_its_budget_and_the_rest_waits_untried(setup):
    with SilentServer() as server:
        # Each try waits 0.5 s for a greeting that never comes: 1.2 s has room for three at most.
        setup.write(smtp=smtp_at(server.port, timeout=0.5), email='send_budget = 1.2\nretry_backoff = "60s"')
        settings = setup.settings()
        with Store(settings.database_url) as store:
            queued_at = datetime.now(UTC)
            ids = queue(settings, store, 10, queued_at)
            now = queued_at + timedelta(seconds=1)
            report, latest = timed_run(settings, store, now)
            rows = {n.id: n for n in store.outbox.notifications()}
            tried = [i for i in ids if rows[i].attempts]
            assert 1 <= len(tried) <= 3
            assert report.sent == [] and report.failed == []
            assert sorted(i for i, _r, _e in report.retrying) == tried
            assert report.left == 10 - len(tried)
            for i in tried:  # one attempt each, due again after the first backoff (60 s, +-10%)
                assert rows[i].attempts == 1 and rows[i].status == "pending"
                assert "cannot connect to 127.0.0.1" in rows[i].last_error
                assert now + timedelta(seconds=54) <= rows[i].next_attempt_at <= latest + timedelta(seconds=66)
            for i in set(ids) - set(tried):  # not tried: as they were, no attempt counted
                assert (rows[i].attempts, rows[i].status, rows[i].next_attempt_at) == (0, "pending", queued_at)

            # The next run, before those tried are due again, takes the ones still waiting.
            report, _latest = timed_run(settings, store, now + timedelta(seconds=30))
            again = {n.id: n for n in store.outbox.notifications()}
            assert all(again[i].attempts == 1 for i in tried)
            newly = [i for i in ids if i not in tried and again[i].attempts]
            assert 1 <= len(newly) <= 3 and all(again[i].attempts == 1 for i in newly)
            assert report.left == 10 - len(tried) - len(newly)


def test_notify_send_says_what_the_budget_left_for_the_next_run(setup, sendwatch):
    with SilentServer() as server:
        setup.write(smtp=smtp_at(server.port, timeout=0.5), email="send_budget = 1.2")
        settings = setup.settings()
        with Store(settings.database_url) as store:
            queue(settings, store, 4, datetime.now(UTC))
        result = sendwatch("--config", str(setup.path), "notify", "send")
        assert result.code == 0
        # 1.2 s has room for two whole tries of 0.5 s at most, and for one even when the run
        # starts 0.7 s late on a loaded machine; a try the budget cuts short is not counted.
        assert ("0 sent, 1 to retry, 0 failed, 3 left for the next run (send_budget ran out)" in result.out
                or "0 sent, 2 to retry, 0 failed, 2 left for the next run (send_budget ran out)" in result.out), \
            result.out


def test_each_email_is_tried_once_a_run_and_again_when_its_backoff_has_passed(setup):
    with SilentServer() as server:
        # A backoff far shorter than a run: a run that retried within itself would spend
        # all three attempts of each email at once.
        setup.write(smtp=smtp_at(server.port, timeout=0.3),
                    email='send_budget = "1m"\nretry_backoff = 0.1\nmax_attempts = 3')
        settings = setup.settings()
        with Store(settings.database_url) as store:
            queued_at = datetime.now(UTC)
            ids = queue(settings, store, 3, queued_at)
            for attempt, backoff, now in ((1, 0.1, queued_at), (2, 0.2, queued_at + timedelta(seconds=10))):
                report, latest = timed_run(settings, store, now)
                assert len(report.retrying) == 3 and report.left == 0
                for row in store.outbox.notifications():
                    assert (row.attempts, row.status) == (attempt, "pending")
                    assert now + timedelta(seconds=0.9 * backoff) <= row.next_attempt_at \
                        <= latest + timedelta(seconds=1.1 * backoff)
            # Before their backoff has passed, a run leaves them alone.
            assert timed_run(settings, store, now)[0].retrying == []
            assert {n.attempts for n in store.outbox.notifications()} == {2}
            report, _latest = timed_run(settings, store, queued_at + timedelta(seconds=20))
            assert sorted(i for i, _r, _e in report.failed) == ids
            assert {(n.attempts, n.status) for n in store.outbox.notifications()} == {(3, "failed")}
            assert all(n.last_error.startswith("gave up after 3 attempts") for n in store.outbox.notifications())


def test_a_healthy_server_takes_a_whole_queue_in_one_run(setup):
    with MailServer() as server:
        setup.write(smtp=smtp_at(server.port, timeout=5), email="send_budget = 30")
        settings = setup.settings()
        with Store(settings.database_url) as store:
            queue(settings, store, 10, datetime.now(UTC))
            report = send_due(settings, store)
            assert len(report.sent) == 10 and report.retrying == [] and report.left == 0
        assert len(server.messages) == 10


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, nothing is cleaned up."""


def test_a_crash_between_send_and_record_loses_nothing_and_duplicates_only_in_that_window(setup, sendwatch):
    with MailServer() as server:
        setup.write(smtp=smtp_table(server.port),
                    recipients=recipients("parent@example.org", "sendco@example.org"))
        setup.site.page("/code", code_page())
        sendwatch("check")
        # The development is recorded by a check that sends nothing (server unreachable).
        setup.write(smtp=smtp_table(free_port()),
                    recipients=recipients("parent@example.org", "sendco@example.org"))
        setup.site.page("/code", code_page(attachments=REVISION))
        sendwatch("check")
        setup.write(smtp=smtp_table(server.port),
                    recipients=recipients("parent@example.org", "sendco@example.org"))
        settings = setup.settings()
        now = datetime.now(UTC) + timedelta(minutes=5)

        def crash(_notification_id):
            raise Crash

        with Store(settings.database_url) as store, pytest.raises(Crash):
            send_due(settings, store, now=now, after_accept=crash)
        assert len(server.messages) == 1  # the server took one; the record says "sending"
        in_window = server.messages[0]["To"]

        with Store(settings.database_url) as store:  # restart, still within that claim's lease
            report = send_due(settings, store, now=now + timedelta(minutes=1))
            # The notification never claimed goes out; the claimed one waits for its lease.
            assert [recipient for _id, recipient in report.sent] != [in_window]
            assert len(report.sent) == 1 and len(server.messages) == 2
        with Store(settings.database_url) as store:  # restart after the lease
            send_due(settings, store, now=now + timedelta(minutes=10))
            send_due(settings, store, now=now + timedelta(minutes=20))
            assert {n.status for n in store.outbox.notifications()} == {"sent"}
        received = [m["To"] for m in server.messages]
        assert sorted(set(received)) == ["parent@example.org", "sendco@example.org"]  # nothing lost
        # The one in the window went twice, with the same Message-ID; the other once.
        assert len(server.messages) == 3 and received.count(in_window) == 2
        duplicated = [m for m in server.messages if m["To"] == in_window]
        assert len({m["Message-ID"] for m in duplicated}) == 1


def test_starttls_with_authentication(setup, sendwatch, tmp_path, monkeypatch):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    with MailServer(tls_context=context, require_starttls=True, credentials=("alerts", "s3cret")) as server:
        extra = f'username = "alerts"\npassword_env = "TEST_SMTP_PASSWORD"\nca_file = "{ca_file}"\n'
        setup.write(smtp=smtp_table(server.port, "starttls", extra))
        result = sendwatch("notify", "test")
        assert result.code == 0 and "parent@example.org: sent" in result.out
        assert len(server.messages) == 1

        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
        refused = sendwatch("notify", "test")
        assert "failed: SMTP login refused: 535" in refused.out
        assert len(server.messages) == 1


def test_an_untrusted_certificate_is_not_accepted(setup, sendwatch):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with MailServer(tls_context=context, require_starttls=True) as server:
        setup.write(smtp=smtp_table(server.port, "starttls"))  # no ca_file: the test CA is unknown
        result = sendwatch("notify", "test")
        assert "will retry" in result.out and "CERTIFICATE_VERIFY_FAILED" in result.out
        assert server.messages == []


def test_a_daily_digest_waits_for_its_time_and_gathers_developments(setup, sendwatch):
    zone = ZoneInfo("Europe/London")
    send_at = (datetime.now(zone) + timedelta(minutes=2)).strftime("%H:%M")
    with MailServer() as server:
        setup.write(smtp=smtp_table(server.port), recipients=(
            '[[recipient]]\nemail = "digest@example.org"\nmode = "daily"\n'
            f'at = "{send_at}"\n[[recipient]]\nemail = "each@example.org"\n'))
        development(setup, sendwatch)
        assert [m["To"] for m in server.messages] == ["each@example.org"]  # the digest reader waits
        settings = setup.settings()
        with Store(settings.database_url) as store:
            before = send_due(settings, store, now=datetime.now(UTC) + timedelta(seconds=30))
            assert before.digests == 0 and before.sent == []
            after = send_due(settings, store, now=datetime.now(UTC) + timedelta(minutes=4))
            assert after.digests == 1
            assert send_due(settings, store, now=datetime.now(UTC) + timedelta(minutes=5)).digests == 0
        digest = server.messages[-1]
        assert digest["To"] == "digest@example.org"
        assert digest["Subject"].startswith("sendwatch digest: 1 update (")
        assert "A revised SEND Code of Practice: 1 document added" in digest.get_body(("plain",)).get_content()


def test_a_failing_source_sends_one_broken_and_one_recovered_email_to_the_operators_only(setup, sendwatch):
    with MailServer() as server:
        setup.write(smtp=smtp_table(server.port),
                    recipients=recipients("parent@example.org") + '[[operator]]\nemail = "ops@example.org"\n')
        setup.site.page("/code", code_page())
        sendwatch("check")
        setup.site.page("/code", "oops", status=500)
        for _ in range(4):  # broken_after = 2: the second failure tells, the others do not
            sendwatch("check")
        subjects = [m["Subject"] for m in server.messages]
        assert subjects == ["sendwatch: source code has failed 2 checks in a row"]
        assert "HTTP 500" in server.messages[0].get_body(("plain",)).get_content()
        setup.site.page("/code", code_page())
        sendwatch("check")
        sendwatch("check")
        subjects = [m["Subject"] for m in server.messages]
        assert subjects[1:] == ["sendwatch: source code is working again"]
        assert server.messages[1]["In-Reply-To"] == server.messages[0]["In-Reply-To"]
        # The subscriber of the source's commitment hears nothing of HTTP errors.
        assert {m["To"] for m in server.messages} == {"ops@example.org"}


def test_an_overdue_commitment_is_emailed_once(setup, sendwatch):
    with MailServer() as server:
        setup.write(smtp=smtp_table(server.port), commitments=COMMITMENT + OVERDUE)
        setup.site.page("/code", code_page())
        sendwatch("check")
        sendwatch("check")
        overdue = [m for m in server.messages if "overdue" in m["Subject"]]
        assert [m["Subject"] for m in overdue] == [
            "An update later in the year: is overdue (expected by 31 December 2020)"]
        assert overdue[0]["In-Reply-To"] == "<commitment-update-later-in-the-year@sendwatch.example>"


def test_maildir_message_parses_with_the_default_policy(setup, sendwatch):
    setup.write()
    development(setup, sendwatch)
    maildir = mailbox.Maildir(setup.tmp_path / "xdg" / "sendwatch" / "mail", factory=None, create=False)
    (key,) = list(maildir.keys())
    import email

    parsed = email.message_from_bytes(maildir.get_bytes(key), policy=default)
    assert parsed.get_body(("html",)) is not None and parsed.get_body(("plain",)) is not None


def test_held_mail_is_released_when_a_recipient_stops_taking_digests(setup, sendwatch):
    with MailServer() as server:
        setup.write(smtp=smtp_table(server.port),
                    recipients='[[recipient]]\nemail = "parent@example.org"\nmode = "weekly"\n'
                               '[[recipient]]\nemail = "gone@example.org"\nmode = "weekly"\n')
        development(setup, sendwatch)
        assert server.messages == []  # both wait for their weekly digest
        setup.write(smtp=smtp_table(server.port), recipients=recipients("parent@example.org"))
        result = sendwatch("notify", "send")
        assert "1 sent" in result.out
        assert [m["To"] for m in server.messages] == ["parent@example.org"]
        # Taken out of the file, gone@ left: its held email was cancelled, not failed.
        shown = sendwatch("sources").out
        assert "could not be delivered" not in shown
        settings = setup.settings()
        with Store(settings.database_url) as store:
            assert [n.status for n in store.outbox.notifications(recipient="gone@example.org")] == ["cancelled"]


def test_a_development_email_says_how_late_the_commitment_is_until_it_is_delivered(setup, sendwatch):
    due = COMMITMENT.replace("made_on = 2020-07-23\n", "made_on = 2020-07-23\nexpected_by = 2021-12-31\n")
    late = lateness(date(2021, 12, 31), london_date(datetime.now(UTC)))
    with MailServer() as server:
        setup.write(smtp=smtp_table(server.port), commitments=due)
        development(setup, sendwatch)
        (message,) = [m for m in server.messages if "overdue" not in m["Subject"]]
        plain = message.get_body(("plain",)).get_content()
        assert f"Expected by 31 December 2021 (in progress; {late})." in " ".join(plain.split())

        sendwatch("commitments", "mark", "code-of-practice", "delivered", "--note", "Revised code laid")
        setup.site.page("/code", code_page(attachments=REVISION + [
            ("SEND code of practice: easy read", "/media/easy-read.pdf", "PDF")]))
        sendwatch("check")
        later = [m for m in server.messages if "overdue" not in m["Subject"]][-1]
        plain = " ".join(later.get_body(("plain",)).get_content().split())
        assert "easy read" in plain and "Expected by 31 December 2021." in plain and "past the date" not in plain


def test_emails_link_to_the_public_address_of_the_dashboard_set_once_for_feeds_and_emails(setup, sendwatch):
    # One address for readers: [web] public_url serves the emails' links too, unless
    # [email] dashboard_url says otherwise.
    setup.write(smtp="\n[web]\npublic_url = \"https://send.example.org/watch/\"\n")
    development(setup, sendwatch)
    maildir = mailbox.Maildir(setup.tmp_path / "xdg" / "sendwatch" / "mail", create=False)
    (message,) = [email_message for email_message in maildir]
    plain = message.get_payload(0).get_payload(decode=True).decode()
    assert "https://send.example.org/watch/changes/1" in plain and "127.0.0.1:8080" not in plain


def test_an_email_that_cannot_be_written_fails_on_its_own_and_the_rest_go(setup):
    from monitor.core.drafts import NotificationDraft

    with MailServer() as server:
        setup.write(smtp=smtp_at(server.port, timeout=5))
        settings = setup.settings()
        with Store(settings.database_url) as store:
            # A kind this version cannot write (a row left by a newer one, say).
            store.outbox.enqueue([NotificationDraft(recipient="parent@example.org", kind="from-the-future")],
                                 datetime.now(UTC))
            queue(settings, store, 2, datetime.now(UTC))
            report = send_due(settings, store)
            assert len(report.sent) == 2
            (failed,) = store.outbox.notifications(status="failed")
            assert failed.kind == "from-the-future" and "unknown notification kind" in failed.last_error
            assert store.outbox.notifications(status="sending") == []  # never claimed for ever
        assert len(server.messages) == 2


def test_an_email_cut_off_by_the_run_s_budget_is_not_an_attempt(setup):
    # The run's time ran out while the server was still silent: not the server refusing,
    # so no attempt is spent (with max_attempts = 1 it would have failed for good).
    with SilentServer() as server:
        setup.write(smtp=smtp_at(server.port, timeout=5), email="send_budget = 0.3\nmax_attempts = 1")
        settings = setup.settings()
        with Store(settings.database_url) as store:
            queued_at = datetime.now(UTC)
            (only,) = queue(settings, store, 1, queued_at)
            report = send_due(settings, store, now=queued_at)
            (row,) = store.outbox.notifications()
            assert (row.status, row.attempts) == ("pending", 0) and row.next_attempt_at <= queued_at
            assert report.failed == [] and report.retrying == [] and report.left == 1


def test_a_maildir_another_process_has_only_just_made_still_takes_the_email(tmp_path):
    # Two processes delivering first at once: one finds the folder the other has made, and
    # none of tmp/, new/ and cur/ in it yet.
    from email.message import EmailMessage

    from monitor.app.mail import MaildirDelivery

    (tmp_path / "mail").mkdir()  # as the other process left it, a moment before its subfolders
    message = EmailMessage()
    message["Subject"] = "A development"
    message.set_content("text")
    MaildirDelivery(tmp_path / "mail").deliver(message, "parent@example.org")
    assert [m["Subject"] for m in mailbox.Maildir(tmp_path / "mail", create=False)] == ["A development"]
