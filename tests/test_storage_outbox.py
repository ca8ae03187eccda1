"""The outbox part of the record: queueing, claiming what is due, and digests, with two
senders at once.

Runs on SQLite, and on PostgreSQL when SENDWATCH_TEST_DATABASE_URL is set.
"""

from datetime import timedelta

from monitor.core.diff import diff_documents
from monitor.core.drafts import DevelopmentDraft, NotificationDraft
from storage import Store
from tests.stored import T0, V1, V2, at, open_store


def test_two_senders_never_claim_the_same_notification(database_url):
    from monitor.core.drafts import NotificationDraft

    with open_store(database_url) as store, Store(database_url) as other:
        store.outbox.enqueue([NotificationDraft(recipient=f"r{n}@example.org", kind="test") for n in range(6)], T0)
        later = T0 + timedelta(minutes=1)
        first = store.outbox.claim_due(later, limit=4)
        second = other.outbox.claim_due(later, limit=4)
        assert len(first) == 4 and len(second) == 2
        assert not {n.id for n in first} & {n.id for n in second}
        assert all(n.status == "sending" and n.attempts == 1 for n in first + second)
        assert other.outbox.claim_due(later) == []


def test_two_processes_never_digest_the_same_held_mail(database_url):
    from monitor.core.drafts import NotificationDraft

    with open_store(database_url) as store, Store(database_url) as other:
        held = [NotificationDraft(recipient="d@example.org", kind="test", held=True) for _ in range(3)]
        store.outbox.enqueue(held, T0)
        slot = T0 + timedelta(hours=1)
        first = store.outbox.make_digest("d@example.org", slot, held_before=slot)
        assert first is not None
        # Nothing is left for the second, and no empty digest is made.
        assert other.outbox.make_digest("d@example.org", slot, held_before=slot) is None
        digests = [n for n in store.outbox.notifications(recipient="d@example.org") if n.kind == "digest"]
        assert [d.payload for d in digests] == [{"items": 3}]
        assert len(store.outbox.notifications(digest_id=first)) == 3


def test_a_sender_that_loses_a_claim_to_another_takes_the_next_notification(tmp_path):
    # SQLite only: there the look for due notifications is not yet in the write transaction,
    # so another sender can claim what this one saw (PostgreSQL skips locked rows instead).
    from sqlalchemy import event

    from monitor.core.drafts import NotificationDraft

    url = f"sqlite:///{tmp_path / 'sendwatch.db'}"
    with Store(url) as store, Store(url) as other:
        store.outbox.enqueue([NotificationDraft(recipient=f"r{n}@example.org", kind="test") for n in range(2)], T0)
        later = T0 + timedelta(minutes=1)
        taken = []

        @event.listens_for(store.engine, "after_cursor_execute")
        def another_sender_claims_first(conn, cursor, statement, parameters, context, executemany):
            if statement.startswith("SELECT notifications.id") and not taken:
                taken.extend(other.outbox.claim_due(later))

        claimed = store.outbox.claim_due(later)
        assert [n.recipient for n in taken] == ["r0@example.org"]
        assert [n.recipient for n in claimed] == ["r1@example.org"]  # not nothing: the run goes on


def test_a_claim_put_back_is_due_again_without_counting_the_attempt(database_url):
    with open_store(database_url) as store:
        (queued,) = store.outbox.enqueue([NotificationDraft(recipient="a@example.org", kind="test")], T0)
        later = T0 + timedelta(minutes=1)
        (claimed,) = store.outbox.claim_due(later)
        assert (claimed.id, claimed.status, claimed.attempts) == (queued, "sending", 1)
        store.outbox.unclaim(queued, later + timedelta(minutes=5))
        (back,) = store.outbox.notifications()
        assert (back.status, back.attempts) == ("pending", 0)
        assert store.outbox.claim_due(later) == []  # not due until the time it was put back to
        (again,) = store.outbox.claim_due(later + timedelta(minutes=5))
        assert again.attempts == 1


