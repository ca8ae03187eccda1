"""Transactions that must not run beside another process's of the same kind.

Several sendwatch processes may share one database (``check`` beside ``serve``, two
checks, a later issue's workers). Where a transaction reads and then writes on what it
read (creating tables, adding the configured sources), it first takes a lock that lasts
until it ends.
"""

from __future__ import annotations

from typing import IO, Literal

from sqlalchemy import Connection, Engine

# Fixed numbers naming PostgreSQL advisory locks (any 64-bit value; these spell words).
MIGRATION = int.from_bytes(b"sw-migr", "big")
SOURCES = int.from_bytes(b"sw-srcs", "big")
SUBSCRIBERS = int.from_bytes(b"sw-subs", "big")
TASKS = int.from_bytes(b"sw-tasks", "big")  # creating the task queue's tables
RESCUE = int.from_bytes(b"sw-rescu", "big")  # handing on a lost worker's jobs


def exclusive(connection, key: int) -> None:
    """Hold ``key`` until the connection's transaction ends. Call it first in the transaction."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%(key)s)", {"key": key})
    elif connection.dialect.name == "sqlite":
        # SQLite's driver starts a transaction only at the first INSERT, UPDATE or DELETE,
        # after what came before was read without one. BEGIN IMMEDIATE takes the
        # database's write lock at once, so the reads that follow stay true.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


SERVICE = int.from_bytes(b"sw-serve", "big")


class ServiceLock:
    """One ``sendwatch serve`` per database, whatever data directory each was given.

    On PostgreSQL a session advisory lock, held by a connection kept open for the life of
    the service (the server drops it with the connection, however the process ends); on
    SQLite an exclusive lock on a file beside the database file, which the kernel drops
    with the process.
    """

    def __init__(self, engine: Engine, *, shared: bool = False) -> None:
        self.engine = engine
        # Shared: the worker processes of ``sendwatch worker`` and ``serve --workers N`` on
        # PostgreSQL, any number of them together; the one-process ``serve`` takes the lock
        # exclusively, so it never runs beside them (each would check every source).
        self.shared = shared
        # The PostgreSQL connection or the lock file held; True when no lock is needed.
        self._held: Connection | IO[str] | Literal[True] | None = None

    def acquire(self) -> bool:
        """True when this process now holds the lock; False when another does."""
        if self._held is not None:
            return True
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            how = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
            got = connection.exec_driver_sql(f"SELECT {how}(%(key)s)", {"key": SERVICE}).scalar()
            connection.commit()  # the lock is the session's: it outlives the transaction
            if not got:
                connection.close()
                return False
            self._held = connection
            return True
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            self._held = True  # nothing else can open this database
            return True
        import fcntl
        from pathlib import Path

        path = Path(database).expanduser()
        handle = open(path.with_name(path.name + ".serve-lock"), "a")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._held = handle
        return True

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None and held is not True:
            held.close()
