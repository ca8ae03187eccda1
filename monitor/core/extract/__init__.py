"""From an HTML page to a Document: the content a person reads, without the template.

Everything here is pure (no I/O). ``decode_html`` turns response bytes into text whatever
the server claimed; ``extract_html`` keeps the title, the readable text blocks and the
items (attachments, document links, change notes, notices) and drops site chrome and
per-response noise, so that two fetches of unchanged content give equal Documents.

One lxml tree, one set of rules: libxml2 parses the page (``tree``), the content element
is found in it (``sites``: ``main#content`` on GOV.UK, ``#main-content`` on some
Parliament sites, else a ``main``, else the body), and the reader (``reader``) walks it
once, skipping chrome as it goes (``chrome``). A user's CSS selector (``select``) picks
elements of that same tree, and the reader reads those instead. The parts:

- ``text``: whitespace and invisible characters, as Documents hold text;
- ``charset``: a response's bytes to text;
- ``tree``: the parse, the content element, base URL and head title;
- ``chrome``: what is not content;
- ``sites``: GOV.UK's and Parliament's templates and components;
- ``reader``: blocks and items in reading order;
- ``select``: CSS selectors.
"""

from __future__ import annotations

from monitor.core.document import ATTACHMENT, LINK, Document
from monitor.core.errors import ExtractError
from monitor.core.extract.charset import decode, decode_html
from monitor.core.extract.reader import Reader
from monitor.core.extract.select import InvalidSelector, check_selector, compile_selector, outermost
from monitor.core.extract.text import collapse
from monitor.core.extract.tree import Page

__all__ = ["check_selector", "collapse", "decode_html", "extract_html", "extract_page"]


def extract_page(body: bytes, charset: str | None, *, url: str, selector: str | None = None) -> Document:
    """``extract_html`` of a response body as ``decode_html`` reads it."""
    html, exact = decode(body, charset)
    document = extract_html(html, url=url, selector=selector, utf8=body if exact else None)
    document.content_hash()  # hashed where the page is read (a worker process, in a pass), and kept with it
    return document


def extract_html(html: str, *, url: str, selector: str | None = None, utf8: bytes | None = None) -> Document:
    """The Document of an HTML page: title, text blocks and items, without chrome.

    ``selector`` (CSS) narrows the content to the elements it matches; matching nothing
    raises ExtractError, as does a page without any text. ``utf8``, when given, is
    ``html`` encoded as UTF-8 (the response's own bytes), which saves encoding it again.
    """
    if selector is not None:
        try:
            xpath = compile_selector(selector)
        except InvalidSelector as exc:
            raise ExtractError(f"invalid selector {selector!r}: {exc}") from None
    page = Page(html, url, utf8)
    reader = Reader(page.base, url, page.root)
    if selector is None:
        reader.read(page.root)
        title = page.title(reader.h1)
    else:
        # Evaluated on the whole page, so that the selector may name what holds the content.
        matches = [e for e in xpath(page.root.getroottree()) if reader.picked(e)]
        if not matches:
            raise ExtractError(f"selector {selector!r} matched nothing on the page")
        for element in outermost(matches):
            reader.read(element)
        if not reader.blocks:
            raise ExtractError(f"selector {selector!r} matched only elements without text")
        title = page.title(reader.first_h1())
    if not reader.blocks:
        raise ExtractError("the page has no text content")
    # An attachment's own link is the attachment, not another document.
    attachments = {item.key for item in reader.items if item.kind == ATTACHMENT}
    items = [i for i in reader.items if not (i.kind == LINK and i.key in attachments)]
    return Document(title=title, blocks=tuple(reader.blocks), items=tuple(items))
