"""The history part of the record: checks, snapshots stored once per content, changes,
failures, recording beside another process, retention.

Runs on SQLite, and on PostgreSQL when SENDWATCH_TEST_DATABASE_URL is set.
"""

from datetime import timedelta

from sqlalchemy import create_engine, func, select

from config import SourceSettings
from monitor.core.diff import diff_documents
from monitor.core.document import RESULT, Document, Item
from storage import Store, Unchanged
from storage.models import SnapshotRecord
from tests.stored import SOURCE, T0, V1, V2, at, open_store


def test_unchanged_checks_add_no_snapshot(database_url):
    with open_store(database_url) as store:
        first = store.history.record_document("code", V1, None, at(0))
        assert first.outcome == "first" and first.change_id is None
        for hour in (1, 2, 3):
            assert store.history.record_unchanged("code", at(hour)).outcome == "unchanged"
        snapshots = store.history.snapshots("code")
        assert len(snapshots) == 1
        assert snapshots[0].last_seen_at == T0 + timedelta(hours=3)
        assert len(store.history.checks("code")) == 4
        assert store.history.document(snapshots[0].id) == V1


def test_a_batch_of_unchanged_checks_is_recorded_as_each_would_be(database_url):
    other = SourceSettings(id="other", url="https://www.gov.uk/other")
    with Store(database_url) as store:
        store.sources.sync([SOURCE, other])
        code_v1 = store.history.record_document("code", V1, None, at(0)).snapshot_id
        other_v2 = store.history.record_document("other", V2, None, at(0)).snapshot_id
        store.history.record_failure("other", "HTTP 503 from https://www.gov.uk/other", at(1))
        store.history.record_unchanged_many([
            Unchanged("code", at(2), code_v1, etag='"v1"'),
            Unchanged("other", at(2.5), other_v2, not_modified=True, last_modified="Mon, 05 Jan 2026 09:00:00 GMT"),
        ])
        code, other_record = store.sources.get("code"), store.sources.get("other")
        assert code.last_checked_at == code.last_success_at == T0 + timedelta(hours=2)
        assert code.etag == '"v1"'
        # A success ends the run of failures, as a single unchanged check does.
        assert other_record.consecutive_failures == 0 and other_record.last_error is None
        assert other_record.last_modified == "Mon, 05 Jan 2026 09:00:00 GMT"
        latest = {s: store.history.checks(s)[0] for s in ("code", "other")}
        assert [latest["code"].outcome, latest["other"].outcome] == ["unchanged", "not-modified"]
        assert latest["code"].snapshot_id == code.current_snapshot_id
        assert latest["other"].snapshot_id == other_record.current_snapshot_id
        assert latest["code"].duration_ms == 120 and latest["code"].http_status == 200
        assert store.history.snapshots("code")[0].last_seen_at == T0 + timedelta(hours=2)
        assert store.history.snapshots("other")[0].last_seen_at == T0 + timedelta(hours=2.5)
        assert len(store.history.snapshots("code")) == 1 and len(store.history.checks("code")) == 2
        store.history.record_unchanged_many([])  # nothing to write is not an error


def test_a_refused_batch_is_written_row_by_row_and_only_the_bad_row_is_reported():
    from monitor.app.check import UnchangedBatch

    class RefusingHistory:  # a database that refuses some rows (their snapshot pruned, say)
        def __init__(self):
            self.refuse, self.written, self.calls = {"b"}, [], 0

        def record_unchanged_many(self, checks):
            self.calls += 1
            if any(c.source_id in self.refuse for c in checks):
                raise RuntimeError("FOREIGN KEY constraint failed")
            self.written.extend(c.source_id for c in checks)

    history = RefusingHistory()
    batch = UnchangedBatch(history)
    batch.SIZE = 2
    batch.add(Unchanged("a", at(1), 1))
    batch.add(Unchanged("b", at(1), 2))  # full: the batch fails, then a and b one by one; nothing raises
    assert history.written == ["a"] and batch.pending == []
    batch.add(Unchanged("c", at(2), 3))
    assert batch.close() == {"b": "RuntimeError: FOREIGN KEY constraint failed"}
    assert history.written == ["a", "c"]
    assert history.calls == 4  # the failed batch, a, b, then c's batch: no retrying the same rows


