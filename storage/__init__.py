"""sendwatch's record: models, queries and migrations (SQLite or PostgreSQL)."""

from storage.store import (
    CheckMeta,
    DevelopmentDraft,
    NotificationDraft,
    PruneResult,
    Recorded,
    SourceState,
    Store,
    Unchanged,
)

__all__ = ["CheckMeta", "DevelopmentDraft", "NotificationDraft", "PruneResult", "Recorded", "SourceState", "Store",
           "Unchanged"]
