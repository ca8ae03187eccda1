"""The record: snapshots stored once per content, changes, failures, retention.

Runs on SQLite, and on PostgreSQL when SENDWATCH_TEST_DATABASE_URL is set.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, func, inspect, select

from config import SourceSettings
from monitor.core.diff import diff_documents
from monitor.core.document import ATTACHMENT, RESULT, Document, Item
from storage import CheckMeta, Store, Unchanged
from storage.migrate import current_revision
from storage.models import Base, SnapshotRecord

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SOURCE = SourceSettings(id="code", url="https://www.gov.uk/code")
V1 = Document("Code", ("Chapter 1.",))
V2 = Document("Code", ("Chapter 1.", "Chapter 2."),
              (Item(ATTACHMENT, "https://www.gov.uk/c.pdf", "Code (PDF)"),))


def at(hours: float) -> CheckMeta:
    return CheckMeta(T0 + timedelta(hours=hours), 120, 200, 50_000)


def open_store(url) -> Store:
    store = Store(url)
    store.sync_sources([SOURCE])
    return store


def test_migrations_create_the_tables_the_models_describe(database_url):
    with Store(database_url) as store:
        assert current_revision(store.engine) is not None
        tables = set(inspect(store.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        for name, table in Base.metadata.tables.items():
            columns = {c["name"] for c in inspect(store.engine).get_columns(name)}
            assert columns == {c.name for c in table.columns}, name
    # Opening again is a no-op, not an error.
    Store(database_url).close()


def test_unchanged_checks_add_no_snapshot(database_url):
    with open_store(database_url) as store:
        first = store.record_document("code", V1, None, at(0))
        assert first.outcome == "first" and first.change_id is None
        for hour in (1, 2, 3):
            assert store.record_unchanged("code", at(hour)).outcome == "unchanged"
        snapshots = store.snapshots("code")
        assert len(snapshots) == 1
        assert snapshots[0].last_seen_at == T0 + timedelta(hours=3)
        assert len(store.checks("code")) == 4
        assert store.document(snapshots[0].id) == V1


def test_a_batch_of_unchanged_checks_is_recorded_as_each_would_be(database_url):
    other = SourceSettings(id="other", url="https://www.gov.uk/other")
    with Store(database_url) as store:
        store.sync_sources([SOURCE, other])
        code_v1 = store.record_document("code", V1, None, at(0)).snapshot_id
        other_v2 = store.record_document("other", V2, None, at(0)).snapshot_id
        store.record_failure("other", "HTTP 503 from https://www.gov.uk/other", at(1))
        store.record_unchanged_many([
            Unchanged("code", at(2), code_v1, etag='"v1"'),
            Unchanged("other", at(2.5), other_v2, not_modified=True, last_modified="Mon, 05 Jan 2026 09:00:00 GMT"),
        ])
        code, other_record = store.source("code"), store.source("other")
        assert code.last_checked_at == code.last_success_at == T0 + timedelta(hours=2)
        assert code.etag == '"v1"'
        # A success ends the run of failures, as a single unchanged check does.
        assert other_record.consecutive_failures == 0 and other_record.last_error is None
        assert other_record.last_modified == "Mon, 05 Jan 2026 09:00:00 GMT"
        latest = {s: store.checks(s)[0] for s in ("code", "other")}
        assert [latest["code"].outcome, latest["other"].outcome] == ["unchanged", "not-modified"]
        assert latest["code"].snapshot_id == code.current_snapshot_id
        assert latest["other"].snapshot_id == other_record.current_snapshot_id
        assert latest["code"].duration_ms == 120 and latest["code"].http_status == 200
        assert store.snapshots("code")[0].last_seen_at == T0 + timedelta(hours=2)
        assert store.snapshots("other")[0].last_seen_at == T0 + timedelta(hours=2.5)
        assert len(store.snapshots("code")) == 1 and len(store.checks("code")) == 2
        store.record_unchanged_many([])  # nothing to write is not an error


def test_a_refused_batch_is_written_row_by_row_and_only_the_bad_row_is_reported():
    from monitor.app.check import UnchangedBatch

    class RefusingStore:  # a database that refuses some rows (their snapshot pruned, say)
        def __init__(self):
            self.refuse, self.written, self.calls = {"b"}, [], 0

        def record_unchanged_many(self, checks):
            self.calls += 1
            if any(c.source_id in self.refuse for c in checks):
                raise RuntimeError("FOREIGN KEY constraint failed")
            self.written.extend(c.source_id for c in checks)

    store = RefusingStore()
    batch = UnchangedBatch(store)
    batch.SIZE = 2
    batch.add(Unchanged("a", at(1), 1))
    batch.add(Unchanged("b", at(1), 2))  # full: the batch fails, then a and b one by one; nothing raises
    assert store.written == ["a"] and batch.pending == []
    batch.add(Unchanged("c", at(2), 3))
    assert batch.close() == {"b": "RuntimeError: FOREIGN KEY constraint failed"}
    assert store.written == ["a", "c"]
    assert store.calls == 4  # the failed batch, a, b, then c's batch: no retrying the same rows


def test_a_late_batch_does_not_overwrite_what_another_process_recorded_since(database_url):
    # `sendwatch check` compared the page with V1 at hour 1 and holds the result in its
    # batch; meanwhile serve recorded V2 at hour 2 and a failure at hour 3.
    with open_store(database_url) as store:
        v1 = store.record_document("code", V1, None, at(0)).snapshot_id
        v2 = store.record_document("code", V2, diff_documents(V1, V2), at(2)).snapshot_id
        store.record_failure("code", "HTTP 503 from https://www.gov.uk/code", at(3))
        store.record_unchanged_many([Unchanged("code", at(1), v1, etag='"v1"')])
        source = store.source("code")
        assert source.current_snapshot_id == v2
        assert source.last_checked_at == T0 + timedelta(hours=3)  # not back to hour 1
        assert source.consecutive_failures == 1 and source.last_error.startswith("HTTP 503")
        assert source.etag is None  # V1's validator is not paired with V2
        # The check happened and is in the history, against the version it saw.
        (late,) = [c for c in store.checks("code") if c.started_at == T0 + timedelta(hours=1)]
        assert late.outcome == "unchanged" and late.snapshot_id == v1
        seen = {s.id: s.last_seen_at for s in store.snapshots("code")}
        assert seen[v1] == T0 + timedelta(hours=1) and seen[v2] == T0 + timedelta(hours=2)


def test_a_late_batch_leaves_a_later_failure_on_the_same_version(database_url):
    with open_store(database_url) as store:
        v1 = store.record_document("code", V1, None, at(0)).snapshot_id
        store.record_failure("code", "HTTP 503 from https://www.gov.uk/code", at(3))
        store.record_unchanged_many([Unchanged("code", at(1), v1)])
        source = store.source("code")
        assert source.consecutive_failures == 1 and source.last_checked_at == T0 + timedelta(hours=3)


def test_a_late_batch_does_not_restore_a_version_the_config_has_set_aside(database_url):
    # A config edit (a new URL) makes the next check a new baseline: an older check of
    # the old URL must not put its snapshot's validators back.
    with open_store(database_url) as store:
        v1 = store.record_document("code", V1, None, at(0), etag='"v1"').snapshot_id
        store.sync_sources([SOURCE.model_copy(update={"url": "https://www.gov.uk/code-2026"})])
        store.record_unchanged_many([Unchanged("code", at(1), v1, etag='"v1"')])
        source = store.source("code")
        assert source.current_snapshot_id is None and source.etag is None


def test_a_snapshot_is_never_seen_earlier_than_it_was(database_url):
    with open_store(database_url) as store:
        v1 = store.record_document("code", V1, None, at(0)).snapshot_id
        store.record_unchanged("code", at(5))
        store.record_unchanged_many([Unchanged("code", at(1), v1)])
        assert store.snapshots("code")[0].last_seen_at == T0 + timedelta(hours=5)


def test_a_new_version_is_a_change_with_its_diff(database_url):
    with open_store(database_url) as store:
        store.record_document("code", V1, None, at(0))
        change = diff_documents(V1, V2)
        recorded = store.record_document("code", V2, change, at(1))
        assert recorded.outcome == "changed"
        (record,) = store.changes()
        assert record.id == recorded.change_id
        assert record.summary == "1 document added: 'Code (PDF)'; 1 line added"
        assert store.change_detail(record) == change
        assert store.document(record.to_snapshot_id) == V2
        assert store.source("code").last_changed_at == T0 + timedelta(hours=1)


def test_going_back_to_an_earlier_version_reuses_its_snapshot(database_url):
    with open_store(database_url) as store:
        store.record_document("code", V1, None, at(0))
        store.record_document("code", V2, diff_documents(V1, V2), at(1))
        back = store.record_document("code", V1, diff_documents(V2, V1), at(2))
        assert len(store.snapshots("code")) == 2
        assert back.snapshot_id == store.snapshots("code")[0].id
        assert [c.summary for c in store.changes()] == ["1 document removed: 'Code (PDF)'; 1 line removed",
                                                        "1 document added: 'Code (PDF)'; 1 line added"]


def test_snapshots_are_stored_compressed(database_url):
    big = Document("Big", tuple(f"Paragraph {n} of the SEND code of practice." for n in range(2000)))
    with open_store(database_url) as store:
        store.record_document("code", big, None, at(0))
        engine = create_engine(database_url)
        with engine.connect() as conn:
            stored = conn.scalar(select(func.length(SnapshotRecord.content)))
        engine.dispose()
        assert stored < len(big.to_json()) / 4


def test_a_failure_keeps_the_last_good_snapshot_and_counts(database_url):
    with open_store(database_url) as store:
        store.record_document("code", V1, None, at(0))
        store.record_failure("code", "HTTP 500 Internal Server Error", at(1))
        store.record_failure("code", "timed out (read)", at(2))
        source = store.source("code")
        assert source.consecutive_failures == 2
        assert source.last_error == "timed out (read)"
        assert store.document(source.current_snapshot_id) == V1
        store.record_unchanged("code", at(3))
        source = store.source("code")
        assert source.consecutive_failures == 0 and source.last_error is None


def test_changes_since_and_per_source(database_url):
    with open_store(database_url) as store:
        store.sync_sources([SOURCE, SourceSettings(id="other", url="https://www.gov.uk/other")])
        store.record_document("code", V1, None, at(0))
        store.record_document("code", V2, diff_documents(V1, V2), at(24))
        store.record_document("other", V1, None, at(0))
        store.record_document("other", V2, diff_documents(V1, V2), at(48))
        assert [c.source_id for c in store.changes()] == ["other", "code"]
        assert [c.source_id for c in store.changes(since=T0 + timedelta(hours=30))] == ["other"]
        assert [c.source_id for c in store.changes(source_id="code")] == ["code"]


def test_sources_no_longer_configured_become_inactive_but_keep_history(database_url):
    with open_store(database_url) as store:
        store.record_document("code", V1, None, at(0))
        store.sync_sources([SourceSettings(id="other", url="https://www.gov.uk/other")])
        assert [s.id for s in store.sources()] == ["other"]
        assert {s.id for s in store.sources(include_inactive=True)} == {"code", "other"}
        assert len(store.snapshots("code")) == 1


def test_a_new_url_drops_the_conditional_request_state(database_url):
    with open_store(database_url) as store:
        store.record_document("code", V1, None, at(0), etag='"abc"')
        assert store.source_state("code").etag == '"abc"'
        store.sync_sources([SourceSettings(id="code", url="https://www.gov.uk/code-v2")])
        assert store.source_state("code").etag is None


def test_prune_forgets_old_history_but_keeps_the_current_snapshot(database_url):
    with open_store(database_url) as store:
        store.record_document("code", V1, None, at(0))
        store.record_document("code", V2, diff_documents(V1, V2), at(24 * 10))
        store.record_unchanged("code", at(24 * 400))
        result = store.prune(T0 + timedelta(days=365))
        assert (result.checks, result.changes, result.snapshots) == (2, 1, 1)
        (left,) = store.snapshots("code")
        assert store.document(left.id) == V2
        assert store.source("code").current_snapshot_id == left.id
        assert store.changes() == []
        assert store.stored_bytes() > 0


def test_the_known_head_is_the_newest_migration():
    from alembic.script import ScriptDirectory

    from storage.migrate import HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_a_change_already_recorded_by_another_process_is_not_recorded_twice(database_url):
    with open_store(database_url) as store:
        first = store.record_document("code", V1, None, at(0))
        change = diff_documents(V1, V2)
        # Two checks both read snapshot 1, both fetched V2; the second to write loses.
        one = store.record_document("code", V2, change, at(1), expected_snapshot_id=first.snapshot_id)
        two = store.record_document("code", V2, change, at(1.01), expected_snapshot_id=first.snapshot_id)
        assert one.outcome == "changed" and one.change_id is not None
        assert two.outcome == "unchanged" and two.change_id is None
        assert len(store.changes()) == 1 and len(store.snapshots("code")) == 2


def test_two_senders_never_claim_the_same_notification(database_url):
    from monitor.core.drafts import NotificationDraft

    with open_store(database_url) as store, Store(database_url) as other:
        store.enqueue([NotificationDraft(recipient=f"r{n}@example.org", kind="test") for n in range(6)], T0)
        later = T0 + timedelta(minutes=1)
        first = store.claim_due(later, limit=4)
        second = other.claim_due(later, limit=4)
        assert len(first) == 4 and len(second) == 2
        assert not {n.id for n in first} & {n.id for n in second}
        assert all(n.status == "sending" and n.attempts == 1 for n in first + second)
        assert other.claim_due(later) == []


def test_editing_how_a_source_is_read_starts_a_new_baseline_but_not_its_schedule(database_url):
    with open_store(database_url) as store:
        store.record_document("code", V1, None, at(0), etag='"abc"')
        store.sync_sources([SourceSettings(id="code", url="https://www.gov.uk/code", interval=7200)])
        assert store.source_state("code").snapshot_id is not None  # a new interval reads the same
        store.sync_sources([SourceSettings(id="code", url="https://www.gov.uk/code", commitments=("review",),
                                           expected=True)])
        assert store.source_state("code").snapshot_id is not None  # so does declaring the page expected
        store.sync_sources([SourceSettings(id="code", url="https://www.gov.uk/code", selector="main")])
        state = store.source_state("code")
        assert state.snapshot_id is None and state.etag is None
        assert store.record_document("code", V2, None, at(1)).outcome == "first"
        assert store.changes() == [] and len(store.snapshots("code")) == 2


def test_prune_keeps_changes_that_are_developments(database_url):
    from monitor.core.drafts import DevelopmentDraft

    with open_store(database_url) as store:
        store.record_document("code", V1, None, at(0))
        draft = DevelopmentDraft(commitment_id="code-of-practice", title="revised code", score=1.0, evidence=[])
        store.record_document("code", V2, diff_documents(V1, V2), at(24), developments=[draft])
        store.record_document("code", V1, diff_documents(V2, V1), at(48))
        result = store.prune(T0 + timedelta(days=365))
        assert result.changes == 1
        (kept,) = store.changes()
        assert store.developments()[0].change_id == kept.id
        assert store.document(kept.to_snapshot_id) == V2


def test_an_overdue_event_is_recorded_once_even_when_two_processes_find_it(database_url):
    from datetime import date

    with open_store(database_url) as store, Store(database_url) as other:
        due = date(2020, 12, 31)
        assert store.record_event("update", "overdue", due, T0) is not None
        assert other.record_event("update", "overdue", due, T0) is None
        later = T0 + timedelta(days=90)
        assert store.record_event("update", "reminder", due, later, unless_since=later - timedelta(days=90)) is None
        assert store.record_event("update", "reminder", due, later,
                                  unless_since=later - timedelta(days=90) + timedelta(seconds=1)) is not None
        assert [e.kind for e in store.ledger_events("update")] == ["overdue", "reminder"]


def test_two_processes_never_digest_the_same_held_mail(database_url):
    from monitor.core.drafts import NotificationDraft

    with open_store(database_url) as store, Store(database_url) as other:
        store.enqueue([NotificationDraft(recipient="d@example.org", kind="test", held=True) for _ in range(3)], T0)
        slot = T0 + timedelta(hours=1)
        first = store.make_digest("d@example.org", slot, held_before=slot)
        assert first is not None
        assert other.make_digest("d@example.org", slot, held_before=slot) is None  # nothing left, no empty digest
        digests = [n for n in store.notifications(recipient="d@example.org") if n.kind == "digest"]
        assert [d.payload for d in digests] == [{"items": 3}]
        assert len(store.notifications(digest_id=first)) == 3


V3 = Document("Code", ("Chapter 1.", "Chapter 2.", "Chapter 3."))


def test_a_reading_overtaken_by_a_newer_one_of_another_process_is_not_recorded_as_a_change(database_url):
    with open_store(database_url) as store:
        v1 = store.record_document("code", V1, None, at(0)).snapshot_id
        # Two checks read snapshot 1; the one that started later (saw V3) records first.
        newer = store.record_document("code", V3, diff_documents(V1, V3), at(2), expected_snapshot_id=v1)
        older = store.record_document("code", V2, diff_documents(V1, V2), at(1), expected_snapshot_id=v1)
        assert newer.outcome == "changed"
        assert older.by_another and older.change_id is None
        assert store.source_state("code").snapshot_id == newer.snapshot_id  # V2 never became current
        assert [c.to_snapshot_id for c in store.changes()] == [newer.snapshot_id]


def test_a_newer_reading_than_another_process_recorded_is_sent_back_to_be_compared_again(database_url):
    from storage import STALE

    with open_store(database_url) as store:
        v1 = store.record_document("code", V1, None, at(0)).snapshot_id
        store.record_document("code", V2, diff_documents(V1, V2), at(1), expected_snapshot_id=v1)
        stale = store.record_document("code", V3, diff_documents(V1, V3), at(2), expected_snapshot_id=v1)
        assert stale.outcome == STALE and stale.check_id is None
        assert len(store.changes()) == 1 and len(store.checks("code")) == 2  # nothing of it was written
        # An unchanged reading of V1, newer than the recorded V2: V1 is back, to compare again.
        assert store.record_unchanged("code", at(3), seen_snapshot_id=v1).outcome == STALE


def test_a_kind_that_reads_pages_differently_now_starts_a_new_baseline_once(database_url):
    # Upgrading sendwatch may change what a kind reads of the same page (text it did not
    # read before): that is not the publisher's change, so such sources start afresh.
    with open_store(database_url) as store:
        store.record_document("code", V1, None, at(0), etag='"abc"')
        store.sync_sources([SOURCE], {"page": 1})  # reading 1 is the reading of old
        assert store.source_state("code").snapshot_id is not None
        store.sync_sources([SOURCE], {"page": 2})
        state = store.source_state("code")
        assert state.snapshot_id is None and state.etag is None
        assert store.record_document("code", V2, None, at(1)).outcome == "first"
        store.sync_sources([SOURCE], {"page": 2})  # once: the same reading keeps its baseline
        assert store.source_state("code").snapshot_id is not None
        assert store.changes() == []


# -- one development per document, possible developments, a person's review ----------------

FEED = SourceSettings(id="feed", url="https://www.gov.uk/search/all.atom")
PLAN_KEY = "gov.uk:/government/publications/send-and-alternative-provision-improvement-plan"


def _sighted(store, source_id, hours, draft):
    """Record on ``source_id`` a change that carries ``draft``."""
    before = Document(source_id, (f"before {hours}",))
    after = Document(source_id, (f"after {hours}",))
    store.record_document(source_id, before, None, at(hours))
    return store.record_document(source_id, after, diff_documents(before, after), at(hours + 1),
                                 developments=[draft])


def _plan(commitment="send-review", status="development", title="new document 'The plan'"):
    from monitor.core.drafts import DevelopmentDraft, NotificationDraft

    return DevelopmentDraft(commitment_id=commitment, title=title, score=0.8 if status == "development" else 0.4,
                            evidence=[], document_key=PLAN_KEY, status=status, url="https://www.gov.uk/plan",
                            notify=(NotificationDraft("a@example.org", "development", commitment),
                                    NotificationDraft("b@example.org", "development", commitment)))


def test_a_document_seen_again_by_another_source_is_one_development_with_a_further_sighting(database_url):
    with open_store(database_url) as store:
        store.sync_sources([SOURCE, FEED])
        first = _sighted(store, "code", 0, _plan())
        again = _sighted(store, "feed", 24, _plan(title="new document 'The plan' (feed)"))
        (development,) = store.developments()
        assert first.development_ids == (development.id,) and first.queued == 2
        assert again.development_ids == () and again.seen_again == (development.id,) and again.queued == 0
        assert [n.recipient for n in store.notifications()] == ["a@example.org", "b@example.org"]
        (sighting,) = store.sightings(development_id=development.id)
        assert (sighting.source_id, sighting.title) == ("feed", "new document 'The plan' (feed)")
        assert [s.id for s in store.sightings(change_id=again.change_id)] == [sighting.id]
        # The same document for another commitment is that commitment's development.
        other = _sighted(store, "feed", 48, _plan(commitment="code-of-practice"))
        assert len(other.development_ids) == 1 and len(store.notifications()) == 4
        # A change that names no document is never merged with another.
        from dataclasses import replace
        _sighted(store, "code", 72, replace(_plan(), document_key=None))
        assert len(store.developments(commitment_id="send-review")) == 2
        # Its sightings are evidence: pruning keeps the changes they came from.
        store.prune(T0 + timedelta(days=365))
        assert store.change(again.change_id) is not None


def test_a_possible_development_is_emailed_only_once_a_person_confirms_it(database_url):
    from monitor.core.drafts import CONFIRMED, POSSIBLE, NotificationDraft

    with open_store(database_url) as store:
        recorded = _sighted(store, "code", 0, _plan(status=POSSIBLE))
        (possible,) = store.developments(statuses=(POSSIBLE,))
        assert recorded.possible_ids == (possible.id,) and recorded.development_ids == ()
        assert store.developments() == [] and store.notifications() == []
        later = datetime(2026, 2, 1, tzinfo=UTC)
        assert store.review(possible.id, CONFIRMED, later, [NotificationDraft("a@example.org", "development")])
        assert [n.development_id for n in store.notifications()] == [possible.id]
        (confirmed,) = store.developments()
        assert (confirmed.status, confirmed.reviewed_at) == (CONFIRMED, later)
        # Confirming twice (two people at once) queues the email once.
        assert not store.review(possible.id, CONFIRMED, later, [NotificationDraft("a@example.org", "development")])
        assert len(store.notifications()) == 1


def test_a_rejected_document_is_never_raised_again_for_that_commitment(database_url):
    from monitor.core.drafts import POSSIBLE, REJECTED

    with open_store(database_url) as store:
        store.sync_sources([SOURCE, FEED])
        _sighted(store, "code", 0, _plan(status=POSSIBLE))
        (possible,) = store.developments(statuses=(POSSIBLE,))
        assert store.review(possible.id, REJECTED, T0 + timedelta(hours=5))
        # Seen again, even as strong evidence: a sighting of the rejected document, no email.
        again = _sighted(store, "feed", 24, _plan())
        assert again.development_ids == () and again.seen_again == (possible.id,)
        assert store.developments() == [] and store.notifications() == []
        (rejection,) = store.rejections()
        assert (rejection.commitment_id, rejection.document_key, rejection.title) == \
            ("send-review", PLAN_KEY, "new document 'The plan'")
        assert rejection.rejected_at == T0 + timedelta(hours=5)


def test_a_possible_development_seen_again_with_enough_evidence_becomes_a_development(database_url):
    from monitor.core.drafts import DEVELOPMENT, POSSIBLE

    with open_store(database_url) as store:
        store.sync_sources([SOURCE, FEED])
        _sighted(store, "code", 0, _plan(status=POSSIBLE))
        again = _sighted(store, "feed", 24, _plan())
        (development,) = store.developments()
        assert development.status == DEVELOPMENT and again.development_ids == (development.id,)
        assert len(store.notifications()) == 2


def test_a_rejected_development_is_no_longer_followed(database_url):
    from dataclasses import replace

    from monitor.core.drafts import REJECTED

    with open_store(database_url) as store:
        follow = {"id": "followed-plan", "kind": "govuk-content", "url": "https://www.gov.uk/plan",
                  "interval": 3600.0, "commitments": ["send-review"], "enabled": True}
        recorded = _sighted(store, "code", 0, replace(_plan(), follow=follow))
        assert recorded.followed == ("followed-plan",) and [s.id for s in store.followed_sources()] == ["followed-plan"]
        assert store.review(recorded.development_ids[0], REJECTED, T0)
        assert store.followed_sources() == []


def test_a_document_rejected_for_one_commitment_is_still_followed_for_another(database_url):
    from dataclasses import replace

    from monitor.core.drafts import REJECTED

    follow = {"id": "followed-plan", "kind": "govuk-content", "url": "https://www.gov.uk/plan",
              "interval": 3600.0, "commitments": ["send-review"], "enabled": True}
    with open_store(database_url) as store:
        review = _sighted(store, "code", 0, replace(_plan(), follow=follow))
        code = _sighted(store, "code", 10, replace(_plan("code-of-practice"), follow=follow))
        assert code.followed == ()  # already followed for the Review
        assert store.review(review.development_ids[0], REJECTED, T0)
        (followed,) = store.followed_sources()  # still wanted: now for the Code
        assert followed.settings["commitments"] == ["code-of-practice"]
        assert store.review(code.development_ids[0], REJECTED, T0)
        assert store.followed_sources() == []
        again = _sighted(store, "code", 20, replace(_plan("health-education-care"), follow=follow))
        assert again.followed == ("followed-plan",)  # a document set aside can be followed again
        assert [s.id for s in store.followed_sources()] == ["followed-plan"]


def test_a_confirmed_possible_development_is_followed_and_is_news_the_day_it_is_confirmed(database_url):
    from dataclasses import replace

    from monitor.core.drafts import CONFIRMED

    follow = {"id": "followed-plan", "kind": "govuk-content", "url": "https://www.gov.uk/plan",
              "interval": 3600.0, "commitments": ["send-review"], "enabled": True}
    with open_store(database_url) as store:
        possible = _sighted(store, "code", 0, replace(_plan(status="possible"), follow=follow))
        assert possible.followed == () and store.followed_sources() == []
        confirmed_at = T0 + timedelta(days=30)
        assert store.review(possible.possible_ids[0], CONFIRMED, confirmed_at)
        assert [s.id for s in store.followed_sources()] == ["followed-plan"]
        (development,) = store.developments(since=confirmed_at - timedelta(days=1))  # a feed polled since
        assert development.announced_at == confirmed_at


def test_the_documents_discovered_are_those_the_discovery_sources_hold_now_each_once(database_url):
    search = SourceSettings(id="search", kind="govuk-search", url="https://www.gov.uk/api/search.json")
    feed = SourceSettings(id="feed", kind="feed", url="https://www.gov.uk/search/all.atom")
    plan = Item(RESULT, "/plan", "SEND and AP improvement plan", "https://www.gov.uk/plan", note="Our plan.")
    older = Document("Search", (), (Item(RESULT, "/gone", "Replaced", "https://www.gov.uk/gone"),))
    with Store(database_url) as store:
        store.sync_sources([SOURCE, search, feed])
        store.record_document("code", V2, None, at(0))  # a watched page's documents are not discovered
        store.record_document("search", older, None, at(0))
        now = Document("Search", (), (plan,))
        store.record_document("search", now, diff_documents(older, now), at(1))
        store.record_document("feed", Document("Feed", (), (
            Item(RESULT, "tag:plan", "SEND and AP improvement plan", "https://www.gov.uk/plan"),
            Item(RESULT, "tag:pay", "Teachers' pay award", "https://www.gov.uk/pay"))), None, at(0))
        texts = store.discovered_texts(["govuk-search", "feed"])
        assert sorted(texts) == ["SEND and AP improvement plan / Our plan.", "Teachers' pay award"]
        # Asked again after a discovery source recorded a new version: the new version's.
        later = Document("Search", (), (plan, Item(RESULT, "/fe", "FE funding", "https://www.gov.uk/fe")))
        store.record_document("search", later, diff_documents(now, later), at(2))
        assert "FE funding" in store.discovered_texts(["govuk-search", "feed"])


def test_upgrading_a_database_with_developments_keeps_their_email(database_url):
    # Migrations run on every start against the user's record: one that rebuilt a table
    # would, through ON DELETE CASCADE, delete the notifications of every development.
    from sqlalchemy import MetaData, insert

    from storage.migrate import upgrade
    from storage.store import make_engine

    engine = make_engine(database_url)
    upgrade(engine, "0003")
    tables = MetaData()
    tables.reflect(engine)
    t = tables.tables
    now = T0
    with engine.begin() as conn:
        conn.execute(insert(t["sources"]).values(id="code", kind="page", url="https://www.gov.uk/code", settings={},
                                                 origin="config", active=True, created_at=now,
                                                 consecutive_failures=0))
        for n in (1, 2):
            conn.execute(insert(t["snapshots"]).values(id=n, source_id="code", content_hash=f"h{n}", content=b"x",
                                                       size=1, first_seen_at=now, last_seen_at=now))
        conn.execute(insert(t["changes"]).values(id=1, source_id="code", from_snapshot_id=1, to_snapshot_id=2,
                                                 detected_at=now, summary="s", detail=b"x"))
        conn.execute(insert(t["developments"]).values(id=1, commitment_id="code-of-practice", change_id=1,
                                                      source_id="code", title="t", score=1.0, evidence=[],
                                                      detected_at=now))
        conn.execute(insert(t["notifications"]).values(recipient="a@example.org", kind="development",
                                                       development_id=1, payload={}, status="pending", attempts=0,
                                                       next_attempt_at=now, created_at=now))
    engine.dispose()

    with Store(database_url) as store:  # migrates to the newest revision
        (development,) = store.developments()
        assert development.id == 1 and development.status == "development"
        assert [(n.development_id, n.status) for n in store.notifications()] == [(1, "pending")]


def test_a_sender_that_loses_a_claim_to_another_takes_the_next_notification(tmp_path):
    # SQLite only: there the look for due notifications is not yet in the write transaction,
    # so another sender can claim what this one saw (PostgreSQL skips locked rows instead).
    from sqlalchemy import event

    from monitor.core.drafts import NotificationDraft

    url = f"sqlite:///{tmp_path / 'sendwatch.db'}"
    with Store(url) as store, Store(url) as other:
        store.enqueue([NotificationDraft(recipient=f"r{n}@example.org", kind="test") for n in range(2)], T0)
        later = T0 + timedelta(minutes=1)
        taken = []

        @event.listens_for(store.engine, "after_cursor_execute")
        def another_sender_claims_first(conn, cursor, statement, parameters, context, executemany):
            if statement.startswith("SELECT notifications.id") and not taken:
                taken.extend(other.claim_due(later))

        claimed = store.claim_due(later)
        assert [n.recipient for n in taken] == ["r0@example.org"]
        assert [n.recipient for n in claimed] == ["r1@example.org"]  # not nothing: the run goes on
