"""From an HTML page to a Document: the content a person reads, without the template.

Everything here is pure (no I/O). ``decode_html`` turns response bytes into text whatever
the server claimed; ``extract_html`` keeps the title, the readable text blocks and the
items (attachments, document links, change notes, notices) and drops site chrome and
per-response noise, so that two fetches of unchanged content give equal Documents.

GOV.UK and Parliament pages put their content in ``main`` (``main#content`` on GOV.UK,
``#main-content`` on some Parliament sites). Building a BeautifulSoup tree costs far more
than lxml's C parser, and on GOV.UK most of a page's markup is menus and footer, so lxml
finds the content element (else the body), prunes the chrome inside it, and only what is
left is handed to BeautifulSoup.
"""

from __future__ import annotations

import codecs
import re
import threading
import unicodedata
from datetime import datetime
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree
from bs4 import BeautifulSoup, NavigableString, Tag
from soupsieve import SelectorSyntaxError

from monitor.document import ATTACHMENT, CHANGE_NOTE, LINK, NOTICE, Document, Item
from monitor.errors import ExtractError

__all__ = ["collapse", "decode_html", "extract_html"]

# --- text --------------------------------------------------------------------------------

# Invisible characters that editors and CMSs sprinkle into text; they would make equal
# text compare unequal. (nbsp and other Unicode spaces are handled by str.split.)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def collapse(text: str) -> str:
    """Whitespace runs (nbsp included) to one space, invisible characters removed, NFC."""
    text = " ".join(text.translate(_INVISIBLE).split())
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
    accident, while Content-Type headers often lie); the header charset if it decodes
    strictly; a ``<meta>`` charset in the first 2 KB; windows-1252 with replacement.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace")
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
                return decoded
        return text
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
_DROP_IDS = frozenset(
    {"global-cookie-message", "cookie-banner", "global-bar", "skiplink-container",
     "global-header", "global-breadcrumb", "footer", "user-satisfaction-survey-container"}
)  # fmt: skip
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})


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
    if name in _DROP_TAGS:
        return True
    attrs = tag.attrs
    if attrs and _chrome_by_attributes(attrs.get, attrs.get("class")):
        return True
    # A page header holding the h1 is content (e.g. a publication's title block); the
    # site header never holds an h1.
    return name == "header" and tag.find("h1") is None


def _is_chrome_element(element) -> bool:
    """``_is_chrome`` for an lxml element."""
    name = element.tag
    if name in _DROP_TAGS:
        return True
    attrib = element.attrib
    if attrib:
        classes = attrib.get("class")
        if _chrome_by_attributes(attrib.get, classes.split() if classes else None):
            return True
    return name == "header" and element.find(".//h1") is None


