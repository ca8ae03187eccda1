"""What the web pages show, worked out as plain data (pure, tested without a server).

Everything here that came from a watched page is untrusted; these helpers never build
markup from it. Escaping is the templates' job (autoescape is always on), and whether a
stored URL may become a link is decided by ``web_url`` alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from urllib.parse import quote

from config.settings import is_web_url
from monitor.core.diff import ADDED, REMOVED, TextLine

# XML 1.0 forbids most C0 controls even when escaped, and a lone surrogate is no character
# at all (written as "&#55296;" it makes the feed unreadable); a record may still hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def web_url(url: object) -> str | None:
    """``url`` if it is a plain http(s) URL that may be a link, else None.

    Stored URLs come from watched pages and the config: a ``javascript:`` or ``data:``
    URL must never become an href. Surrounding whitespace is refused rather than
    trimmed, since browsers trim it and would then read a different scheme than we did.
    """
    if not isinstance(url, str) or url != url.strip() or not is_web_url(url):
        return None
    return url


def segment(value: object) -> str:
    """One path segment of an internal link: ids are escaped, never trusted to be slugs."""
    return quote(str(value), safe="")


def xml_text(value: object) -> str:
    """Text that can go into XML (escaping is ElementTree's job, this drops what it cannot hold)."""
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", "" if value is None else str(value))


def long_date(value: date | datetime, zone: tzinfo | None = None) -> str:
    """``23 July 2020``: how GOV.UK writes dates, without a leading zero."""
    if isinstance(value, datetime) and zone is not None:
        value = value.astimezone(zone)
    return f"{value.day} {value:%B %Y}"


def long_time(moment: datetime, zone: tzinfo) -> str:
    """``12 May 2026 at 14:03`` in the reader's time zone."""
    moment = moment.astimezone(zone)
    return f"{long_date(moment)} at {moment:%H:%M}"


def lines_of(added: Sequence[str], removed: Sequence[str]) -> list[list[TextLine]]:
    """A diff view from a stored Change alone, for when a snapshot is no longer kept."""
    lines = [TextLine(REMOVED, text) for text in removed] + [TextLine(ADDED, text) for text in added]
    return [lines] if lines else []


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a newest-first list."""

    items: list
    number: int
    count: int  # how many pages there are (at least 1, even for an empty list)
    total: int

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None


def paginate(items: Sequence, number: int, size: int) -> Page | None:
    """Page ``number`` (1-based) of ``items``; None when there is no such page."""
    count = max(1, -(-len(items) // size))
    if number < 1 or number > count:
        return None
    start = (number - 1) * size
    return Page(list(items[start:start + size]), number, count, len(items))
