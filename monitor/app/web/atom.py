"""Atom 1.0 feeds of developments (RFC 4287), built with ElementTree so that every piece of
text from a watched page is escaped by the serialiser, never pasted into markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.app.web.present import xml_text
from monitor.core.instants import iso

ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("", ATOM)


@dataclass(frozen=True, slots=True)
class Entry:
    id: str  # a permanent IRI
    title: str
    updated: datetime
    link: str  # absolute
    summary: str
    category: str | None = None


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attributes.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def build_feed(*, feed_id: str, title: str, self_url: str, page_url: str, updated: datetime,
               entries: Sequence[Entry], subtitle: str | None = None) -> bytes:
    """The feed document as UTF-8 bytes. ``updated`` is the feed's own time: pass the
    newest entry's, so an unchanged feed stays byte-for-byte the same for caches."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", feed_id)
    _add(feed, "title", title)
    if subtitle:
        _add(feed, "subtitle", subtitle)
    _add(feed, "updated", iso(updated))
    _add(_add(feed, "author"), "name", "sendwatch")
    _add(feed, "generator", "sendwatch")
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=page_url)
    for entry in entries:
        element = _add(feed, "entry")
        _add(element, "id", entry.id)
        _add(element, "title", entry.title, type="text")
        _add(element, "updated", iso(entry.updated))
        _add(element, "link", rel="alternate", type="text/html", href=entry.link)
        if entry.category:
            _add(element, "category", term=entry.category)
        _add(element, "summary", entry.summary, type="text")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"
