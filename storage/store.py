"""The record as the application opens it: one database, migrated, and its parts.

Nothing outside ``storage`` writes SQL. The record has five parts, each owning its
tables and the operations on them, and callers ask the part that owns an operation:

- ``store.sources``: the watched sources (``storage.sources``);
- ``store.history``: checks, snapshots and changes (``storage.history``);
- ``store.ledger``: developments, reviews, marks and events (``storage.ledger``);
- ``store.outbox``: notifications, from queued to sent (``storage.outbox``);
- ``store.subscribers``: who receives the commitments' email (``storage.subscribers``).

Every operation of a part is one transaction; where one spans parts (a change with its
developments and their email), the part that records it calls the others' session-level
functions inside its own transaction. ``Store`` itself only opens, migrates and closes.
"""

from __future__ import annotations

from storage import locking
from storage.database import Database
from storage.history import History
from storage.ledger import Ledger
from storage.outbox import Outbox
from storage.sources import Sources
from storage.subscribers import Subscribers


class Store:
    """sendwatch's record, on SQLite or PostgreSQL."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.database = Database(url)
        self.engine = self.database.engine
        self.service_lock = locking.ServiceLock(self.engine)
        self.sources = Sources(self.database)
        self.history = History(self.database)
        self.ledger = Ledger(self.database)
        self.outbox = Outbox(self.database)
        self.subscribers = Subscribers(self.database)
        if migrate:
            self.migrate()

    def migrate(self) -> None:
        from storage.migrate import upgrade

        upgrade(self.engine)

    def close(self) -> None:
        self.service_lock.release()
        self.database.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


__all__ = ["Store"]
