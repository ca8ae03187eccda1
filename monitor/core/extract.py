"""From an HTML page to a Document: the content a person reads, without the template.

Everything here is pure (no I/O). ``decode_html`` turns response bytes into text whatever
the server claimed; ``extract_html`` keeps the title, the readable text blocks and the
items (attachments, document links, change notes, notices) and drops site chrome and
per-response noise, so that two fetches of unchanged content give equal Documents.

GOV.UK and Parliament pages put their content in ``main`` (``main#content`` on GOV.UK,
``#main-content`` on some Parliament sites). lxml's C parser reads the page, the content
element (else the body) is found in its tree, and the reader walks that element once,
skipping chrome as it goes.

Why the default path walks lxml elements and not BeautifulSoup tags: beautifulsoup4 with
the lxml parser is the project's documented HTML stack, but building a BeautifulSoup tree
is where extraction's time went. Measured on GOV.UK-sized 50 KB pages, rebuilding even
just the pruned ``main`` as a BeautifulSoup tree (serialise, re-parse, one Python object
per node) took 1.8 ms of the 4 ms a page cost, more than lxml's parse of the whole page;
reading the lxml tree directly costs a fraction of that. BeautifulSoup still serves where
it earns its place: a user's CSS ``selector`` (soupsieve works on BeautifulSoup trees) and
the whole-page fallback when lxml gives up on a page (nesting beyond libxml2's limit).

The direct walk reads the content as the BeautifulSoup path read it, detail for detail,
so that snapshots taken before stay comparable: text on either side of dropped chrome is
one string, whitespace-only text at the edges of blocks is dropped as the pruning did,
text in ``rt``/``rp`` is left out as BeautifulSoup's string types left it out, and an
``href`` is percent-encoded as lxml's HTML serialiser encoded it for the re-parse. What
it no longer copies is what that serialise-and-re-parse round trip got wrong: the text of
``<xmp>`` came back escaped, and an empty element whose end tag the serialiser omits
(``<li></li>``) swallowed the content after it.
"""

from __future__ import annotations

import codecs
import re
import threading
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree

from monitor.core.document import ATTACHMENT, CHANGE_NOTE, LINK, NOTICE, Document, Item, without_controls
from monitor.core.errors import ExtractError

if TYPE_CHECKING:
    from bs4 import Tag

# beautifulsoup4 (and soupsieve under it) is imported where a BeautifulSoup tree is built:
# the default path never builds one, and importing them was a tenth of every command's
# start-up.

__all__ = ["collapse", "decode_html", "extract_html", "extract_page"]

# --- text --------------------------------------------------------------------------------

# Invisible characters that editors and CMSs sprinkle into text; they would make equal
# text compare unequal. (nbsp and other Unicode spaces are handled by str.split.)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def _join_or(url: str, href: str) -> str:
    """``<base href>`` resolved against the page, or the page itself when it is unusable."""
    try:
        return urljoin(url, href.strip())
    except ValueError:
        return url


def collapse(text: str) -> str:
    """Whitespace runs (nbsp included) to one space, invisible and control characters
    removed, NFC."""
    # Controls go here, before the Document would drop them, so that "a \x1b b" is "a b".
    if text.isascii():  # the invisible characters are all non-ASCII, and ASCII is NFC
        text = " ".join(text.split())
        return text if text.isprintable() else " ".join(without_controls(text).split())
    text = " ".join(text.translate(_INVISIBLE).split())
    if not text.isprintable():
        text = " ".join(without_controls(text).split())
    return text if text.isascii() else unicodedata.normalize("NFC", text)


# --- decoding -----------------------------------------------------------------------------

_BOMS = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
# Browsers read these labels as windows-1252 (WHATWG Encoding), and so do servers' pages:
# "iso-8859-1" pages routinely contain curly quotes in the 0x80-0x9F range.
_WINDOWS_1252_LABELS = frozenset({"iso8859-1", "ascii"})


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip("\"'"))
    except (LookupError, ValueError, TypeError):
        return None
    try:
        b"".decode(info.name)
    except LookupError:  # a bytes-to-bytes codec such as "base64" or "zlib"
        return None
    return "cp1252" if info.name in _WINDOWS_1252_LABELS else info.name


