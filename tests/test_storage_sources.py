"""The sources part of the record: the configured set, followed sources, and the state
a check starts from.

Runs on SQLite, and on PostgreSQL when SENDWATCH_TEST_DATABASE_URL is set.
"""

from config import SourceSettings
from storage import SourceState, Store
from tests.conftest import stored_followed_source
from tests.stored import SOURCE, V1, V2, at, open_store


def test_sources_no_longer_configured_become_inactive_but_keep_history(database_url):
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0))
        store.sources.sync([SourceSettings(id="other", url="https://www.gov.uk/other")])
        assert [s.id for s in store.sources.all()] == ["other"]
        assert {s.id for s in store.sources.all(include_inactive=True)} == {"code", "other"}
        assert len(store.history.snapshots("code")) == 1


def test_a_new_url_drops_the_conditional_request_state(database_url):
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0), etag='"abc"')
        assert store.sources.state("code").etag == '"abc"'
        store.sources.sync([SourceSettings(id="code", url="https://www.gov.uk/code-v2")])
        assert store.sources.state("code").etag is None


def test_editing_how_a_source_is_read_starts_a_new_baseline_but_not_its_schedule(database_url):
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0), etag='"abc"')
        store.sources.sync([SourceSettings(id="code", url="https://www.gov.uk/code", interval=7200)])
        assert store.sources.state("code").snapshot_id is not None  # a new interval reads the same
        store.sources.sync([SourceSettings(id="code", url="https://www.gov.uk/code", commitments=("review",),
                                           expected=True)])
        assert store.sources.state("code").snapshot_id is not None  # so does declaring the page expected
        store.sources.sync([SourceSettings(id="code", url="https://www.gov.uk/code", selector="main")])
        state = store.sources.state("code")
        assert state.snapshot_id is None and state.etag is None
        assert store.history.record_document("code", V2, None, at(1)).outcome == "first"
        assert store.history.changes() == [] and len(store.history.snapshots("code")) == 2


def test_a_kind_that_reads_pages_differently_now_starts_a_new_baseline_once(database_url):
    # Upgrading sendwatch may change what a kind reads of the same page (text it did not
    # read before): that is not the publisher's change, so such sources start afresh.
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0), etag='"abc"')
        store.sources.sync([SOURCE], {"page": 1})  # reading 1 is the reading of old
        assert store.sources.state("code").snapshot_id is not None
        store.sources.sync([SOURCE], {"page": 2})
        state = store.sources.state("code")
        assert state.snapshot_id is None and state.etag is None
        assert store.history.record_document("code", V2, None, at(1)).outcome == "first"
        store.sources.sync([SOURCE], {"page": 2})  # once: the same reading keeps its baseline
        assert store.sources.state("code").snapshot_id is not None
        assert store.history.changes() == []


def test_a_source_not_yet_read_has_no_state_to_send_and_an_unknown_one_is_none(database_url):
    with open_store(database_url) as store:
        assert store.sources.state("code") == SourceState(None, None, None, None, 0)
        assert store.sources.get("nowhere") is None
        assert store.sources.get("code").url == SOURCE.url


def test_the_state_of_a_source_is_its_last_reading_and_its_failures_since(database_url):
    with open_store(database_url) as store:
        v1 = store.history.record_document("code", V1, None, at(0), etag='"v1"',
                                           last_modified="Mon, 05 Jan 2026 09:00:00 GMT")
        assert store.sources.state("code") == SourceState('"v1"', "Mon, 05 Jan 2026 09:00:00 GMT", v1.snapshot_id,
                                                          V1.content_hash(), 0)
        store.history.record_failure("code", "timed out (read)", at(1))
        state = store.sources.state("code")
        assert (state.snapshot_id, state.consecutive_failures) == (v1.snapshot_id, 1)


def test_syncing_the_config_leaves_followed_sources_alone(database_url):
    Store(database_url).close()  # makes the tables
    stored_followed_source(database_url, "followed-plan", "https://www.gov.uk/plan")
    with open_store(database_url) as store:  # syncs a config that does not name it
        assert [s.id for s in store.sources.followed()] == ["followed-plan"]
        assert [s.id for s in store.sources.all()] == ["code", "followed-plan"]
        store.sources.sync([])
        assert [s.id for s in store.sources.all()] == ["followed-plan"]  # the configured one is set aside
