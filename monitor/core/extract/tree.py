"""Parsing a page into one lxml tree, and what the reading needs from the whole page.

libxml2's HTML parser reads the page (as browsers would recover broken markup). Its tree
gives the content element (``sites.content_element``), the first usable ``<base href>``
and the head's title. libxml2 stops building a tree nested beyond 2,048 elements (its
limit even with ``huge_tree``); such a page is parsed again through lxml's parser-target
interface into an lxml ``TreeBuilder``, which has no such limit, so that the rest of the
reading is the same whatever the page's depth.
"""

from __future__ import annotations

import threading
from typing import TypedDict
from urllib.parse import urljoin

import lxml.etree

from monitor.core.extract import sites
from monitor.core.extract.text import collapse

_RESOURCE_LIMIT = lxml.etree.ErrorTypes.ERR_RESOURCE_LIMIT


class _ParserOptions(TypedDict):
    encoding: str
    remove_comments: bool
    remove_pis: bool
    no_network: bool
    huge_tree: bool


_OPTIONS: _ParserOptions = dict(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True,
                                huge_tree=True)
_local = threading.local()


def _parser() -> lxml.etree.HTMLParser:
    # lxml parsers keep state while parsing: one per thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = lxml.etree.HTMLParser(**_OPTIONS)
    return parser


def _parse(body: bytes):
    """The page's root element, or None when libxml2 finds no document in it."""
    parser = _parser()
    try:
        tree = lxml.etree.fromstring(body, parser)
    except (lxml.etree.LxmlError, ValueError):
        return None
    if tree is not None and any(error.type == _RESOURCE_LIMIT for error in parser.error_log):
        # Nested too deep for libxml2's own tree: its SAX events build the whole tree.
        deep = lxml.etree.HTMLParser(target=lxml.etree.TreeBuilder(), **_OPTIONS)
        try:
            tree = lxml.etree.fromstring(body, deep)
        except (lxml.etree.LxmlError, ValueError):
            return None
    return tree


def _join_or(url: str, href: str) -> str:
    """``<base href>`` resolved against the page, or the page itself when it is unusable."""
    try:
        return urljoin(url, href.strip())
    except ValueError:
        return url


class Page:
    """A parsed page: its content element (``root``), the base URL of its links and its
    head's title. ``utf8``, when given, is ``html`` in UTF-8 (the response's own bytes)."""

    def __init__(self, html: str, url: str, utf8: bytes | None = None):
        self.base = url
        self.head_title = ""
        # lxml parses bytes: the page's own when they are the text in UTF-8.
        tree = _parse(utf8 if utf8 is not None else html.encode("utf-8", "surrogatepass"))
        if tree is None:
            tree = lxml.etree.fromstring("<html><body></body></html>", _parser())
        self.root = sites.content_element(tree)
        # The first <base href> anywhere counts. (When no element is named "base", lxml
        # knows it from the document's name dictionary and returns at once.)
        for base in tree.iter("base"):
            href = base.get("href")
            if href is not None:
                self.base = _join_or(url, href)
                break
        # The first title outside an svg with any text (it is in the head: a short walk).
        for title in tree.iter("title"):
            if next(title.iterancestors("svg"), None) is None:
                self.head_title = "".join(title.itertext())
                if self.head_title:
                    break

    def title(self, h1: str | None) -> str:
        """The content's h1, else the head's title without GOV.UK's " - GOV.UK"."""
        if h1:
            return h1
        return collapse(sites.TITLE_SUFFIX.sub("", collapse(self.head_title)))
