"""Apply Alembic migrations from inside the package (no alembic.ini needed by users).

Every command opens the store, so a database already at the newest revision must cost
next to nothing: that case is settled with one query, and Alembic is only imported when
there is something to migrate. ``HEAD`` must name the newest migration (a test checks).
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from storage import locking

MIGRATIONS = "storage:migrations"
HEAD = "0006"


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
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        # Processes started together on a new database (two checks, or serve and a check)
        # would otherwise each create the tables, and all but one fail.
        locking.exclusive(connection, locking.MIGRATION)
        if revision == "head" and _revision(connection) == HEAD:
            return  # another process migrated while this one waited
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

