"""Reading a content tree in order: text blocks, links and the other items.

One walk over the lxml elements, in document order, skipping chrome as it goes. Block
elements (paragraphs, headings, list items, table rows...) end a block and start the
next; an atomic block (a paragraph, a heading, a row) is one block whatever it holds, and
a row's cells are joined with " | ". Links with an http(s) URL are items, and so are the
site components ``sites`` knows (attachments, change notes, notices).

The text of a block is the text of its elements as they stand once the chrome is gone:
the text after a skipped element continues the text before it (``SEND<span hidden> x
</span>policy`` reads "SENDpolicy"), whitespace-only text at the edges of block elements
is the markup's indentation, not a space in the text, and ruby annotations (``rt``,
``rp``: pronunciation) are not the text itself. An ``href`` is percent-encoded as a URL
(controls, spaces and non-ASCII characters), so that an item's key is the same URL however
the page spells it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urldefrag, urljoin, urlsplit

from monitor.core.document import LINK, Item
from monitor.core.extract import chrome, sites
from monitor.core.extract.text import collapse

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

# Flags of what to do when leaving an element.
_BLOCK, _ATOM, _SPACE, _LINK, _NOTICE, _ROW, _RUBY, _FOOTNOTE = 1, 2, 4, 8, 16, 32, 64, 128

# A footnote marker: govspeak's <sup id="fnref:3"><a class="footnote">[footnote 3]</a></sup>,
# older markup's bare "3", and other Markdown renderers' a.footnote-ref. Set in superscript
# it needs no space before it; as text it would run into the word ("Observations3").
_FOOTNOTE_LINK_CLASSES = frozenset({"footnote", "footnote-ref"})

# Ruby annotations (pronunciation) are not the text itself.
_RUBY_TAGS = frozenset({"rt", "rp"})
# Whitespace-only text reads as one " " (or "\n" when it has a line break), except in
# these, whose whitespace is the text's own.
_ASCII_SPACES = " \n\t\x0c\r"
_PRESERVE_TAGS = frozenset({"pre", "textarea"})

_STATIC_SUFFIXES = (".css", ".js", ".mjs", ".map", ".ico", ".woff", ".woff2", ".ttf", ".eot")

# Percent-encoded in an href: controls, space, DEL and every non-ASCII character (after the
# leading blanks are dropped).
_URI_UNSAFE = re.compile(r"[\x00-\x20\x7f-\U0010ffff]+")


def _percent_encode(match: re.Match) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogatepass"))


def encoded_href(href: str) -> str:
    if href.isascii() and href.isprintable() and " " not in href:
        return href  # nothing to encode, no blanks to drop: the usual case, quickly
    href = href.lstrip(" \t\n\r")
    return _URI_UNSAFE.sub(_percent_encode, href)


class Reader:
    """Collects the blocks and items of the content element ``root``, or of parts of it.

    ``read`` takes the root itself, or (for a selector) elements inside it, outermost
    first; ``h1`` is the first h1 read with text.
    """

    def __init__(self, base: str, page_url: str, root):
        self.base = base
        self.root = root
        self.page = urldefrag(page_url)[0]
        self.parliament = sites.is_parliament(urlsplit(page_url).hostname or "")
        self.blocks: list[str] = []
        self.items: list[Item] = []
        self.h1: str | None = None
        self._buf: list[str] = []
        self._atomic = 0
        self._row = None
        self._cells = 0
        self._notice = False
        self._verdicts: dict = {}  # element -> chrome.is_chrome(element)
        self._scanned: tuple | None = None  # (element, [(descendant, its class)])
        self._annotated: bool | None = None  # whether the content has rt, rp, pre or textarea

    # --- the walk ------------------------------------------------------------------------------

    def read(self, top) -> None:
        """Read ``top`` (the root or an element inside it) and what it holds, not its tail."""
        if chrome.skipped(top):
            return
        root = self.root
        buf = self._buf
        enter, leave, classify = self._enter, self._leave, chrome.classify
        blocklike = _BLOCKLIKE  # (a local: the loop below runs for every element of the content)
        ruby = self._ruby_around(top)  # inside rt/rp: text there is not read
        # Whether buf[-1] is text that the tail of a skipped element continues (it matters
        # to a link's text offsets).
        joined = False
        stack: list = [top]
        pop = stack.pop
        while stack:
            node = pop()
            if type(node) is tuple:  # leaving an element with children
                element, flags, data = node
            else:
                tag = node.tag
                if type(tag) is not str:  # not an element (an entity, say): no text of its own
                    text = node.tail
                    joined = text is not None and not ruby
                    if joined:
                        buf.append(text)
                    continue
                skip, classes = classify(node)
                if not skip and tag == "header":
                    skip = node.find(".//h1") is None
                if skip:
                    text = node.tail
                    if text is not None and not ruby:
                        if joined:
                            buf[-1] += text
                        else:
                            buf.append(text)
                            joined = True
                    continue
                if tag == "header" and not chrome.keeps_h1(node):
                    flags, data = -1, None
                else:
                    flags, data = enter(node, tag, classes)
                if flags < 0:  # left out, but not chrome: its tail is text of its own
                    if node is top:
                        break
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
            if element is top:
                break  # the tail of what is read is not part of it
            text = element.tail
            if text is not None and not ruby and not (element.tag in blocklike and text.isspace()):
                buf.append(text)
                joined = True
        self.flush()

    def _ruby_around(self, top) -> int:
        if top is self.root or not self._has_annotations():
            return 0
        return sum(1 for node in self._ancestors(top) if node.tag in _RUBY_TAGS)

    def _ancestors(self, element):
        """The element's ancestors up to the root (included)."""
        root = self.root
        while element is not root:
            element = element.getparent()
            if element is None:
                return
            yield element

    def _has_annotations(self) -> bool:
        # Usually the content has no rt, rp, pre or textarea at all, which lxml tells at
        # once (no element has the name), once per page.
        if self._annotated is None:
            self._annotated = next(self.root.iter(*_RUBY_TAGS, *_PRESERVE_TAGS), None) is not None
        return self._annotated

    # --- blocks --------------------------------------------------------------------------------

    def flush(self) -> str | None:
        """End the current block: its text (cells joined by " | ") joins the blocks."""
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
        if classes and not sites.ITEM_CLASSES.isdisjoint(classes):  # one test for most elements
            if not sites.ATTACHMENT_CLASSES.isdisjoint(classes):
                sites.attachment(self, element)
                return -1, None
            if not sites.ATTACHMENT_LINK_CLASSES.isdisjoint(classes):
                sites.inline_attachment(self, element)
            if not sites.HISTORY_CLASSES.isdisjoint(classes):
                sites.change_notes(self, element)
            if not self._notice and not sites.NOTICE_CLASSES.isdisjoint(classes):
                self.flush()
                self._notice = True
                flags |= _NOTICE
                data = len(self.blocks)
        if self._atomic:
            if name == "br":
                self._buf.append(" ")
            elif (name == "td" or name == "th") and element.getparent() is self._row:
                if self._cells:
                    self._buf.append(_CELL)
                self._cells += 1
            elif name in _CONTAINERS or name in _ATOMIC:
                # Two paragraphs in a table cell are still two runs of words.
                self._buf.append(" ")
                flags |= _SPACE
        elif name in _ATOMIC:
            if self._buf:
                self.flush()
            self._atomic += 1
            flags |= _ATOM
            if name == "tr":
                self._row, self._cells = element, 0
                flags |= _ROW
        elif name in _CONTAINERS:
            if self._buf:  # (most are empty: a block boundary was just before)
                self.flush()
            flags |= _BLOCK
        if (name == "a" or name == "sup") and self._footnote_marker(element, name, classes):
            buf = self._buf
            if buf and buf[-1] and not buf[-1][-1].isspace():
                buf.append(" ")
            flags |= _FOOTNOTE
            data = (len(buf), data)
        if name == "a":
            href = self.href(element)
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
                text = self.text(element)
            self._link(href, collapse(text) or collapse(element.get("aria-label") or ""))
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
            block = self.flush()
            if element.tag == "h1" and self.h1 is None and block:
                self.h1 = block
        if flags & _BLOCK and self._buf:
            self.flush()
        if flags & _NOTICE:
            self.flush()
            self._notice = False
            item = sites.notice(self.blocks[data:])
            if item is not None:
                self.items.append(item)

    @staticmethod
    def _footnote_marker(element, name: str, classes) -> bool:
        if name == "sup":
            return (element.get("id") or "").startswith("fnref") or element.get("role") == "doc-noteref"
        if classes and not _FOOTNOTE_LINK_CLASSES.isdisjoint(classes):
            return True
        return "footnote" in (element.get("rel") or "").split()

    # --- links ---------------------------------------------------------------------------------

    @staticmethod
    def href(element) -> str | None:
        value = element.get("href")
        return encoded_href(value) if value else value

    def url(self, href: str) -> str | None:
        """The absolute http(s) URL of a link, without its fragment; None for the page itself."""
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
        url = self.url(href)
        if url is None:
            return
        path = urlsplit(url).path
        if path.lower().endswith(_STATIC_SUFFIXES):
            return  # stylesheets, scripts and fonts are not documents
        if self.parliament and not sites.parliament_document(path):
            return
        self.items.append(Item(LINK, url, title=title, url=url))

    # --- what the site readers ask -------------------------------------------------------------

    def text(self, element) -> str:
        """All the element's text outside chrome, its strings joined by spaces.

        The text inside an rt or rp element is the annotation's, read only from that
        element; whitespace-only strings read as " " or "\\n" outside pre and textarea.
        """
        root = self.root
        tag = element.tag
        kind = wanted = tag if tag in _RUBY_TAGS else None
        preserve = tag in _PRESERVE_TAGS
        if element is not root and self._has_annotations():
            for node in self._ancestors(element):
                if kind is None and node.tag in _RUBY_TAGS:
                    kind = node.tag
                preserve = preserve or node.tag in _PRESERVE_TAGS
        if len(element):
            return " ".join(string for string, of in self._strings(element, kind, preserve) if of == wanted)
        # A leaf (a link, a date, a label): its text is its one string.
        text = element.text
        if text is None or kind != wanted or (element is not root and tag in _BLOCKLIKE and text.isspace()):
            return ""
        return text if preserve or text.strip(_ASCII_SPACES) else "\n" if "\n" in text else " "

    def _strings(self, element, kind: str | None, preserve: bool) -> Iterator[tuple[str, str | None]]:
        """The element's strings, each a (string, kind) pair, kind being the rt or rp
        element it is in, if any.

        Text on either side of a chrome element is one string; whitespace-only text at the
        edges of blocks is dropped; other whitespace-only strings become " " or "\\n"
        (outside pre and textarea).
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

    # libxml2 finds the candidates, and those in chrome are dropped by a look at their few
    # ancestors. The same few elements are asked about several times, hence the memo of
    # verdicts and the scan kept for the element last looked through.

    def _chrome(self, element) -> bool:
        verdict = self._verdicts.get(element)
        if verdict is None:
            verdict = self._verdicts[element] = chrome.is_chrome(element)
        return verdict

    def in_chrome(self, element, top=None) -> bool:
        """Whether the element is in chrome below ``top`` (the root by default), itself included."""
        top = self.root if top is None else top
        while element is not top:
            if element is None:
                return True  # not below top at all
            if self._chrome(element):
                return True
            element = element.getparent()
        return False

    def picked(self, element) -> bool:
        """Whether a selector's match is content: in the root (or the root itself), and
        neither it nor what holds it is chrome."""
        return not self.in_chrome(element) and not (element is self.root and self._chrome(element))

    def named(self, element, name: str):
        """The elements of that name below ``element`` and outside chrome, in document order."""
        return (e for e in element.iterdescendants(name) if not self.in_chrome(e, element))

    def classed(self, element, class_name: str, name: str | None = None):
        """The elements with that class (and name) below ``element`` and outside chrome."""
        if self._scanned is None or self._scanned[0] is not element:
            self._scanned = (element, [(e, e.get("class")) for e in element.iterdescendants("*")])
        for e, value in self._scanned[1]:
            if (
                value
                and class_name in value
                and (name is None or e.tag == name)
                and class_name in value.split()
                and not self.in_chrome(e, element)
            ):
                yield e

    def in_skipped_header(self, element, container) -> bool:
        """Whether an element found by ``named`` is in a header whose h1 is all in chrome."""
        if next(element.iterancestors("header"), None) is None:
            return False
        while element is not container:
            if element.tag == "header" and not chrome.keeps_h1(element):
                return True
            element = element.getparent()
        return False

    @staticmethod
    def skipped(element) -> bool:
        return chrome.skipped(element)

    def first_h1(self) -> str | None:
        """The text of the first h1 of the root outside chrome (a selector's page title)."""
        for h1 in self.root.iterdescendants("h1"):
            if not self.in_chrome(h1):
                return collapse(self.text(h1))
        return None
