"""sendwatch's record: models, queries and migrations (SQLite or PostgreSQL).

``Store`` opens it; its parts (``store.sources``, ``store.history``, ``store.ledger``,
``store.outbox``) own the operations. See ``storage.store``.
"""

# The database itself cannot do what is asked (unreachable, gone, disk full, locked): no
# caller's fault, and the same for every query until someone fixes it.
from sqlalchemy.exc import OperationalError as DatabaseUnavailable

from storage.history import STALE, CheckMeta, History, PruneResult, Recorded, Unchanged
from storage.ledger import Ledger
from storage.outbox import Outbox
from storage.sources import Sources, SourceState
from storage.store import Store

__all__ = ["STALE", "CheckMeta", "DatabaseUnavailable", "History", "Ledger", "Outbox", "PruneResult",
           "Recorded", "SourceState", "Sources", "Store", "Unchanged"]