def _strict(body: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        if codec == "cp1252":  # five bytes are undefined in windows-1252, none in latin-1
            return body.decode("latin-1")
        return None


def decode_html(body: bytes, header_charset: str | None) -> str:
    """Decode a page's bytes, trusting the bytes over what the server or page claims.

    Order: a byte-order mark; valid UTF-8 (valid non-ASCII UTF-8 is almost never an
    accident, while Content-Type headers often lie); mostly valid UTF-8 (more good
    multi-byte characters than broken bytes), with the broken bytes replaced; the header
    charset if it decodes strictly; a ``<meta>`` charset in the first 2 KB; windows-1252
    with replacement.
    """
    return _decode(body, header_charset)[0]


def _decode(body: bytes, header_charset: str | None) -> tuple[str, bool]:
    """``decode_html``'s text, and whether it is exactly ``body`` read as UTF-8."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), False
    header = _codec(header_charset)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # BOM-less UTF-16 text is mostly valid UTF-8 with NULs in it.
        if "\x00" in text and header and header.startswith(("utf-16", "utf-32")):
            decoded = _strict(body, header)
            if decoded is not None:
                return decoded, False
        return text, True
    return _decode_other(body, header), False


def _decode_other(body: bytes, header: str | None) -> str:
    # A UTF-8 page with one broken byte is still a UTF-8 page: reading all of it as
    # windows-1252 would turn every curly quote into mojibake and report that as a change.
    lenient = body.decode("utf-8", errors="replace")
    broken = lenient.count("\ufffd")
    if sum(1 for ch in lenient if ord(ch) > 0x7F) - broken > broken:
        return lenient
    decoded = _strict(body, header)
    if decoded is not None:
        return decoded
    match = _META_CHARSET.search(body, 0, 2048)
    meta = _codec(match.group(1).decode("ascii")) if match else None
    # A meta tag readable as ASCII cannot be describing a UTF-16/32 page.
    if meta and not meta.startswith(("utf-16", "utf-32")):
        decoded = _strict(body, meta)
        if decoded is not None:
            return decoded
    return body.decode("cp1252", errors="replace")


# --- what is chrome -----------------------------------------------------------------------

# Elements whose text is never content: code, controls, navigation, page furniture.
_DROP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "math", "head", "title", "meta",
        "link", "input", "select", "textarea", "button", "option", "datalist", "label",
        "iframe", "object", "embed", "canvas", "nav", "footer", "aside", "dialog",
    }
)  # fmt: skip
_DROP_CLASSES = frozenset(
    {
        # GOV.UK template
        "gem-c-cookie-banner", "govuk-cookie-banner", "gem-c-skip-link", "govuk-skip-link",
        "gem-c-layout-super-navigation-header", "gem-c-layout-header", "govuk-header",
        "gem-c-layout-footer", "govuk-footer", "gem-c-emergency-banner", "gem-c-global-banner",
        "global-bar", "gem-c-phase-banner", "govuk-phase-banner", "gem-c-intervention",
        "gem-c-breadcrumbs", "govuk-breadcrumbs", "gem-c-contextual-breadcrumbs",
        "gem-c-step-nav-header", "gem-c-step-nav-related", "gem-c-related-navigation",
        "gem-c-contextual-sidebar", "gem-c-contextual-footer", "gem-c-contents-list",
        "gem-c-back-to-top-link", "app-c-back-to-top", "gem-c-print-link", "gem-c-share-links",
        "gem-c-single-page-notification-button", "gem-c-signup-link", "gem-c-feedback",
        # Screen-reader-only words ("Share on", "(opens in new tab)", "Updates to this
        # page") repeat what the visible text already says.
        "govuk-visually-hidden", "govuk-visually-hidden-focusable", "visually-hidden",
        "sr-only",
        # Toggles of the change history: "+ show all updates", "See all updates".
        "gem-c-published-dates__toggle", "app-c-published-dates__toggle",
        "js-see-all-updates-link",
        # Parliament sites
        "cookie-banner", "breadcrumb", "breadcrumbs", "skip-link",
    }
)  # fmt: skip
# Govspeak's headline figures ({stat-headline}) are an aside in the markup and the first
# thing a reader of a statistics release sees: content, not a sidebar.
_CONTENT_ASIDE_CLASS = "stat-headline"


def _content_aside(classes) -> bool:
    """Whether an ``aside`` with these classes (a list, a string or None) is content."""
    if isinstance(classes, str):
        classes = classes.split()
    return bool(classes) and _CONTENT_ASIDE_CLASS in classes


_DROP_IDS = frozenset(
    {"global-cookie-message", "cookie-banner", "global-bar", "skiplink-container",
     "global-header", "global-breadcrumb", "footer", "user-satisfaction-survey-container"}
)  # fmt: skip
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
# The attributes besides class that can make an element chrome: an element with none of
# them (most are so) needs no further look.
_CHROME_ATTRIBUTES = frozenset({"id", "role", "hidden", "aria-hidden", "style"})


def _chrome_by_attributes(get, classes) -> bool:
    # ``get`` reads an attribute and ``classes`` lists the class names, so that the same
    # rules serve BeautifulSoup tags and lxml elements.
    if classes and not _DROP_CLASSES.isdisjoint(classes):
        return True
    if get("id") in _DROP_IDS or get("role") in _DROP_ROLES:
        return True
    # hidden="until-found" is searchable, collapsed content (accordions), not hidden.
    hidden = get("hidden")
    if hidden is not None and hidden != "until-found":
        return True
    if get("aria-hidden") == "true":
        return True
    style = get("style")
    return bool(style) and "display:none" in style.replace(" ", "").lower()


def _is_chrome(tag: Tag) -> bool:
    name = tag.name
    attrs = tag.attrs
    if name in _DROP_TAGS and not (name == "aside" and _content_aside(attrs.get("class"))):
        return True
    if attrs and _chrome_by_attributes(attrs.get, attrs.get("class")):
        return True
    # A page header holding the h1 is content (e.g. a publication's title block); the
    # site header never holds an h1.
    return name == "header" and tag.find("h1") is None


def _chrome_element_by_markup(element) -> bool:
    """Whether an lxml element is chrome by its tag or attributes (the header rule aside)."""
    if element.tag in _DROP_TAGS and not (element.tag == "aside" and _content_aside(element.get("class"))):
        return True
    # One call for the attribute names, then only the values that can matter: reading
    # all six candidates of every element would cost more than the rest of the test.
    keys = element.keys()
    if not keys:
        return False
    if "class" in keys:
        classes = element.get("class")
        if classes and not _DROP_CLASSES.isdisjoint(classes.split()):
            return True
    return not _CHROME_ATTRIBUTES.isdisjoint(keys) and _chrome_by_attributes(element.get, None)


def _is_chrome_element(element) -> bool:
    """``_is_chrome`` for an lxml element, as the pruning applies it (before any removal)."""
    if _chrome_element_by_markup(element):
        return True
    return element.tag == "header" and element.find(".//h1") is None


def _keeps_h1(header) -> bool:
    """Whether the header still holds an h1 once the chrome inside it is gone.

    The pruning kept a header with any h1 in it, and the reader then skipped it if every
    h1 had gone with the chrome (``<header><div hidden><h1>``); this is that second test.
    """
    for h1 in header.iterdescendants("h1"):
        node = h1
        while node is not header:
            if _chrome_element_by_markup(node):
                break
            node = node.getparent()
        else:
            return True
    return False


def _skipped_element(element) -> bool:
    """Whether the reader leaves an lxml element out: pruned chrome, or a header that lost its h1."""
    return _is_chrome_element(element) or (element.tag == "header" and not _keeps_h1(element))


def _prune_element(root) -> None:
    """Remove chrome from an lxml tree, keeping the text that follows each removed part.

    Also drops whitespace-only text at the edges of block elements (the indentation of
    the markup): a block boundary swallows it anyway, and each such text would cost a
    BeautifulSoup node. Only the selector path prunes; the default path's walk skips the
    same elements and text as it goes.
    """
    doomed = []
    stack = [root]
    while stack:
        for child in stack.pop():
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if _is_chrome_element(child):
                doomed.append(child)
                continue
            stack.append(child)
            if tag in _BLOCKLIKE:
                text = child.text
                if text is not None and text.isspace():
                    child.text = None
                text = child.tail
                if text is not None and text.isspace():
                    child.tail = None
    for element in doomed:
        parent = element.getparent()
        tail = element.tail
        if tail:
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail
        parent.remove(element)


def _strip_chrome(root: Tag) -> None:
    from bs4 import Tag

    doomed = []
    stack = [root]
    while stack:
        tag = stack.pop()
        for child in tag.contents:
            if isinstance(child, Tag):
                if _is_chrome(child):
                    doomed.append(child)
                else:
                    stack.append(child)
    for tag in doomed:
        tag.decompose()


# --- reading order ------------------------------------------------------------------------

# One block each, nested blocks and all: a paragraph, a heading, a table row...
_ATOMIC = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "dt", "caption", "figcaption", "pre",
     "summary", "legend"}
)  # fmt: skip
# Elements that end the current block and start a new one; their text is split into
# blocks by what they contain (a list item holding two paragraphs gives two blocks).
_CONTAINERS = frozenset(
    {"html", "body", "main", "div", "section", "article", "header", "hgroup", "address",
     "ul", "ol", "menu", "li", "dl", "dd", "blockquote", "figure", "details", "fieldset",
     "form", "table", "thead", "tbody", "tfoot", "td", "th", "center", "hr", "br", "search"}
)  # fmt: skip
_BLOCKLIKE = _ATOMIC | _CONTAINERS
_CELL = "\x1f"  # marks a cell boundary inside a row's text; never in collapsed text

_ATTACHMENT_CLASSES = frozenset({"gem-c-attachment"})
_ATTACHMENT_LINK_CLASSES = frozenset({"gem-c-attachment-link"})
_NOTICE_CLASSES = frozenset({"gem-c-notice", "govuk-notification-banner"})
_HISTORY_CLASSES = frozenset({"gem-c-published-dates", "app-c-published-dates"})
_ITEM_CLASSES = _ATTACHMENT_CLASSES | _ATTACHMENT_LINK_CLASSES | _NOTICE_CLASSES | _HISTORY_CLASSES

# Flags of what to do when leaving an element.
_BLOCK, _ATOM, _SPACE, _LINK, _NOTICE, _ROW, _RUBY, _FOOTNOTE = 1, 2, 4, 8, 16, 32, 64, 128

# A footnote marker: govspeak's <sup id="fnref:3"><a class="footnote">[footnote 3]</a></sup>,
# older markup's bare "3", and other Markdown renderers' a.footnote-ref. Set in superscript
# it needs no space before it; as text it would run into the word ("Observations3").
_FOOTNOTE_LINK_CLASSES = frozenset({"footnote", "footnote-ref"})

# Ruby annotations (pronunciation) are not the text itself: BeautifulSoup gives the text in
# them string types of their own, which its readers and get_text() leave out.
_RUBY_TAGS = frozenset({"rt", "rp"})
# BeautifulSoup turns a string of nothing but these into " " (or "\n"), outside <pre>.
_ASCII_SPACES = " \n\t\x0c\r"
_PRESERVE_TAGS = frozenset({"pre", "textarea"})

_STATIC_SUFFIXES = (".css", ".js", ".mjs", ".map", ".ico", ".woff", ".woff2", ".ttf", ".eot")
_PARLIAMENT_DOCUMENT = re.compile(r"/publications/|/documents/|\.(pdf|docx?|odt|xlsx?|csv)$", re.I)
_LONG_DATE = re.compile(r"\b(\d{1,2} (?:January|February|March|April|May|June|July|August|"
                        r"September|October|November|December) \d{4})\b")  # fmt: skip
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# What lxml's HTML serialiser (libxml2 2.14) percent-encodes in an href: controls, space,
# DEL and every non-ASCII byte, after dropping leading blanks. The BeautifulSoup path read
# hrefs back from that serialisation, so item keys were these encoded URLs; the direct
# walk encodes the same way, so that the keys of stored snapshots still match.
_URI_UNSAFE = re.compile(r"[\x00-\x20\x7f-\U0010ffff]+")


def _percent_encode(match: re.Match) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogatepass"))


def _serialised_href(href: str) -> str:
    if href.isascii() and href.isprintable() and " " not in href:
        return href  # nothing to encode, no blanks to drop: the usual case, quickly
    href = href.lstrip(" \t\n\r")
    return _URI_UNSAFE.sub(_percent_encode, href)


def _long_date_to_iso(text: str) -> str | None:
    match = _LONG_DATE.search(text)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%d %B %Y").date().isoformat()
    except ValueError:
        return None


class _Reader:
    """One pass over a content tree, collecting blocks and items in reading order.

    The rules live here; the subclasses walk a tree of their kind (BeautifulSoup tags or
    lxml elements) and answer the few questions the rules ask of it (``_text``,
    ``_named``...).
    """

    def __init__(self, base: str, page_url: str):
        self.base = base
        self.page = urldefrag(page_url)[0]
        host = urlsplit(page_url).hostname or ""
        # Parliament pages link everywhere from their content (news, members, inquiries);
        # only their publications and documents are items worth following.
        self.parliament = host == "parliament.uk" or host.endswith(".parliament.uk")
        self.blocks: list[str] = []
        self.items: list[Item] = []
        self.h1: str | None = None
        self._buf: list[str] = []
        self._atomic = 0
        self._row = None
        self._cells = 0
        self._notice = False

    # what a subclass tells about its tree

    def _text(self, element) -> str:
        """All the element's text, its strings joined by spaces (BeautifulSoup's get_text(" "))."""
        raise NotImplementedError

    def _named(self, element, name: str):
        """The elements of that name below ``element``, in document order."""
        raise NotImplementedError

    def _classed(self, element, class_name: str, name: str | None = None):
        """The elements below ``element`` with that class (and name), in document order."""
        raise NotImplementedError

    @staticmethod
    def _name(element) -> str:
        raise NotImplementedError

    @staticmethod
    def _get(element, attribute: str) -> str | None:
        raise NotImplementedError

    @staticmethod
    def _parent(element):
        raise NotImplementedError

    @staticmethod
    def _skipped(element) -> bool:
        """Whether the reader leaves the element out (chrome)."""
        raise NotImplementedError

    # blocks

    def _flush(self) -> str | None:
        if not self._buf:
            return None
        text = "".join(self._buf)
        self._buf.clear()
        if _CELL in text:
            cells = [collapse(cell) for cell in text.split(_CELL)]
            text = " | ".join(cells) if any(cells) else ""
        else:
            text = collapse(text)
        if text:
            self.blocks.append(text)
            return text
        return None

    def _enter(self, element, name: str, classes) -> tuple[int, object]:
        """Start a non-chrome element; returns (-1, None) to skip it, else what to do on leaving."""
        flags = 0
        data: object = None
        if classes and not _ITEM_CLASSES.isdisjoint(classes):  # one test for most elements
            if not _ATTACHMENT_CLASSES.isdisjoint(classes):
                self._attachment(element)
                return -1, None
            if not _ATTACHMENT_LINK_CLASSES.isdisjoint(classes):
                self._inline_attachment(element)
            if not _HISTORY_CLASSES.isdisjoint(classes):
                self._change_notes(element)
            if not self._notice and not _NOTICE_CLASSES.isdisjoint(classes):
                self._flush()
                self._notice = True
                flags |= _NOTICE
                data = len(self.blocks)
        if self._atomic:
            if name == "br":
                self._buf.append(" ")
            elif (name == "td" or name == "th") and self._parent(element) is self._row:
                if self._cells:
                    self._buf.append(_CELL)
                self._cells += 1
            elif name in _CONTAINERS or name in _ATOMIC:
                # Two paragraphs in a table cell are still two runs of words.
                self._buf.append(" ")
                flags |= _SPACE
        elif name in _ATOMIC:
            if self._buf:
                self._flush()
            self._atomic += 1
            flags |= _ATOM
            if name == "tr":
                self._row, self._cells = element, 0
                flags |= _ROW
        elif name in _CONTAINERS:
            if self._buf:  # (most are empty: a block boundary was just before)
                self._flush()
            flags |= _BLOCK
        if (name == "a" or name == "sup") and self._footnote_marker(element, name, classes):
            buf = self._buf
            if buf and buf[-1] and not buf[-1][-1].isspace():
                buf.append(" ")
            flags |= _FOOTNOTE
            data = (len(buf), data)
        if name == "a":
            href = self._get(element, "href")
            if href:
                flags |= _LINK
                data = (href, len(self.blocks), len(self._buf), data)
        return flags, data

    def _leave(self, element, flags: int, data) -> None:
        if flags & _LINK:
            href, blocks_at, buf_at, data = data
            if len(self.blocks) == blocks_at:
                text = "".join(self._buf[buf_at:]).replace(_CELL, " ")
            else:  # the link held block elements (a card): rare, read it again
                text = self._text(element)
            self._link(href, collapse(text) or collapse(self._get(element, "aria-label") or ""))
        if flags & _FOOTNOTE:
            at, data = data
            marker = "".join(self._buf[at:]).strip()
            if marker.isdigit():  # a bare number would read as part of a figure: "12 3"
                self._buf[at:] = [f"[{marker}]"]
        if flags & _SPACE:
            self._buf.append(" ")
        if flags & _ATOM:
            self._atomic -= 1
            if flags & _ROW:
                self._row = None
            text = self._flush()
            if self._name(element) == "h1" and self.h1 is None and text:
                self.h1 = text
        if flags & _BLOCK and self._buf:
            self._flush()
        if flags & _NOTICE:
            self._flush()
            self._notice = False
            self._notice_item(self.blocks[data:])

    def _footnote_marker(self, element, name: str, classes) -> bool:
        if name == "sup":
            return (self._get(element, "id") or "").startswith("fnref") \
                or self._get(element, "role") == "doc-noteref"
        if classes and not _FOOTNOTE_LINK_CLASSES.isdisjoint(classes):
            return True
        rel = self._get(element, "rel")  # a list in BeautifulSoup, a string in lxml
        return "footnote" in (rel if isinstance(rel, list) else (rel or "").split())

    # items

    def _url(self, href: str) -> str | None:
        href = href.strip()
        if not href or href.startswith("#"):
            return None
        try:
            url = urldefrag(urljoin(self.base, href))[0]
            parts = urlsplit(url)
        except ValueError:  # e.g. "http://[oops/x": one broken link must not fail the page
            return None
        if parts.scheme not in ("http", "https") or url == self.page:
            return None
        return url

    def _link(self, href: str, title: str) -> None:
        url = self._url(href)
        if url is None:
            return
        path = urlsplit(url).path
        if path.lower().endswith(_STATIC_SUFFIXES):
            return  # stylesheets, scripts and fonts are not documents
        if self.parliament and not _PARLIAMENT_DOCUMENT.search(path):
            return
        self.items.append(Item(LINK, url, title=title, url=url))

    def _attachment(self, element) -> None:
        link = next(self._classed(element, "gem-c-attachment__link", "a"), None)
        if link is None:  # the thumbnail's link is aria-hidden: take the visible one
            link = next(
                (a for a in self._named(element, "a") if self._get(a, "href") is not None and not self._skipped(a)),
                None,
            )
        named = link if link is not None else next(self._classed(element, "gem-c-attachment__title"), None)
        title = collapse(self._text(named)) if named is not None else ""
        attributes = [collapse(self._text(e)) for e in self._classed(element, "gem-c-attachment__attribute")]
        note = ", ".join(a for a in attributes if a) or None
        url = self._url(self._get(link, "href") or "") if link is not None else None
        self._flush()
        for text in (title, note):
            if text:
                self.blocks.append(text)
        if url or title:
            self.items.append(Item(ATTACHMENT, url or title, title=title, url=url, note=note))

    def _inline_attachment(self, element) -> None:
        link = next((a for a in self._named(element, "a") if self._get(a, "href") is not None), None)
        if link is None:
            return
        url = self._url(self._get(link, "href"))
        if url is None:
            return
        attributes = [collapse(self._text(e)) for e in self._classed(element, "gem-c-attachment-link__attribute")]
        note = ", ".join(a for a in attributes if a) or None
        title = collapse(self._text(link))
        self.items.append(Item(ATTACHMENT, url, title=title, url=url, note=note))

    def _inside_chrome(self, element, container) -> bool:
        node = element
        while node is not None and node is not container:
            if self._skipped(node):
                return True
            node = self._parent(node)
        return False

    def _change_notes(self, container) -> None:
        for time in list(self._named(container, "time")):
            entry = time
            while entry is not container and self._name(entry) != "li":
                entry = self._parent(entry)
            if entry is container:
                parent = self._parent(time)
                entry = parent if parent is not container else None
            if entry is None or self._inside_chrome(time, container):
                continue
            stamp = self._get(time, "datetime") or ""
            match = _ISO_DATE.match(stamp.strip())
            time_text = self._text(time)
            date = match.group() if match else _long_date_to_iso(time_text)
            # The note is the entry's text around the time: a <p>, or bare text.
            note = collapse(self._text(entry).replace(time_text, " ", 1))
            if not note and not date:
                continue
            key = f"{date} {note}" if date else note
            self.items.append(Item(CHANGE_NOTE, key, title=note, date=date, note=note))

    def _notice_item(self, blocks: list[str]) -> None:
        text = " ".join(blocks)
        if not text:
            return
        lowered = text.lower()
        # One withdrawal per page: its identity must survive rewording of the notice.
        key = "withdrawn" if "withdrawn" in lowered else lowered
        self.items.append(Item(NOTICE, key, title=text, date=_long_date_to_iso(text)))


class _SoupReader(_Reader):
    """The reader over BeautifulSoup tags: for a selector's matches and whole-page fallbacks."""

    def read(self, root: Tag) -> None:
        from bs4 import NavigableString, Tag

        # The soup object itself is a Tag subclass with no element of its own to enter.
        stack: list = [root] if type(root) is Tag else list(reversed(root.contents))
        buf = self._buf
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is tuple:
                if node[1]:
                    self._leave(*node)
            elif kind is NavigableString:
                buf.append(node)
            elif kind is Tag:
                if _is_chrome(node):
                    continue
                flags, data = self._enter(node, node.name, node.attrs.get("class"))
                if flags >= 0:
                    stack.append((node, flags, data))
                    stack.extend(reversed(node.contents))
            # Comments, doctypes, CDATA and processing instructions are not text.
        self._flush()

    def _text(self, element: Tag) -> str:
        return element.get_text(" ")

    def _named(self, element: Tag, name: str):
        from bs4 import Tag

        return (d for d in element.descendants if isinstance(d, Tag) and d.name == name)

    def _classed(self, element: Tag, class_name: str, name: str | None = None):
        from bs4 import Tag

        return (
            d
            for d in element.descendants
            if isinstance(d, Tag) and (name is None or d.name == name) and class_name in (d.attrs.get("class") or ())
        )

    @staticmethod
    def _name(element: Tag) -> str:
        return element.name

    @staticmethod
    def _get(element: Tag, attribute: str) -> str | None:
        return element.attrs.get(attribute)

    @staticmethod
    def _parent(element: Tag):
        return element.parent

    @staticmethod
    def _skipped(element: Tag) -> bool:
        return _is_chrome(element)


