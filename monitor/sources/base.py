"""What every source kind has in common."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict

from config.settings import SourceSettings
from monitor.core.diff import Change, summarise
from monitor.core.document import Document
from monitor.sources.fetch import Fetcher, Validators


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The options model of one kind of source (NoOptions, or a subclass of it with fields).
OptionsT = TypeVar("OptionsT", bound=NoOptions)
T = TypeVar("T")


class Offload(Protocol):
    """Where a kind runs the pure, CPU-heavy part of a reading (parsing a page): ``await
    offload(function, *args, **kwargs)`` is ``function(*args, **kwargs)``, here or in a
    worker process (``monitor.app.pool``), so the function and its arguments and result
    must pickle, and the function must be importable by name."""

    async def __call__(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T: ...


async def in_process(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """The ``Offload`` that runs the function here and now."""
    return function(*args, **kwargs)


def query_values(url: str) -> dict[str, list[str]]:
    """A URL's query string, each name with its values in order."""
    found: dict[str, list[str]] = {}
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        found.setdefault(name, []).append(value)
    return found


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def fold_option(options: dict[str, Any], name: str, value: Any, written: str) -> None:
    """Take option ``name`` from the URL (where it was ``written``) unless the source also
    sets it, to something else: then neither can be preferred silently."""
    if name in options and same_value(options[name], value):
        return
    if name in options:
        raise ValueError(f"{written} in the url and {name} = {options[name]!r} disagree; give it once")
    options[name] = value


def same_value(a: Any, b: Any) -> bool:
    """Equal as written in a URL: ``20`` is ``"20"``, and a list's order does not matter."""
    def written(v: Any) -> list[str]:
        return sorted(str(x) for x in (v if isinstance(v, list | tuple) else [v]))
    return written(a) == written(b)


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


class SourceKind(Generic[OptionsT]):
    """A kind of source: how to fetch it and turn the answer into a Document.

    Subclasses set ``kind`` (the name used in the config), an ``Options`` model for their
    own settings (``NoOptions`` when they have none), and implement ``read``; they name
    that model as the type parameter too (``class PageSource(SourceKind[PageOptions])``),
    so ``self.options`` has its fields. Their docstring is their documentation.

    Kinds that discover documents (searches, feeds, publication lists) set
    ``needs_previous``: they are handed the last snapshot's Document and build on it, so
    that a result falling off the first page is not a removal.
    """

    kind: ClassVar[str]
    Options: type[OptionsT]
    needs_previous: ClassVar[bool] = False
    # Discovery kinds list documents (results, entries, publications): each new one is
    # matched against every commitment, and may be followed on its own from then on.
    discovers: ClassVar[bool] = False
    # A discovery kind's documents are what matching measures how common a phrase is
    # against (``PHRASE_CORPUS_KINDS``), unless they would skew it.
    measures_phrases: ClassVar[bool] = True
    # How this kind turns an answer into a Document. Raised when a change of that reading
    # would make the same page's Document differ from the stored one: the next check of
    # each such source then starts a new baseline, instead of reporting text it merely
    # reads now (or no longer) as the publisher's change.
    reads: ClassVar[int] = 1
    # Whether its reading sends work to ``offload`` (a pass with enough such sources
    # starts worker processes for them).
    offloads: ClassVar[bool] = False

    def __init__(self, settings: SourceSettings, offload: Offload = in_process) -> None:
        self.settings = settings
        self.options: OptionsT = self.read_options(settings)
        self.offload = offload

    @classmethod
    def read_options(cls, settings: SourceSettings) -> OptionsT:
        """The kind's options. Kinds whose URL may carry them in its query string (as copied
        from a browser) read them from there too. Raises pydantic's ValidationError for a bad
        option, and ValueError with a message for a URL that cannot be read."""
        return cls.Options.model_validate(settings.options)

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