def test_claims_a_sender_never_finished_are_put_back_but_not_newer_ones(database_url):
    with open_store(database_url) as store:
        store.outbox.enqueue([NotificationDraft(recipient=f"r{n}@example.org", kind="test") for n in range(2)], T0)
        store.outbox.claim_due(T0 + timedelta(minutes=1), limit=1)
        store.outbox.claim_due(T0 + timedelta(minutes=10), limit=1)
        assert store.outbox.recover_interrupted(T0 + timedelta(minutes=5)) == 1
        assert [n.status for n in store.outbox.notifications()] == ["pending", "sending"]


def test_a_notification_is_retried_then_sent_or_given_up_on(database_url):
    with open_store(database_url) as store:
        first, second = store.outbox.enqueue([NotificationDraft(recipient="a@example.org", kind="test"),
                                              NotificationDraft(recipient="b@example.org", kind="test")], T0)
        retry_at = T0 + timedelta(minutes=10)
        store.outbox.mark_retry(first, "421 try again later", retry_at)
        (retried,) = store.outbox.notifications(recipient="a@example.org")
        assert (retried.status, retried.last_error, retried.next_attempt_at) == \
            ("pending", "421 try again later", retry_at)
        store.outbox.mark_sent(first, retry_at)
        store.outbox.mark_failed(second, "550 no such user")
        assert [(n.status, n.last_error) for n in store.outbox.notifications()] == \
            [("sent", None), ("failed", "550 no such user")]
        assert store.outbox.notifications(status="sent")[0].sent_at == retry_at


def test_held_notifications_wait_for_a_digest_or_are_released(database_url):
    with open_store(database_url) as store:
        store.outbox.enqueue([NotificationDraft(recipient="d@example.org", kind="test", held=True),
                              NotificationDraft(recipient="e@example.org", kind="test", held=True),
                              NotificationDraft(recipient="gone@example.org", kind="test", held=True),
                              NotificationDraft(recipient="p@example.org", kind="test")], T0)
        assert store.outbox.held_recipients() == {"d@example.org", "e@example.org", "gone@example.org"}
        slot = T0 + timedelta(days=1)
        assert store.outbox.last_digest_at("d@example.org") is None
        assert store.outbox.make_digest("d@example.org", slot, held_before=T0 - timedelta(hours=1)) is None
        assert store.outbox.make_digest("d@example.org", slot, held_before=slot) is not None
        assert store.outbox.last_digest_at("d@example.org") == slot
        assert store.outbox.release_held("e@example.org") == 1  # no longer takes digests: sent on its own
        assert store.outbox.release_held("gone@example.org", error="not a recipient any more") == 1
        assert store.outbox.held_recipients() == set()
        status = {n.recipient: n.status for n in store.outbox.notifications() if n.kind == "test"}
        assert status == {"d@example.org": "digested", "e@example.org": "pending",
                          "gone@example.org": "failed", "p@example.org": "pending"}


def test_a_notification_comes_with_what_it_tells_of(database_url):
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0))
        draft = DevelopmentDraft(commitment_id="code-of-practice", title="revised code", score=1.0, evidence=[],
                                 notify=(NotificationDraft("a@example.org", "development", "code-of-practice"),))
        recorded = store.history.record_document("code", V2, diff_documents(V1, V2), at(1), developments=[draft])
        (development_email,) = store.outbox.notifications()
        context = store.outbox.context(development_email)
        assert context["development"].id == recorded.development_ids[0]
        assert context["change"].id == recorded.change_id and context["source"].id == "code"
        assert context["event"] is None
        store.outbox.enqueue([NotificationDraft("a@example.org", "source-broken", source_id="code")], T0)
        context = store.outbox.context(store.outbox.notifications()[-1])
        assert (context["development"], context["change"], context["event"]) == (None, None, None)
        assert context["source"].id == "code"