class _TreeReader(_Reader):
    """The reader over an lxml tree, for the default path: one walk, no second tree.

    It reads the tree as if the chrome had been pruned from it first (as the selector
    path does): a chrome element is skipped and the text after it continues the text
    before it; whitespace-only text at the edges of block elements is dropped.
    """

    root = None

    def __init__(self, base: str, page_url: str):
        super().__init__(base, page_url)
        self._verdicts: dict = {}  # element -> _is_chrome_element(element)
        self._scanned: tuple | None = None  # (element, [(descendant, its class)])
        self._annotated: bool | None = None  # whether the content has rt, rp, pre or textarea

    def read(self, root) -> None:
        self.root = root
        if _skipped_element(root):
            return
        buf = self._buf
        enter, leave = self._enter, self._leave
        # (module constants as locals: the loop below runs for every element of the content)
        drop_tags, drop_classes, blocklike = _DROP_TAGS, _DROP_CLASSES, _BLOCKLIKE
        chrome_attributes = _CHROME_ATTRIBUTES
        ruby = 0  # inside rt/rp: text there is not read
        # Whether buf[-1] is text that the tail of a skipped chrome element continues: in
        # the pruned tree they were one string (it matters to a link's text offsets).
        joined = False
        stack: list = [root]
        pop = stack.pop
        while stack:
            node = pop()
            if type(node) is tuple:  # leaving an element with children
                element, flags, data = node
            else:
                tag = node.tag
                if type(tag) is not str:  # a comment or processing instruction: no text of its own
                    text = node.tail
                    joined = text is not None and not ruby
                    if joined:
                        buf.append(text)
                    continue
                # Chrome, as _is_chrome_element has it, with the classes kept for enter().
                classes = None
                if tag in drop_tags and (tag != "aside" or not _content_aside(node.get("class"))):
                    chrome = True
                else:
                    chrome = False
                    keys = node.keys()
                    if keys:
                        if "class" in keys:
                            value = node.get("class")
                            if value:
                                classes = value.split()
                                chrome = not drop_classes.isdisjoint(classes)
                        if not chrome and not chrome_attributes.isdisjoint(keys):
                            chrome = _chrome_by_attributes(node.get, None)
                    if not chrome and tag == "header":
                        chrome = node.find(".//h1") is None
                if chrome:
                    text = node.tail
                    if text is not None and not ruby:
                        if joined:
                            buf[-1] += text
                        else:
                            buf.append(text)
                            joined = True
                    continue
                if tag == "header" and not _keeps_h1(node):
                    flags, data = -1, None
                else:
                    flags, data = enter(node, tag, classes)
                if flags < 0:  # skipped, but still in the tree: its tail is text of its own
                    if node is root:
                        break  # the root's tail is not content
                    text = node.tail
                    joined = text is not None and not ruby and not (tag in blocklike and text.isspace())
                    if joined:
                        buf.append(text)
                    continue
                if tag in _RUBY_TAGS:
                    ruby += 1
                    flags |= _RUBY
                text = node.text
                joined = text is not None and not ruby
                if joined and tag in blocklike and node is not root and text.isspace():
                    joined = False
                if joined:
                    buf.append(text)
                children = node[:]
                if children:
                    stack.append((node, flags, data))
                    children.reverse()
                    stack += children
                    continue
                element = node  # a leaf (most elements are): leave it now, not via the stack
            if flags:
                if flags & _RUBY:
                    ruby -= 1
                leave(element, flags, data)
            joined = False
            if element is root:
                break  # the root's tail is not content
            text = element.tail
            if text is not None and not ruby and not (element.tag in blocklike and text.isspace()):
                buf.append(text)
                joined = True
        self._flush()

    def _text(self, element) -> str:
        # BeautifulSoup gives text in rt or rp a string type of its own (its kind here):
        # get_text() of an rt or rp element is its annotation, of any other the rest.
        root = self.root
        tag = element.tag
        kind = wanted = tag if tag in _RUBY_TAGS else None
        preserve = tag in _PRESERVE_TAGS
        # Only ancestors up to the root count. Usually the content has no such elements at
        # all, which lxml tells at once (no element has the name), once per page.
        if self._annotated is None:
            self._annotated = next(root.iter(*_RUBY_TAGS, *_PRESERVE_TAGS), None) is not None
        if self._annotated and element is not root:
            node = element.getparent()
            while node is not None:
                if kind is None and node.tag in _RUBY_TAGS:
                    kind = node.tag
                preserve = preserve or node.tag in _PRESERVE_TAGS
                if node is root:
                    break
                node = node.getparent()
        if len(element):
            return " ".join(string for string, of in self._strings(element, kind, preserve) if of == wanted)
        # A leaf (a link, a date, a label): its text is its one string.
        text = element.text
        if text is None or kind != wanted or (element is not root and tag in _BLOCKLIKE and text.isspace()):
            return ""
        return text if preserve or text.strip(_ASCII_SPACES) else "\n" if "\n" in text else " "

    def _strings(self, element, kind, preserve):
        """The element's strings as BeautifulSoup had them in the pruned tree.

        Each is a (string, kind) pair, kind being the rt or rp element it is in, if any.
        Text on either side of a pruned element is one string; whitespace-only text at
        the edges of blocks is gone; whitespace-only strings become " " or "\n" (outside
        <pre>), as BeautifulSoup makes them.
        """
        root = self.root
        stack: list = [(element, kind, preserve)]
        while stack:
            node, kind, preserve = stack.pop()
            if type(node) is str:
                if not preserve and not node.strip(_ASCII_SPACES):
                    node = "\n" if "\n" in node else " "
                yield node, kind
                continue
            tag = node.tag
            if tag in _RUBY_TAGS:
                kind = tag
            if tag in _PRESERVE_TAGS:
                preserve = True
            parts: list = []
            run = node.text
            if run is not None and node is not root and tag in _BLOCKLIKE and run.isspace():
                run = None
            for child in node:
                child_tag = child.tag
                markup = type(child_tag) is str
                if markup and self._chrome(child):
                    if child.tail:
                        run = (run or "") + child.tail
                    continue
                if run is not None:
                    parts.append((run, kind, preserve))
                if markup:
                    parts.append((child, kind, preserve))
                run = child.tail
                if run is not None and markup and child_tag in _BLOCKLIKE and run.isspace():
                    run = None
            if run is not None:
                parts.append((run, kind, preserve))
            parts.reverse()
            stack += parts

    # For the items (attachments, change notes): libxml2 finds the candidates, and those
    # in chrome, which the pruning would have removed with the chrome, are dropped by a
    # look at their few ancestors. The same few elements are asked about several times,
    # hence the memo of verdicts and the scan kept for the element last looked through.

    def _chrome(self, element) -> bool:
        verdict = self._verdicts.get(element)
        if verdict is None:
            verdict = self._verdicts[element] = _is_chrome_element(element)
        return verdict

    def _pruned(self, element, top) -> bool:
        """Whether the element is in chrome below ``top`` (itself included)."""
        while element is not top:
            if self._chrome(element):
                return True
            element = element.getparent()
        return False

    def _named(self, element, name: str):
        return (e for e in element.iterdescendants(name) if not self._pruned(e, element))

    def _classed(self, element, class_name: str, name: str | None = None):
        if self._scanned is None or self._scanned[0] is not element:
            self._scanned = (element, [(e, e.get("class")) for e in element.iterdescendants("*")])
        for e, value in self._scanned[1]:
            if (
                value
                and class_name in value
                and (name is None or e.tag == name)
                and class_name in value.split()
                and not self._pruned(e, element)
            ):
                yield e

    def _inside_chrome(self, element, container) -> bool:
        # Only for elements from _named(), which has dropped what the pruning removes: what
        # is left to find is a header that lost its h1 (kept by the pruning, not read).
        if next(element.iterancestors("header"), None) is None:
            return False
        while element is not container:
            if element.tag == "header" and not _keeps_h1(element):
                return True
            element = element.getparent()
        return False

    @staticmethod
    def _name(element) -> str:
        return element.tag

    @staticmethod
    def _get(element, attribute: str) -> str | None:
        value = element.get(attribute)
        if attribute == "href" and value:
            return _serialised_href(value)
        return value

    @staticmethod
    def _parent(element):
        return element.getparent()

    @staticmethod
    def _skipped(element) -> bool:
        return _skipped_element(element)


