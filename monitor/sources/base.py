"""What every source kind has in common."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from config.settings import SourceSettings
from monitor.diff import Change, summarise
from monitor.document import Document
from monitor.fetch import Fetcher, Validators


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Reading:
    """The result of reading a source once.

    ``document`` is None when the server said nothing changed (304 Not Modified).
    """

    document: Document | None
    url: str
    status: int
    size: int
    validators: Validators


class SourceKind:
    """A kind of source: how to fetch it and turn the answer into a Document.

    Subclasses set ``kind`` (the name used in the config), an ``Options`` model for their
    own settings, and implement ``read``. Their docstring is their documentation.

    Kinds that discover documents (searches, feeds, publication lists) set
    ``needs_previous``: they are handed the last snapshot's Document and build on it, so
    that a result falling off the first page is not a removal.
    """

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoOptions
    needs_previous: ClassVar[bool] = False
    # Discovery kinds list documents (results, entries, publications): each new one is
    # matched against every commitment, and may be followed on its own from then on.
    discovers: ClassVar[bool] = False

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self.options = self.Options.model_validate(settings.options)

    async def read(self, fetcher: Fetcher, validators: Validators | None,
                   previous: Document | None = None) -> Reading:
        """Fetch and return the source's Document. ``previous`` is the last snapshot's
        Document when ``needs_previous`` is set (None on the first check)."""
        raise NotImplementedError

    def follow_kind(self, item) -> str | None:
        """The kind of source that follows a discovered document (None: not followable)."""
        return None

    def summarise(self, change: Change) -> str:
        """The one-line account of a change; kinds with the publisher's own words override it."""
        return summarise(change)
