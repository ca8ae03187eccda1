"""The UK Parliament Committees API: a committee's publications."""

from __future__ import annotations

from monitor.sources.base import SourceKind


class ParliamentCommitteeSource(SourceKind):
    """(being written)"""

    kind = "parliament-committee"