# --- the page -----------------------------------------------------------------------------

_TITLE_SUFFIX = re.compile(r"\s*[-–—|]\s*GOV\.UK\s*$")
_CONTENT_XPATH = lxml.etree.XPath("(//main[@id='content'] | //*[@id='main-content'] | //main)")
# libxml2 indexes id attributes as it parses (and <a name>, hence a look at the id of what
# it finds): id() finds the first element with an id at once, where a path expression
# tests every element of the page. GOV.UK's main#content is found so; other pages take the
# path expression.
_ID_CONTENT = lxml.etree.XPath("id('content')")
_RESOURCE_LIMIT = lxml.etree.ErrorTypes.ERR_RESOURCE_LIMIT
_local = threading.local()


def _lxml_parser() -> lxml.etree.HTMLParser:
    # lxml parsers keep state while parsing: one per thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = lxml.etree.HTMLParser(
            # huge_tree lets libxml2 nest 2048 deep instead of 255 before it gives up (and
            # the page takes the slow whole-page path).
            encoding="utf-8",
            remove_comments=True,
            remove_pis=True,
            no_network=True,
            huge_tree=True,
        )
    return parser


def _content_element(tree):
    """main#content, else #main-content, else a main, else the body (first of each)."""
    found = _ID_CONTENT(tree)
    if found and found[0].tag == "main" and found[0].get("id") == "content":
        return found[0]  # the first element with id "content" is the first main#content
    found = _CONTENT_XPATH(tree)
    if found:
        # Prefer main#content, then #main-content, then any main, whatever their order.
        return min(
            found,
            key=lambda e: (
                0 if e.tag == "main" and e.get("id") == "content" else 1 if e.get("id") == "main-content" else 2
            ),
        )
    content = tree.find("body")
    return tree if content is None else content


