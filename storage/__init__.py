"""sendwatch's record: models, queries and migrations (SQLite or PostgreSQL)."""

from storage.store import CheckMeta, PruneResult, Recorded, SourceState, Store

__all__ = ["CheckMeta", "PruneResult", "Recorded", "SourceState", "Store"]