def test_a_late_batch_does_not_overwrite_what_another_process_recorded_since(database_url):
    # `sendwatch check` compared the page with V1 at hour 1 and holds the result in its
    # batch; meanwhile serve recorded V2 at hour 2 and a failure at hour 3.
    with open_store(database_url) as store:
        v1 = store.history.record_document("code", V1, None, at(0)).snapshot_id
        v2 = store.history.record_document("code", V2, diff_documents(V1, V2), at(2)).snapshot_id
        store.history.record_failure("code", "HTTP 503 from https://www.gov.uk/code", at(3))
        store.history.record_unchanged_many([Unchanged("code", at(1), v1, etag='"v1"')])
        source = store.sources.get("code")
        assert source.current_snapshot_id == v2
        assert source.last_checked_at == T0 + timedelta(hours=3)  # not back to hour 1
        assert source.consecutive_failures == 1 and source.last_error.startswith("HTTP 503")
        assert source.etag is None  # V1's validator is not paired with V2
        # The check happened and is in the history, against the version it saw.
        (late,) = [c for c in store.history.checks("code") if c.started_at == T0 + timedelta(hours=1)]
        assert late.outcome == "unchanged" and late.snapshot_id == v1
        seen = {s.id: s.last_seen_at for s in store.history.snapshots("code")}
        assert seen[v1] == T0 + timedelta(hours=1) and seen[v2] == T0 + timedelta(hours=2)


def test_a_late_batch_leaves_a_later_failure_on_the_same_version(database_url):
    with open_store(database_url) as store:
        v1 = store.history.record_document("code", V1, None, at(0)).snapshot_id
        store.history.record_failure("code", "HTTP 503 from https://www.gov.uk/code", at(3))
        store.history.record_unchanged_many([Unchanged("code", at(1), v1)])
        source = store.sources.get("code")
        assert source.consecutive_failures == 1 and source.last_checked_at == T0 + timedelta(hours=3)


def test_a_late_batch_does_not_restore_a_version_the_config_has_set_aside(database_url):
    # A config edit (a new URL) makes the next check a new baseline: an older check of
    # the old URL must not put its snapshot's validators back.
    with open_store(database_url) as store:
        v1 = store.history.record_document("code", V1, None, at(0), etag='"v1"').snapshot_id
        store.sources.sync([SOURCE.model_copy(update={"url": "https://www.gov.uk/code-2026"})])
        store.history.record_unchanged_many([Unchanged("code", at(1), v1, etag='"v1"')])
        source = store.sources.get("code")
        assert source.current_snapshot_id is None and source.etag is None


def test_a_snapshot_is_never_seen_earlier_than_it_was(database_url):
    with open_store(database_url) as store:
        v1 = store.history.record_document("code", V1, None, at(0)).snapshot_id
        store.history.record_unchanged("code", at(5))
        store.history.record_unchanged_many([Unchanged("code", at(1), v1)])
        assert store.history.snapshots("code")[0].last_seen_at == T0 + timedelta(hours=5)


def test_a_new_version_is_a_change_with_its_diff(database_url):
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0))
        change = diff_documents(V1, V2)
        recorded = store.history.record_document("code", V2, change, at(1))
        assert recorded.outcome == "changed"
        (record,) = store.history.changes()
        assert record.id == recorded.change_id
        assert record.summary == "1 document added: 'Code (PDF)'; 1 line added"
        assert store.history.change_detail(record) == change
        assert store.history.document(record.to_snapshot_id) == V2
        assert store.sources.get("code").last_changed_at == T0 + timedelta(hours=1)