def _prune_element(root) -> None:
    """Remove chrome from an lxml tree, keeping the text that follows each removed part.

    Also drops whitespace-only text at the edges of block elements (the indentation of
    the markup): a block boundary swallows it anyway, and each such text would cost a
    BeautifulSoup node.
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


def _inside_chrome(tag: Tag, container: Tag) -> bool:
    node = tag
    while node is not None and node is not container:
        if _is_chrome(node):
            return True
        node = node.parent
    return False


def _strip_chrome(root: Tag) -> None:
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

# Flags of what to do when leaving an element.
_BLOCK, _ATOM, _SPACE, _LINK, _NOTICE, _ROW = 1, 2, 4, 8, 16, 32

_STATIC_SUFFIXES = (".css", ".js", ".mjs", ".map", ".ico", ".woff", ".woff2", ".ttf", ".eot")
_PARLIAMENT_DOCUMENT = re.compile(r"/publications/|/documents/|\.(pdf|docx?|odt|xlsx?|csv)$", re.I)
_LONG_DATE = re.compile(r"\b(\d{1,2} (?:January|February|March|April|May|June|July|August|"
                        r"September|October|November|December) \d{4})\b")  # fmt: skip
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _long_date_to_iso(text: str) -> str | None:
    match = _LONG_DATE.search(text)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%d %B %Y").date().isoformat()
    except ValueError:
        return None


class _Reader:
    """One pass over a content tree, collecting blocks and items in reading order."""

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
        self._row: Tag | None = None
        self._cells = 0
        self._notice = False

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

    def read(self, root: Tag) -> None:
        # The soup object itself is a Tag subclass with no element of its own to enter.
        stack: list = [root] if type(root) is Tag else list(reversed(root.contents))
        buf = self._buf
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is tuple:
                self._leave(*node)
            elif kind is NavigableString:
                buf.append(node)
            elif kind is Tag:
                flags, data = self._enter(node)
                if flags >= 0:
                    stack.append((node, flags, data))
                    stack.extend(reversed(node.contents))
            # Comments, doctypes, CDATA and processing instructions are not text.
        self._flush()

    def _enter(self, tag: Tag) -> tuple[int, object]:
        """Start an element; returns (-1, None) to skip it, else what to do on leaving."""
        if _is_chrome(tag):
            return -1, None
        name = tag.name
        classes = tag.attrs.get("class") or ()
        flags = 0
        data: object = None
        if classes:
            if not _ATTACHMENT_CLASSES.isdisjoint(classes):
                self._attachment(tag)
                return -1, None
            if not _ATTACHMENT_LINK_CLASSES.isdisjoint(classes):
                self._inline_attachment(tag)
            if not _HISTORY_CLASSES.isdisjoint(classes):
                self._change_notes(tag)
            if not self._notice and not _NOTICE_CLASSES.isdisjoint(classes):
                self._flush()
                self._notice = True
                flags |= _NOTICE
                data = len(self.blocks)
        if self._atomic:
            if name == "br":
                self._buf.append(" ")
            elif (name == "td" or name == "th") and tag.parent is self._row:
                if self._cells:
                    self._buf.append(_CELL)
                self._cells += 1
            elif name in _CONTAINERS or name in _ATOMIC:
                # Two paragraphs in a table cell are still two runs of words.
                self._buf.append(" ")
                flags |= _SPACE
        elif name in _ATOMIC:
            self._flush()
            self._atomic += 1
            flags |= _ATOM
            if name == "tr":
                self._row, self._cells = tag, 0
                flags |= _ROW
        elif name in _CONTAINERS:
            self._flush()
            flags |= _BLOCK
        if name == "a":
            href = tag.attrs.get("href")
            if href:
                flags |= _LINK
                data = (href, len(self.blocks), len(self._buf), data)
        return flags, data

    def _leave(self, tag: Tag, flags: int, data) -> None:
        if not flags:
            return
        if flags & _LINK:
            href, blocks_at, buf_at, data = data
            if len(self.blocks) == blocks_at:
                text = "".join(self._buf[buf_at:]).replace(_CELL, " ")
            else:  # the link held block elements (a card): rare, read it again
                text = tag.get_text(" ")
            self._link(href, collapse(text) or collapse(tag.attrs.get("aria-label", "")))
        if flags & _SPACE:
            self._buf.append(" ")
        if flags & _ATOM:
            self._atomic -= 1
            if flags & _ROW:
                self._row = None
            text = self._flush()
            if tag.name == "h1" and self.h1 is None and text:
                self.h1 = text
        if flags & _BLOCK:
            self._flush()
        if flags & _NOTICE:
            self._flush()
            self._notice = False
            self._notice_item(self.blocks[data:])

    # items

    def _url(self, href: str) -> str | None:
        href = href.strip()
        if not href or href.startswith("#"):
            return None
        url = urldefrag(urljoin(self.base, href))[0]
        parts = urlsplit(url)
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

    def _attachment(self, tag: Tag) -> None:
        link = tag.find("a", class_="gem-c-attachment__link")
        if link is None:  # the thumbnail's link is aria-hidden: take the visible one
            link = next((a for a in tag.find_all("a", href=True) if not _is_chrome(a)), None)
        named = link if link is not None else tag.find(class_="gem-c-attachment__title")
        title = collapse(named.get_text(" ")) if named is not None else ""
        attributes = [collapse(span.get_text(" ")) for span in tag.find_all(class_="gem-c-attachment__attribute")]
        note = ", ".join(a for a in attributes if a) or None
        url = self._url(link.get("href", "")) if link is not None else None
        self._flush()
        for text in (title, note):
            if text:
                self.blocks.append(text)
        if url or title:
            self.items.append(Item(ATTACHMENT, url or title, title=title, url=url, note=note))

    def _inline_attachment(self, tag: Tag) -> None:
        link = tag.find("a", href=True)
        if link is None:
            return
        url = self._url(link["href"])
        if url is None:
            return
        attributes = [collapse(span.get_text(" ")) for span in tag.find_all(class_="gem-c-attachment-link__attribute")]
        note = ", ".join(a for a in attributes if a) or None
        title = collapse(link.get_text(" "))
        self.items.append(Item(ATTACHMENT, url, title=title, url=url, note=note))

    def _change_notes(self, container: Tag) -> None:
        for time in container.find_all("time"):
            entry = time
            while entry is not container and entry.name != "li":
                entry = entry.parent
            if entry is container:
                entry = time.parent if time.parent is not container else None
            if entry is None or _inside_chrome(time, container):
                continue
            stamp = time.get("datetime") or ""
            match = _ISO_DATE.match(stamp.strip())
            date = match.group() if match else _long_date_to_iso(time.get_text(" "))
            # The note is the entry's text around the time: a <p>, or bare text.
            note = collapse(entry.get_text(" ").replace(time.get_text(" "), " ", 1))
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


# --- the page -----------------------------------------------------------------------------

_TITLE_SUFFIX = re.compile(r"\s*[-–—|]\s*GOV\.UK\s*$")
_CONTENT_XPATH = lxml.etree.XPath("(//main[@id='content'] | //*[@id='main-content'] | //main)")
_HEAD_XPATH = lxml.etree.XPath("//title[not(ancestor::svg)] | //base[@href]")
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


class _Page:
    """The parsed page: the content root as a BeautifulSoup tag, the base URL, the title."""

    def __init__(self, html: str, url: str, *, whole: bool = False):
        self.url = url
        self.base = url
        self.head_title = ""
        self.root: Tag | None = None
        if not whole and self._cut(html):
            return
        soup = BeautifulSoup(html, "lxml")
        base = soup.find("base", href=True)
        if base is not None:
            self.base = urljoin(url, base["href"].strip())
        title = next((t for t in soup.find_all("title") if t.find_parent("svg") is None), None)
        if title is not None:
            self.head_title = title.get_text(" ")
        self.root = (
            soup.find("main", id="content") or soup.find(id="main-content") or soup.find("main") or soup.body or soup
        )

    def _cut(self, html: str) -> bool:
        parser = _lxml_parser()
        try:
            tree = lxml.etree.fromstring(html.encode("utf-8", "surrogatepass"), parser)
        except (lxml.etree.LxmlError, ValueError):
            return False
        if tree is None:
            return False
        if any(error.type == _RESOURCE_LIMIT for error in parser.error_log):
            return False  # libxml2 cut the tree short (nesting beyond 2048): read it all
        found = _CONTENT_XPATH(tree)
        if found:
            # Prefer main#content, then #main-content, then any main, whatever their order.
            content = min(
                found,
                key=lambda e: (
                    0 if e.tag == "main" and e.get("id") == "content" else 1 if e.get("id") == "main-content" else 2
                ),
            )
        else:
            content = tree.find("body")
            if content is None:
                content = tree
        base_seen = False
        for element in _HEAD_XPATH(tree):
            if element.tag == "base":
                if not base_seen:  # only the first <base> counts
                    base_seen = True
                    self.base = urljoin(self.url, element.get("href").strip())
            elif not self.head_title:
                self.head_title = "".join(element.itertext())
        # Chrome goes before BeautifulSoup sees the markup: building its tree is the
        # costly step, and the sidebar, share links and forms are a good part of main.
        _prune_element(content)
        markup = lxml.etree.tostring(content, method="html", encoding="unicode", with_tail=False)
        soup = BeautifulSoup(markup, "lxml")
        self.root = soup.body or soup
        return True

    def title(self, h1: str | None) -> str:
        if h1:
            return h1
        return collapse(_TITLE_SUFFIX.sub("", collapse(self.head_title)))


def _outermost(tags: list[Tag]) -> list[Tag]:
    chosen = {id(t) for t in tags}
    return [t for t in tags if not any(id(p) in chosen for p in t.parents)]


def _select(page: _Page, selector: str) -> list[Tag]:
    assert page.root is not None
    _strip_chrome(page.root)
    try:
        return page.root.select(selector)
    except (SelectorSyntaxError, ValueError, NotImplementedError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExtractError(f"invalid selector {selector!r}: {reason}") from exc


def extract_html(html: str, *, url: str, selector: str | None = None) -> Document:
    """The Document of an HTML page: title, text blocks and items, without chrome.

    ``selector`` (CSS) narrows the content to the elements it matches; matching nothing
    raises ExtractError, as does a page without any text.
    """
    page = _Page(html, url)
    assert page.root is not None
    if selector is None:
        reader = _Reader(page.base, url)
        reader.read(page.root)
        title = page.title(reader.h1)
    else:
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
        reader = _Reader(page.base, url)
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
