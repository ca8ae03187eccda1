"""Alembic environment: runs on the connection sendwatch hands it, or on sqlalchemy.url."""

from alembic import context
from sqlalchemy import create_engine

from config.errors import ConfigError
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run(connection) -> None:
    # render_as_batch: SQLite can only alter tables by copying them; batch mode does that.
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise ConfigError("the migrations were given no connection and no sqlalchemy.url to open one")
    engine = create_engine(url)
    with engine.begin() as conn:
        run(conn)