def test_going_back_to_an_earlier_version_reuses_its_snapshot(database_url):
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0))
        store.history.record_document("code", V2, diff_documents(V1, V2), at(1))
        back = store.history.record_document("code", V1, diff_documents(V2, V1), at(2))
        assert len(store.history.snapshots("code")) == 2
        assert back.snapshot_id == store.history.snapshots("code")[0].id
        assert [c.summary for c in store.history.changes()] == ["1 document removed: 'Code (PDF)'; 1 line removed",
                                                        "1 document added: 'Code (PDF)'; 1 line added"]


def test_snapshots_are_stored_compressed(database_url):
    big = Document("Big", tuple(f"Paragraph {n} of the SEND code of practice." for n in range(2000)))
    with open_store(database_url) as store:
        store.history.record_document("code", big, None, at(0))
        engine = create_engine(database_url)
        with engine.connect() as conn:
            stored = conn.scalar(select(func.length(SnapshotRecord.content)))
        engine.dispose()
        assert stored < len(big.to_json()) / 4


def test_a_failure_keeps_the_last_good_snapshot_and_counts(database_url):
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0))
        store.history.record_failure("code", "HTTP 500 Internal Server Error", at(1))
        store.history.record_failure("code", "timed out (read)", at(2))
        source = store.sources.get("code")
        assert source.consecutive_failures == 2
        assert source.last_error == "timed out (read)"
        assert store.history.document(source.current_snapshot_id) == V1
        store.history.record_unchanged("code", at(3))
        source = store.sources.get("code")
        assert source.consecutive_failures == 0 and source.last_error is None


def test_changes_since_and_per_source(database_url):
    with open_store(database_url) as store:
        store.sources.sync([SOURCE, SourceSettings(id="other", url="https://www.gov.uk/other")])
        store.history.record_document("code", V1, None, at(0))
        store.history.record_document("code", V2, diff_documents(V1, V2), at(24))
        store.history.record_document("other", V1, None, at(0))
        store.history.record_document("other", V2, diff_documents(V1, V2), at(48))
        assert [c.source_id for c in store.history.changes()] == ["other", "code"]
        assert [c.source_id for c in store.history.changes(since=T0 + timedelta(hours=30))] == ["other"]
        assert [c.source_id for c in store.history.changes(source_id="code")] == ["code"]


def test_prune_forgets_old_history_but_keeps_the_current_snapshot(database_url):
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0))
        store.history.record_document("code", V2, diff_documents(V1, V2), at(24 * 10))
        store.history.record_unchanged("code", at(24 * 400))
        result = store.history.prune(T0 + timedelta(days=365))
        assert (result.checks, result.changes, result.snapshots) == (2, 1, 1)
        (left,) = store.history.snapshots("code")
        assert store.history.document(left.id) == V2
        assert store.sources.get("code").current_snapshot_id == left.id
        assert store.history.changes() == []
        assert store.history.stored_bytes() > 0


def test_a_change_already_recorded_by_another_process_is_not_recorded_twice(database_url):
    with open_store(database_url) as store:
        first = store.history.record_document("code", V1, None, at(0))
        change = diff_documents(V1, V2)
        # Two checks both read snapshot 1, both fetched V2; the second to write loses.
        one = store.history.record_document("code", V2, change, at(1), expected_snapshot_id=first.snapshot_id)
        two = store.history.record_document("code", V2, change, at(1.01), expected_snapshot_id=first.snapshot_id)
        assert one.outcome == "changed" and one.change_id is not None
        assert two.outcome == "unchanged" and two.change_id is None
        assert len(store.history.changes()) == 1 and len(store.history.snapshots("code")) == 2