class _Page:
    """The parsed page: its content root, the base URL and the head's title.

    The root is an lxml element, or with ``soup`` (or when lxml gave up on the page) a
    BeautifulSoup tag, and then ``soup`` is true.
    """

    def __init__(self, html: str, url: str, *, soup: bool = False, whole: bool = False,
                 utf8: bytes | None = None):
        self.url = url
        self.base = url
        self.head_title = ""
        self.root = None
        self.soup = soup
        if not whole and self._cut(html, utf8):
            return
        self.soup = True
        from bs4 import BeautifulSoup

        soup_tree = BeautifulSoup(html, "lxml")
        base = soup_tree.find("base", href=True)
        if base is not None:
            self.base = _join_or(url, base["href"])
        title = next((t for t in soup_tree.find_all("title") if t.find_parent("svg") is None), None)
        if title is not None:
            self.head_title = title.get_text(" ")
        self.root = (
            soup_tree.find("main", id="content")
            or soup_tree.find(id="main-content")
            or soup_tree.find("main")
            or soup_tree.body
            or soup_tree
        )

    def _cut(self, html: str, utf8: bytes | None) -> bool:
        # lxml parses bytes: the page's own when they are the text in UTF-8 (encoding a
        # 50 KB page again cost 0.1 ms, as much as a tenth of the reader's walk).
        body = utf8 if utf8 is not None else html.encode("utf-8", "surrogatepass")
        parser = _lxml_parser()
        try:
            tree = lxml.etree.fromstring(body, parser)
        except (lxml.etree.LxmlError, ValueError):
            return False
        if tree is None:
            return False
        if any(error.type == _RESOURCE_LIMIT for error in parser.error_log):
            return False  # libxml2 cut the tree short (nesting beyond 2048): read it all
        content = _content_element(tree)
        # The first <base href> anywhere counts. (When no element is named "base", lxml
        # knows it from the document's name dictionary and returns at once.)
        for base in tree.iter("base"):
            href = base.get("href")
            if href is not None:
                self.base = _join_or(self.url, href)
                break
        # The first title outside an svg with any text (it is in the head: a short walk).
        for title in tree.iter("title"):
            if next(title.iterancestors("svg"), None) is None:
                self.head_title = "".join(title.itertext())
                if self.head_title:
                    break
        if not self.soup:
            self.root = content
            return True
        # For a selector: soupsieve needs a BeautifulSoup tree. The chrome goes before
        # BeautifulSoup sees the markup, as building its tree is the costly step.
        _prune_element(content)
        markup = lxml.etree.tostring(content, method="html", encoding="unicode", with_tail=False)
        from bs4 import BeautifulSoup

        soup_tree = BeautifulSoup(markup, "lxml")
        self.root = soup_tree.body or soup_tree
        return True

    def title(self, h1: str | None) -> str:
        if h1:
            return h1
        return collapse(_TITLE_SUFFIX.sub("", collapse(self.head_title)))


