"""Apply Alembic migrations from inside the package (no alembic.ini needed by users).

Every command opens the store, so a database already at the newest revision must cost
next to nothing: that case is settled with one query, and Alembic is only imported when
there is something to migrate. A new, empty database is made at the newest revision
straight from the models (the tables, then the revision stamped) instead of by replaying
every migration: the same schema (tests/test_storage.py compares the two on each
backend), without loading Alembic, which cost a first run 0.17 s and 24 MB of memory.
``HEAD`` must name the newest migration (a test checks).
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect, text
from sqlalchemy.engine import Connection, Engine

from storage import locking

MIGRATIONS = "storage:migrations"
HEAD = "0007"

# Alembic's own table of the revision a database is at, as Alembic creates it.
_VERSION_TABLE = Table("alembic_version", MetaData(), Column("version_num", String(32), nullable=False),
                       PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def alembic_config(engine: Engine | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False)
                               .replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _revision(connection)


def _revision(connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and current_revision(engine) == HEAD:
        return
    with engine.begin() as connection:
        # Processes started together on a new database (two checks, or serve and a check)
        # would otherwise each create the tables, and all but one fail.
        locking.exclusive(connection, locking.MIGRATION)
        if revision == "head":
            if _revision(connection) == HEAD:
                return  # another process migrated while this one waited
            if _empty(connection):
                create_at_head(connection)
                return
        from alembic import command

        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _empty(connection: Connection) -> bool:
    """No revision stamped and none of sendwatch's tables: a database never used by it."""
    from storage.models import Base

    names = set(inspect(connection).get_table_names())
    return "alembic_version" not in names and not names & set(Base.metadata.tables)


def create_at_head(connection: Connection) -> None:
    """sendwatch's tables as the models describe them, stamped as the newest revision."""
    from storage.models import Base

    # Made from a copy of the models' tables: creating a table whose foreign key is added
    # by ALTER (PostgreSQL) marks the shared constraint as done for good, and a SQLite
    # database made later in the same process would then lack it.
    tables = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(tables)
    tables.create_all(connection)
    _VERSION_TABLE.create(connection)
    connection.execute(_VERSION_TABLE.insert().values(version_num=HEAD))
