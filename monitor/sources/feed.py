"""Atom and RSS feeds, including GOV.UK finder feeds.

Also home of what the discovery kinds (feeds, committee publications) share: building on
the previous snapshot so that an entry leaving the window is not a removal, and naming
entries in a summary newest first.
"""

from __future__ import annotations

import calendar
import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor.core.diff import Change, summarise
from monitor.core.document import NOTE_SUMMARY, RESULT, Document, Item, Noun, item_kind
from monitor.core.errors import CheckFailed
from monitor.core.extract import collapse
from monitor.core.instants import iso
from monitor.sources.base import NoOptions, Reading, SourceKind
from monitor.sources.fetch import Fetcher, Validators

FEED_ACCEPT = ("application/atom+xml,application/rss+xml;q=0.9,application/xml;q=0.8,"
               "text/xml;q=0.8,*/*;q=0.1")

# A note longer than this is shortened and fingerprinted: a blog feed may carry whole
# articles, and the snapshot needs to notice an edit, not to keep a copy of the text.
NOTE_LIMIT = 600
NOTE_SHOWN = 300
SHOWN_TITLES = 3
TITLE_LIMIT = 120

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Elements whose edges separate words; without a space there, "<p>a</p><p>b</p>" reads "ab".
_BLOCK_TAGS = ("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
               "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
               "hr", "li", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul")


class FeedSource(SourceKind[NoOptions]):
    """An Atom or RSS feed: each entry is a document that may be new or updated.

    Works with any Atom 1.0 or RSS 2.0 feed (and the older dialects feedparser reads), and
    with GOV.UK finder feeds, which every GOV.UK search page offers by adding ``.atom`` to
    its path: ``https://www.gov.uk/search/all.atom?keywords=SEND&organisations[]=department-for-education``.
    No options::

        [[source]]
        id = "dfe-send-publications"
        kind = "feed"
        url = "https://www.gov.uk/search/all.atom?keywords=special+educational+needs&organisations%5B%5D=department-for-education&order=updated-newest"
        interval = "1h"
        commitments = ["send-review"]

    Each entry becomes a result keyed by its id (or link when it has none), with its
    title, link, date (``updated``, else ``published``, as a UTC instant) and summary text
    (HTML stripped; a long text or full content is shortened and fingerprinted).

    What counts as a change: an entry with a new id is a new document; an entry whose
    title, link, date, summary or content changes is an updated document. Entries are kept
    from one check to the next, so an entry that drops out of the feed's window is not a
    removal, and the order of entries never counts. A response that is not a feed at all
    (an HTML page, an error page, garbage) fails the check; a slightly malformed feed whose
    entries can still be read is accepted.
    """

    kind = "feed"
    Options = NoOptions
    needs_previous = True
    discovers = True

    def follow_kind(self, item) -> str | None:
        # A GOV.UK page is best followed through its Content API item; elsewhere, as a page.
        host = (urlsplit(item.url or "").hostname or "").lower()
        return "govuk-content" if host == "www.gov.uk" else "page"

    async def read(self, fetcher: Fetcher, validators: Validators | None,
                   previous: Document | None = None) -> Reading:
        response = await fetcher.get(self.settings.url, validators=validators, accept=FEED_ACCEPT)
        if response.not_modified:
            return Reading(None, response.url, response.status, 0, validators or response.validators)
        document = document_from_feed(response.body, url=response.url,
                                      content_type=response.headers.get("content-type"), previous=previous)
        return Reading(document, response.url, response.status, len(response.body), response.validators)

    def summarise(self, change: Change) -> str:
        """E.g. ``2 new documents: 'A', 'B'; 1 document updated: 'C'``."""
        return summarise_discovery(change, RESULT, describe=describe_entry)


# --- parsing ------------------------------------------------------------------------------


def document_from_feed(body: bytes, *, url: str, content_type: str | None = None,
                       previous: Document | None = None) -> Document:
    """The Document for a feed's bytes: its entries plus those ``previous`` held.

    Raises ``CheckFailed`` when the body is not a feed.
    """
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type  # the charset it declares decides the decoding
    # Bytes are wrapped in a stream: given bare bytes, feedparser first tries them as a
    # file name (and a str as a URL to fetch), which a server's answer must never steer.
    import feedparser  # imported on first use: it costs a tenth of a second at every start

    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    if not parsed.entries and (not parsed.get("version") or _broken(parsed)):
        raise CheckFailed(_not_a_feed(body, content_type, parsed))
    items = [item for entry in parsed.entries if (item := entry_item(entry)) is not None]
    title = _text(parsed.feed.get("title_detail")) or collapse(parsed.feed.get("title", ""))
    if not title:
        title = previous.title if previous is not None and previous.title else url
    return Document(title, (), accumulate(previous, items, RESULT))


def entry_item(entry) -> Item | None:
    """A feed entry as a result item; None for an entry with nothing to know it by (the
    cut-off last entry of a broken feed, say)."""
    title = _text(entry.get("title_detail")) or collapse(entry.get("title", ""))
    link = entry.get("link") or None
    date = entry_date(entry)
    key = entry.get("id") or link
    if not key:
        if not title:
            return None
        # No id and no link: the title and date are all that tell this entry apart.
        key = f"{title} @ {date}" if date else title
    note = entry_note(entry)
    return Item(RESULT, key, title=title, url=link, date=date, note=note, note_kind=NOTE_SUMMARY if note else None)


def entry_date(entry) -> str | None:
    """``updated`` (else ``published``) as a UTC instant, e.g. ``2025-06-10T08:30:00Z``."""
    for name in ("updated_parsed", "published_parsed", "created_parsed"):
        # dict.get: feedparser's own get maps a missing ``updated`` to ``published`` with a
        # deprecation warning; the order here already says which to prefer.
        value = dict.get(entry, name)
        if value:
            # feedparser has already turned the feed's offset into UTC.
            return iso(datetime.fromtimestamp(calendar.timegm(value), UTC))
    return None


def entry_note(entry) -> str | None:
    """The summary's text; shortened and fingerprinted when it is long or when the entry
    also carries content, so that any edit to either shows as an updated entry."""
    summary = _text(entry.get("summary_detail"))
    if not summary and entry.get("summary"):
        # feedparser copies a lone <content> into ``summary`` without a detail: it is markup.
        summary = text_of_html(entry["summary"])
    content = collapse(" ".join(_text(part) for part in entry.get("content", ())))
    shown = summary or content
    extra = content if content and content != shown else ""
    if not extra and len(shown) <= NOTE_LIMIT:
        return shown or None
    digest = hashlib.sha256(f"{shown}\n{extra}".encode()).hexdigest()[:12]
    return f"{shorten(shown, NOTE_SHOWN)} [text {digest}]"


def describe_entry(item: Item) -> str:
    return quote(item.title or item.url or item.key)


def _text(detail) -> str:
    """Readable text of a feedparser text construct (``{type, value}``)."""
    if not detail or not detail.get("value"):
        return ""
    if detail.get("type") in _HTML_TYPES:
        return text_of_html(detail["value"])
    return collapse(detail["value"])


def text_of_html(html: str) -> str:
    """Text of an HTML fragment, words kept apart at block edges, whitespace collapsed."""
    from bs4 import BeautifulSoup  # here: most checks never need it (a tenth of start-up)

    soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all(["script", "style", "template"]):
        tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before(" ")
        tag.insert_after(" ")
    return collapse(soup.get_text())


def _broken(parsed) -> bool:
    # feedparser also flags a feed served as text/plain or in a charset other than the one
    # declared; those are read fine. Only a feed that is not well-formed is broken.
    problem = parsed.get("bozo_exception")
    from feedparser.exceptions import ThingsNobodyCaresAboutButMe

    return bool(parsed.get("bozo")) and not isinstance(problem, ThingsNobodyCaresAboutButMe)


def _not_a_feed(body: bytes, content_type: str | None, parsed) -> str:
    media_type = (content_type or "").split(";")[0].strip().lower() or "no Content-Type"
    head = body[:1024].lstrip().lower()
    if not body.strip():
        return f"expected an Atom or RSS feed but got an empty body ({media_type})"
    if b"<html" in head or head.startswith(b"<!doctype html"):
        return f"expected an Atom or RSS feed but got an HTML page ({media_type}, {len(body):,} bytes)"
    reason = parsed.get("bozo_exception")
    why = f": {reason}" if reason else ""
    if parsed.get("version"):
        return f"the feed does not parse and has no readable entries{why}"
    return f"expected an Atom or RSS feed but got {media_type} ({len(body):,} bytes) that is not a feed{why}"


# --- shared by the discovery kinds -----------------------------------------------------------


def accumulate(previous: Document | None, current: Iterable[Item], kind: str) -> tuple[Item, ...]:
    """The items seen now, plus those of ``kind`` that ``previous`` held and are not seen
    now. Current values win, so an edited entry is an update; one that left the window
    (a feed's last 20, an API's first page) stays, so it is never reported as removed."""
    merged: dict[tuple[str, str], Item] = {}
    for item in current:
        merged.setdefault(item.identity, item)  # listed twice: the first, as Document does
    if previous is not None:
        for item in previous.items_of(kind):
            merged.setdefault(item.identity, item)
    return tuple(merged.values())


def newest_first(items: Iterable[Item]) -> list[Item]:
    # ISO instants in UTC sort as text; undated items go last, then by title for stability.
    dated = sorted(items, key=lambda i: (i.title, i.key))
    return sorted(dated, key=lambda i: i.date or "", reverse=True)


def summarise_discovery(change: Change, kind: str, describe: Callable[[Item], str]) -> str:
    """A summary that leads with the new and updated items of ``kind`` (a discovered kind),
    newest first, and hands anything else (a title change, other kinds of items) to the
    generic summary."""
    noun = item_kind(kind).document_noun or item_kind(kind).noun
    new_noun = Noun(f"new {noun.one}", f"new {noun.many}")
    parts: list[str] = []
    if change.old_title != change.new_title:
        parts.append(f"title changed to {quote(change.new_title)}")
    added = newest_first(i for i in change.added_items if i.kind == kind)
    updated = newest_first(new for _, new in change.updated_items if new.kind == kind)
    removed = newest_first(i for i in change.removed_items if i.kind == kind)
    for items, said, verb in ((added, new_noun, ""), (updated, noun, " updated"), (removed, noun, " removed")):
        if items:
            shown = ", ".join(describe(i) for i in items[:SHOWN_TITLES])
            more = f" and {len(items) - SHOWN_TITLES} more" if len(items) > SHOWN_TITLES else ""
            parts.append(f"{len(items)} {said.of(len(items))}{verb}: {shown}{more}")
    rest = replace(
        change,
        old_title=change.new_title,
        added_items=tuple(i for i in change.added_items if i.kind != kind),
        removed_items=tuple(i for i in change.removed_items if i.kind != kind),
        updated_items=tuple(pair for pair in change.updated_items if pair[1].kind != kind),
    )
    if not rest.is_empty:
        parts.append(summarise(rest))
    return "; ".join(parts) if parts else "no change"


def quote(text: str, limit: int = TITLE_LIMIT) -> str:
    return f"'{shorten(collapse(text), limit)}'"


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

