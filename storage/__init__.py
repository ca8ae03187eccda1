"""sendwatch's record: models, queries and migrations (SQLite or PostgreSQL)."""

from storage.store import CheckMeta, DevelopmentDraft, PruneResult, Recorded, SourceState, Store

__all__ = ["CheckMeta", "DevelopmentDraft", "PruneResult", "Recorded", "SourceState", "Store"]
