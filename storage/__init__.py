"""sendwatch's record: models, queries and migrations (SQLite or PostgreSQL)."""

# The database itself cannot do what is asked (unreachable, gone, disk full, locked): no
# caller's fault, and the same for every query until someone fixes it.
from sqlalchemy.exc import OperationalError as DatabaseUnavailable

from storage.store import (
    STALE,
    CheckMeta,
    PruneResult,
    Recorded,
    SourceState,
    Store,
    Unchanged,
)

__all__ = ["STALE", "CheckMeta",
           "DatabaseUnavailable", "PruneResult", "Recorded",
           "SourceState", "Store", "Unchanged"]