def _outermost(tags: list[Tag]) -> list[Tag]:
    chosen = {id(t) for t in tags}
    return [t for t in tags if not any(id(p) in chosen for p in t.parents)]


def _select(page: _Page, selector: str) -> list[Tag]:
    from soupsieve import SelectorSyntaxError

    assert page.root is not None
    _strip_chrome(page.root)
    try:
        return page.root.select(selector)
    except (SelectorSyntaxError, ValueError, NotImplementedError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExtractError(f"invalid selector {selector!r}: {reason}") from exc


def extract_page(body: bytes, charset: str | None, *, url: str, selector: str | None = None) -> Document:
    """``extract_html`` of a response body as ``decode_html`` reads it."""
    html, exact = _decode(body, charset)
    return extract_html(html, url=url, selector=selector, utf8=body if exact else None)


def extract_html(html: str, *, url: str, selector: str | None = None, utf8: bytes | None = None) -> Document:
    """The Document of an HTML page: title, text blocks and items, without chrome.

    ``selector`` (CSS) narrows the content to the elements it matches; matching nothing
    raises ExtractError, as does a page without any text. ``utf8``, when given, is
    ``html`` encoded as UTF-8 (the response's own bytes), which saves encoding it again.
    """
    if selector is None:
        page = _Page(html, url, utf8=utf8)
        reader: _Reader = _SoupReader(page.base, url) if page.soup else _TreeReader(page.base, url)
        reader.read(page.root)
        title = page.title(reader.h1)
    else:
        page = _Page(html, url, soup=True)
        matches = _select(page, selector)
        if not matches:
            # The selector may name ancestors of the content element (".govuk-width-container
            # main p"), which the cut-down tree does not have: try again on the whole page.
            page = _Page(html, url, whole=True)
            matches = _select(page, selector)
        if not matches:
            raise ExtractError(f"selector {selector!r} matched nothing on the page")
        heading = page.root.find("h1")
        title = page.title(collapse(heading.get_text(" ")) if heading is not None else None)
        reader = _SoupReader(page.base, url)
        for tag in _outermost(matches):
            reader.read(tag)
        if not reader.blocks:
            raise ExtractError(f"selector {selector!r} matched only elements without text")
    if not reader.blocks:
        raise ExtractError("the page has no text content")
    # An attachment's own link is the attachment, not another document.
    attachments = {item.key for item in reader.items if item.kind == ATTACHMENT}
    items = [i for i in reader.items if not (i.kind == LINK and i.key in attachments)]
    return Document(title=title, blocks=tuple(reader.blocks), items=tuple(items))
