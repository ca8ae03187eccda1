"""The record as the application opens it: its tables, its migrations, and the parts
over one database.

Runs on SQLite, and on PostgreSQL when SENDWATCH_TEST_DATABASE_URL is set (as do the
tests of each part: test_storage_sources, _history, _ledger and _outbox).
"""

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from monitor.core.diff import diff_documents
from monitor.core.drafts import CONFIRMED, DEVELOPMENT, POSSIBLE, DevelopmentDraft, NotificationDraft
from storage import Store
from storage.migrate import current_revision
from storage.models import Base
from tests.stored import T0, V1, V2, at, open_store


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


def test_a_new_database_is_made_with_the_schema_the_migrations_make(database_url, tmp_path):
    # A new, empty database is made from the models and stamped at the newest revision,
    # not by replaying the migrations: both must give the same tables, columns, keys,
    # indexes and constraints (the order of columns aside), or the next migration would
    # meet a database it was not written for.
    from alembic import command

    from storage.database import make_engine
    from storage.migrate import HEAD, alembic_config
    from tests.conftest import fresh_database

    with Store(database_url) as store:
        made = _schema(store.engine)
        assert current_revision(store.engine) == HEAD
    (tmp_path / "replayed").mkdir()
    with fresh_database("sqlite" if database_url.startswith("sqlite") else "postgres", tmp_path / "replayed") as url:
        engine = make_engine(url)
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        replayed = _schema(engine)
        engine.dispose()
    assert set(made) == set(Base.metadata.tables) | {"alembic_version"}
    assert made == replayed


def _schema(engine) -> dict:
    import json

    def listed(entries) -> list[str]:
        return sorted(json.dumps(entry, sort_keys=True, default=str) for entry in entries)

    found = inspect(engine)
    return {table: {"columns": listed({k: c[k] for k in ("name", "type", "nullable", "default")}
                                      for c in found.get_columns(table)),
                    "primary key": listed([found.get_pk_constraint(table)]),
                    "foreign keys": listed(found.get_foreign_keys(table)),
                    "indexes": listed(found.get_indexes(table)),
                    "unique": listed(found.get_unique_constraints(table)),
                    "checks": listed(found.get_check_constraints(table))}
            for table in found.get_table_names()}


def test_the_known_head_is_the_newest_migration():
    from alembic.script import ScriptDirectory

    from storage.migrate import HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_upgrading_a_database_with_developments_keeps_their_email(database_url):
    # Migrations run on every start against the user's record: one that rebuilt a table
    # would, through ON DELETE CASCADE, delete the notifications of every development.
    from sqlalchemy import MetaData, insert

    from storage.database import make_engine
    from storage.migrate import upgrade

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
        (development,) = store.ledger.developments()
        assert development.id == 1 and development.status == "development"
        assert [(n.development_id, n.status) for n in store.outbox.notifications()] == [(1, "pending")]


# -- one transaction across the parts ---------------------------------------------------------
# A recording that touches several parts (a change, its developments, their email, a
# document to follow) is written whole or not at all. An email the database refuses (no
# recipient) stands here for whatever could fail half-way.

UNSENDABLE = NotificationDraft(recipient=None, kind="development")  # refused: every email has a recipient
FOLLOW = {"id": "followed-plan", "kind": "govuk-content", "url": "https://www.gov.uk/plan",
          "interval": 3600.0, "commitments": ["send-review"], "enabled": True}


def _plan(status: str, notify) -> DevelopmentDraft:
    return DevelopmentDraft(commitment_id="send-review", title="new document 'The plan'", score=0.8, evidence=[],
                            document_key="gov.uk:/plan", status=status, url="https://www.gov.uk/plan",
                            notify=notify, follow=FOLLOW)


def test_a_change_whose_email_cannot_be_queued_leaves_nothing_of_the_reading(database_url):
    with open_store(database_url) as store:
        v1 = store.history.record_document("code", V1, None, at(0)).snapshot_id
        plan = _plan(DEVELOPMENT, (NotificationDraft("a@example.org", "development"), UNSENDABLE))
        with pytest.raises(IntegrityError):
            store.history.record_document("code", V2, diff_documents(V1, V2), at(1), developments=[plan],
                                          expected_snapshot_id=v1)
        assert store.history.changes() == [] and len(store.history.snapshots("code")) == 1
        assert len(store.history.checks("code")) == 1
        assert store.ledger.developments(statuses=None) == [] and store.outbox.notifications() == []
        assert store.sources.followed() == [] and store.sources.state("code").snapshot_id == v1
        # The same reading recorded again is the change it was, with all that goes with it.
        plan = _plan(DEVELOPMENT, (NotificationDraft("a@example.org", "development"),))
        recorded = store.history.record_document("code", V2, diff_documents(V1, V2), at(1), developments=[plan],
                                                 expected_snapshot_id=v1)
        assert recorded.outcome == "changed" and recorded.followed == ("followed-plan",) and recorded.queued == 1


def test_a_confirmation_whose_email_cannot_be_queued_leaves_the_development_possible(database_url):
    with open_store(database_url) as store:
        store.history.record_document("code", V1, None, at(0))
        recorded = store.history.record_document("code", V2, diff_documents(V1, V2), at(1),
                                                 developments=[_plan(POSSIBLE, ())])
        (possible,) = recorded.possible_ids
        with pytest.raises(IntegrityError):
            store.ledger.review(possible, CONFIRMED, at(2).started_at, [UNSENDABLE])
        assert store.ledger.development(possible).status == POSSIBLE
        assert store.sources.followed() == [] and store.outbox.notifications() == []