def test_prune_keeps_changes_that_are_developments(database_url):
    from monitor.core.drafts import DevelopmentDraft

    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0))
        draft = DevelopmentDraft(commitment_id="code-of-practice", title="revised code", score=1.0, evidence=[])
        store.history.record_document("code", V2, diff_documents(V1, V2), at(24), developments=[draft])
        store.history.record_document("code", V1, diff_documents(V2, V1), at(48))
        result = store.history.prune(T0 + timedelta(days=365))
        assert result.changes == 1
        (kept,) = store.history.changes()
        assert store.ledger.developments()[0].change_id == kept.id
        assert store.history.document(kept.to_snapshot_id) == V2


V3 = Document("Code", ("Chapter 1.", "Chapter 2.", "Chapter 3."))


def test_a_reading_overtaken_by_a_newer_one_of_another_process_is_not_recorded_as_a_change(database_url):
    with open_store(database_url) as store:
        v1 = store.history.record_document("code", V1, None, at(0)).snapshot_id
        # Two checks read snapshot 1; the one that started later (saw V3) records first.
        newer = store.history.record_document("code", V3, diff_documents(V1, V3), at(2), expected_snapshot_id=v1)
        older = store.history.record_document("code", V2, diff_documents(V1, V2), at(1), expected_snapshot_id=v1)
        assert newer.outcome == "changed"
        assert older.by_another and older.change_id is None
        assert store.sources.state("code").snapshot_id == newer.snapshot_id  # V2 never became current
        assert [c.to_snapshot_id for c in store.history.changes()] == [newer.snapshot_id]


def test_a_newer_reading_than_another_process_recorded_is_sent_back_to_be_compared_again(database_url):
    from storage import STALE

    with open_store(database_url) as store:
        v1 = store.history.record_document("code", V1, None, at(0)).snapshot_id
        store.history.record_document("code", V2, diff_documents(V1, V2), at(1), expected_snapshot_id=v1)
        stale = store.history.record_document("code", V3, diff_documents(V1, V3), at(2), expected_snapshot_id=v1)
        assert stale.outcome == STALE and stale.check_id is None
        assert len(store.history.changes()) == 1 and len(store.history.checks("code")) == 2  # nothing of it was written
        # An unchanged reading of V1, newer than the recorded V2: V1 is back, to compare again.
        assert store.history.record_unchanged("code", at(3), seen_snapshot_id=v1).outcome == STALE


def test_the_documents_discovered_are_those_the_discovery_sources_hold_now_each_once(database_url):
    search = SourceSettings(id="search", kind="govuk-search", url="https://www.gov.uk/api/search.json")
    feed = SourceSettings(id="feed", kind="feed", url="https://www.gov.uk/search/all.atom")
    plan = Item(RESULT, "/plan", "SEND and AP improvement plan", "https://www.gov.uk/plan", note="Our plan.")
    older = Document("Search", (), (Item(RESULT, "/gone", "Replaced", "https://www.gov.uk/gone"),))
    with Store(database_url) as store:
        store.sources.sync([SOURCE, search, feed])
        store.history.record_document("code", V2, None, at(0))  # a watched page's documents are not discovered
        store.history.record_document("search", older, None, at(0))
        now = Document("Search", (), (plan,))
        store.history.record_document("search", now, diff_documents(older, now), at(1))
        store.history.record_document("feed", Document("Feed", (), (
            Item(RESULT, "tag:plan", "SEND and AP improvement plan", "https://www.gov.uk/plan"),
            Item(RESULT, "tag:pay", "Teachers' pay award", "https://www.gov.uk/pay"))), None, at(0))
        texts = store.history.discovered_texts(["govuk-search", "feed"])
        assert sorted(texts) == ["SEND and AP improvement plan / Our plan.", "Teachers' pay award"]
        # Asked again after a discovery source recorded a new version: the new version's.
        later = Document("Search", (), (plan, Item(RESULT, "/fe", "FE funding", "https://www.gov.uk/fe")))
        store.history.record_document("search", later, diff_documents(now, later), at(2))
        assert "FE funding" in store.history.discovered_texts(["govuk-search", "feed"])
