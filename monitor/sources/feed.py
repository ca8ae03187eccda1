"""Atom and RSS feeds, including GOV.UK finder feeds."""

from __future__ import annotations

from monitor.sources.base import SourceKind


class FeedSource(SourceKind):
    """(being written)"""

    kind = "feed"
