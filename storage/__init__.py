"""sendwatch's record: models, queries and migrations (SQLite or PostgreSQL)."""

from storage.store import (
    STALE,
    CheckMeta,
    DevelopmentDraft,
    NotificationDraft,
    PruneResult,
    Recorded,
    SourceState,
    Store,
    Unchanged,
)

__all__ = ["STALE", "CheckMeta", "DevelopmentDraft", "NotificationDraft", "PruneResult", "Recorded", "SourceState",
           "Store", "Unchanged"]
