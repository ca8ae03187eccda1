"""GOV.UK's own APIs: the Content API (one item) and the Search API (discovery).

The parsing is pure (``document_from_content_item``, ``result_items``, ``merge_results``,
``newest_change_note``); the two kinds only fetch and hand the JSON to it.

GOV.UK writes the same instant as ``Z``, ``+00:00`` or ``+01:00``, with or without
milliseconds, and not always the same way twice. Every timestamp kept in a Document goes
through ``instant`` (UTC, ISO 8601, ``Z``), so that rewriting one is never a change.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from pydantic import Field, field_validator

from config.settings import SourceSettings
from monitor.core.diff import Change, summarise
from monitor.core.document import (
    ATTACHMENT,
    CHANGE_NOTE,
    LINK,
    NOTE_CHANGE,
    NOTE_DESCRIPTION,
    NOTE_DOCUMENT_TYPE,
    NOTICE,
    RESULT,
    Document,
    Item,
    item_kind,
    without_controls,
)
from monitor.core.errors import CheckFailed, ExtractError, FetchError
from monitor.core.extract import collapse, extract_html
from monitor.core.restated import CANCELLATION_REASON, PREVIOUS_RELEASE_DATE, RELEASE_DATE, RELEASE_STATUS
from monitor.sources.base import NoOptions, Reading, SourceKind, fold_option, query_values, same_value, without_query
from monitor.sources.fetch import Fetcher, Validators

log = logging.getLogger("sendwatch.govuk")

JSON = "application/json"
CONTENT_PREFIX = "/api/content"
WITHDRAWN = "withdrawn"  # the key of the one withdrawal notice an item can carry

# --- timestamps ------------------------------------------------------------------------------


def instant(value) -> str | None:
    """A GOV.UK timestamp as a UTC instant (``2013-09-06T09:11:28Z``); a bare date stays a date.

    Text that does not parse is kept as it is (collapsed): losing it would hide a change.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if len(text) == 10:  # YYYY-MM-DD: a day, not an instant; giving it a time would invent one
        try:
            return datetime.strptime(text, "%Y-%m-%d").date().isoformat()
        except ValueError:
            return collapse(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return collapse(text)
    if when.tzinfo is None:  # GOV.UK always gives an offset; a missing one is most likely UTC
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    spec = "microseconds" if when.microsecond else "seconds"
    return when.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _sort_key(date: str | None) -> datetime:
    # Compare as instants, not as text: "…28.5Z" sorts before "…28Z" as text.
    if date:
        try:
            when = datetime.fromisoformat(date)
        except ValueError:
            pass
        else:
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


def _day(value) -> str | None:
    """``13 January 2015`` in the source's own offset (the day GOV.UK shows), or None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return f"{when.day} {when:%B %Y}"


# --- URLs ------------------------------------------------------------------------------------


def content_api_url(url: str) -> str:
    """The Content API address of a GOV.UK page: ``/x`` -> ``/api/content/x``.

    Scheme and host are kept (so a test server works the same as www.gov.uk); a URL already
    under ``/api/content`` is used as it is. Query and fragment mean nothing to the API.
    """
    parts = urlsplit(url)
    path = parts.path or "/"
    if path == CONTENT_PREFIX or path.startswith(CONTENT_PREFIX + "/"):
        return url
    return urlunsplit((parts.scheme, parts.netloc, CONTENT_PREFIX + path.rstrip("/"), "", ""))


def web_url(api_url: str) -> str:
    """The public page of a Content API address (the base for the item's relative links)."""
    parts = urlsplit(api_url)
    path = parts.path
    if path == CONTENT_PREFIX or path.startswith(CONTENT_PREFIX + "/"):
        path = path[len(CONTENT_PREFIX):] or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


# --- Content API items -----------------------------------------------------------------------

# Which fields of which schema a reader sees is tabled in the README ("What a
# govuk-content source reads"), from publishing-api's content schemas. The reading below
# is generic where the schemas are alike, and names the fields where they are not.

# HTML fields of ``details`` read first, in the order a page shows them; the fields read
# since (below) come after them, so that a snapshot of a page that has none of them is
# the same as before they were read.
_TEXT_FIELDS = ("body", "introduction", "final_outcome_detail", "public_feedback_detail")
# Dates that are content: a consultation that closes later is news.
_DATE_FIELDS = (("opening_date", "Opens"), ("closing_date", "Closes"))
# Fields of ``details`` shown as "Label: value": a statistics release that moves, is
# confirmed or is cancelled is news, and so is when and where a speech was given.
_LABELLED_FIELDS = (
    ("display_date", RELEASE_DATE), ("previous_display_date", PREVIOUS_RELEASE_DATE),
    ("state", RELEASE_STATUS), ("cancellation_reason", CANCELLATION_REASON),
    ("delivered_on", "Delivered on"), ("location", "Location"),
    ("start_date", "Starts"), ("end_date", "Ends"),
)
_INSTANT_FIELDS = frozenset({"delivered_on", "start_date", "end_date"})
# Keys whose words a reader sees wherever they sit under ``details``: a guide's and travel
# advice's parts, a step by step's steps, a smart answer's nodes, a transaction's variants,
# a manual's sections, featured documents. Any ``*_detail`` is too (a call for evidence's
# outcome_detail). Every other string is left out: ids, slugs, URLs, timestamps, flags.
_TEXT_KEYS = (  # in the order a page shows them, where one object holds several
    "title", "label", "summary", "description", "introduction", "introductory_paragraph",
    "body", "text", "context", "what_you_need_to_know", "need_to_know", "more_information",
    "other_ways_to_apply", "licence_short_description", "licence_overview", "roll_call_introduction",
    "speech_type_explanation", "speaker_without_profile", "change_description", "downtime_message",
)
_TEXT_KEY_SET = frozenset(_TEXT_KEYS)
# Parts of ``details`` never read as text: read elsewhere (change notes, attachments,
# collection groups, metadata), derived from the body (headers), or labels of the page
# that hold titles of other things (government, organisations, related links, images).
# national_applicability ("Applies to England") is shown, but set once when a page is
# created; reading it now would report every page that has it as changed once.
_NOT_TEXT = frozenset({
    "change_history", "change_notes", "change_note", "latest_change_note", "attachments", "documents",
    "featured_attachments", "collection_groups", "metadata", "headers", "headings", "image", "images",
    "logo", "brand", "government", "political", "tags", "emphasised_organisations", "organisations",
    "summary_organisations", "national_applicability", "external_related_links", "related_mainstream_content",
    "social_media_links", "email_signup_link", "hidden_search_terms", "country", "alert_status",
})
_NOT_TEXT_SUFFIXES = ("_at", "_id", "_ids", "_url", "_path", "_attachments", "_documents")
_TYPE_LABELS = {"application/pdf": "PDF", "text/html": "HTML", "text/csv": "CSV",
                "application/vnd.oasis.opendocument.text": "ODT",
                "application/vnd.oasis.opendocument.spreadsheet": "ODS",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "MS Word",
                "application/msword": "MS Word",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "MS Excel",
                "application/vnd.ms-excel": "MS Excel"}


def document_from_content_item(data: dict, *, base_url: str) -> Document:
    """The Document of one Content API item.

    Kept: title, description, the text of the body (and of every other field a reader sees
    in any schema: a guide's parts, a consultation's or call for evidence's outcome, a
    step by step's steps, a smart answer's questions), consultation dates, a statistics
    announcement's release date and status, a speech's date and place, a specialist
    document's facets, attachments (``details.attachments`` and the attachment markup of
    ``details.documents``, ``*_attachments``, ``*_documents``), the documents of a
    collection's groups, links in the text, change notes and the withdrawal notice.
    Everything that moves on a publish without being content (``updated_at``,
    ``public_updated_at``, ``publishing_request_id``, ``links``, ids, slugs, analytics
    fields, headings derived from the body) is left out. ``base_url`` is the page's public
    URL: relative links are resolved against it.
    """
    details = _dict(data.get("details"))
    if isinstance(data.get("base_path"), str) and data["base_path"].startswith("/"):
        base_url = _origin(base_url) + data["base_path"]
    title = (collapse(data["title"]) if isinstance(data.get("title"), str) else "") or urlsplit(base_url).path
    blocks: list[str] = []
    items: list[Item] = []
    if isinstance(data.get("description"), str) and collapse(data["description"]):
        blocks.append(collapse(data["description"]))
    for name in _TEXT_FIELDS:
        html = _html_of(details.get(name))
        found_blocks, found_items = html_blocks(html, base_url=base_url)
        blocks += found_blocks
        items += found_items
    for name, label in _DATE_FIELDS:
        if when := instant(details.get(name)):
            blocks.append(f"{label}: {when}")
    group_blocks, members = _collection(details, data.get("links"), base_url)
    blocks += group_blocks
    items += members
    for name, label in _LABELLED_FIELDS:
        value = details.get(name)
        if isinstance(value, str) and (text := instant(value) if name in _INSTANT_FIELDS else collapse(value)):
            blocks.append(f"{label}: {text}")
    blocks += _metadata(details.get("metadata"))
    read = {*_TEXT_FIELDS, *(name for name, _ in _DATE_FIELDS), *(name for name, _ in _LABELLED_FIELDS)}
    found_blocks, found_items = _text_of({k: v for k, v in details.items() if k not in read}, base_url)
    blocks += found_blocks
    items += found_items
    items += _attachments(details, base_url)
    items += change_notes(data)
    notice = withdrawn_notice(data, base_url=base_url)
    if notice is not None:
        items.append(notice)
    # An attachment linked from the text is the attachment, not another document.
    attached = {item.key for item in items if item.kind == ATTACHMENT}
    items = [item for item in items if not (item.kind == LINK and item.key in attached)]
    return Document(title=title, blocks=tuple(blocks), items=tuple(items))


def _text_of(value, base_url: str) -> tuple[list[str], list[Item]]:
    """The reader-visible text under a part of ``details``, in a fixed order.

    An object's text keys come in ``_TEXT_KEYS`` order, its other keys sorted (so a
    reordering of keys by the publisher is no change); a list keeps its order.
    """
    blocks: list[str] = []
    items: list[Item] = []
    if isinstance(value, list):
        for element in value:
            found_blocks, found_items = _text_of(element, base_url)
            blocks += found_blocks
            items += found_items
        return blocks, items
    if not isinstance(value, dict):
        return blocks, items
    for key in [k for k in _TEXT_KEYS if k in value] + sorted(k for k in value if k not in _TEXT_KEY_SET):
        if key in _NOT_TEXT or not isinstance(key, str) or key.endswith(_NOT_TEXT_SUFFIXES):
            continue
        field = value[key]
        if key in _TEXT_KEY_SET or key.endswith("_detail"):
            html = _html_of(field)
            if html is not None:
                found_blocks, found_items = html_blocks(html, base_url=base_url)
                blocks += found_blocks
                items += found_items
                continue
        if isinstance(field, dict | list):
            found_blocks, found_items = _text_of(field, base_url)
            blocks += found_blocks
            items += found_items
    return blocks, items


def _metadata(metadata) -> list[str]:
    """A specialist document's facets as "Label: value" lines (``case_state`` -> "Case state")."""
    if not isinstance(metadata, dict):
        return []
    lines = []
    for key in sorted(k for k in metadata if isinstance(k, str)):
        value = metadata[key]
        values = value if isinstance(value, list) else [value]
        # Flags (bulk_published) and numbers are how the page was made, not what it says.
        words = [collapse(v) for v in values if isinstance(v, str) and collapse(v)]
        if words:
            lines.append(f"{collapse(key.replace('_', ' ')).capitalize()}: {', '.join(words)}")
    return lines


def html_blocks(html: str | None, *, base_url: str) -> tuple[list[str], list[Item]]:
    """Text blocks and items (links, inline attachments) of an HTML fragment."""
    if not html or not html.strip():
        return [], []
    try:
        # Wrapped in <main> so that the extractor takes the whole fragment as content.
        document = extract_html(f"<main>{html}</main>", url=base_url)
    except ExtractError:  # markup without any text, e.g. an empty govspeak div
        return [], []
    return list(document.blocks), list(document.items)


def _html_of(value) -> str | None:
    # Some schemas give a body in several formats: [{content_type, content}, ...].
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        by_type = {v.get("content_type"): v.get("content") for v in value if isinstance(v, dict)}
        html = by_type.get("text/html")
        return html if isinstance(html, str) else None
    return None


def change_notes(data: dict) -> list[Item]:
    """The item's change notes, from every place a schema may keep them.

    ``details.change_history`` and ``details.change_notes`` are lists of entries; a single
    ``details.change_note`` or top-level ``change_note`` is dated ``public_updated_at``
    and skipped when the history already holds the same words.
    """
    details = _dict(data.get("details"))
    found: list[Item] = []
    for entry in _list(details.get("change_history")) + _list(details.get("change_notes")):
        if isinstance(entry, dict):
            note = entry.get("note") or entry.get("change_note")
            when = entry.get("public_timestamp") or entry.get("published_at") or entry.get("timestamp")
            # A manual's change notes name the section they are about.
            section = entry.get("title") if "change_note" in entry else None
            if isinstance(note, str) and isinstance(section, str) and section.strip():
                note = f"{section}: {note}"
        else:
            note, when = entry, None
        if isinstance(note, str):
            found.append(_change_note(note, instant(when)))
    texts = {item.note for item in found}
    for single in (details.get("change_note"), data.get("change_note")):
        if isinstance(single, str) and collapse(single) and collapse(single) not in texts:
            found.append(_change_note(single, instant(data.get("public_updated_at"))))
            texts.add(collapse(single))
    # A statistics announcement's note on its latest change of date or state. Undated: it
    # stays the same while later publishes move public_updated_at.
    latest = details.get("latest_change_note")
    if isinstance(latest, str) and collapse(latest) and collapse(latest) not in texts:
        found.append(_change_note(latest, None))
    return [item for item in found if item.note]


def _change_note(note: str, date: str | None) -> Item:
    note = collapse(note)
    return Item(CHANGE_NOTE, f"{date} {note}" if date else note, title=note, date=date, note=note)


def newest_change_note(data: dict) -> str | None:
    """The words of the item's latest change note, or None."""
    notes = change_notes(data)
    if not notes:
        return None
    return max(notes, key=lambda item: _sort_key(item.date)).note


def withdrawn_notice(data: dict, *, base_url: str) -> Item | None:
    """The NOTICE item of a withdrawn item; an empty ``withdrawn_notice`` ({}) is none."""
    notice = data.get("withdrawn_notice")
    if not isinstance(notice, dict) or not notice:
        return None
    explanation = notice.get("explanation")
    text = " ".join(html_blocks(_html_of(explanation), base_url=base_url)[0]) if explanation else ""
    withdrawn_at = notice.get("withdrawn_at")
    day = _day(withdrawn_at)
    head = f"Withdrawn on {day}" if day else "Withdrawn"
    return Item(NOTICE, WITHDRAWN, title=f"{head}: {text}" if text else head, date=instant(withdrawn_at))


def _attachments(details: dict, base_url: str) -> list[Item]:
    # The structured lists come first, whatever the key order: when an attachment is in
    # both, the first one kept (Document drops duplicates) is always the structured one.
    items: list[Item | None] = []
    for name, value in details.items():
        if name == "attachments" or name.endswith("_attachments"):
            # ``featured_attachments`` only lists ids of ``attachments``: no dicts, skipped.
            items += [_attachment(a, base_url) for a in _list(value) if isinstance(a, dict)]
    for name, value in details.items():
        if name == "documents" or name.endswith("_documents"):
            for fragment in _list(value):
                if isinstance(fragment, str):
                    items += html_attachments(fragment, base_url=base_url)
    return [item for item in items if item is not None]


def _attachment(data: dict, base_url: str) -> Item | None:
    title = collapse(str(data.get("title") or ""))
    href = data.get("url")
    url = _join(base_url, href) if isinstance(href, str) and href.strip() else None
    key = url or title or str(data.get("id") or "")
    if not key:
        return None
    return Item(ATTACHMENT, key, title=title, url=url, note=_attachment_note(data))


def _attachment_note(data: dict) -> str | None:
    """``PDF, 1.2 MB, 40 pages``: what GOV.UK shows under an attachment's title."""
    parts: list[str] = []
    content_type = str(data.get("content_type") or "").split(";")[0].strip().lower()
    label = _TYPE_LABELS.get(content_type)
    if label is None and isinstance(data.get("filename"), str) and "." in data["filename"]:
        label = data["filename"].rsplit(".", 1)[1].upper()
    if label is None and data.get("attachment_type") == "html":
        label = "HTML"
    if label:
        parts.append(label)
    size = data.get("file_size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        parts.append(_size(size))
    pages = data.get("number_of_pages")
    if isinstance(pages, int) and not isinstance(pages, bool) and pages > 0:
        parts.append(f"{pages} page{'' if pages == 1 else 's'}")
    return ", ".join(parts) or None


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


_BOX_CLASSES = ["gem-c-attachment", "attachment"]  # today's component, and the older markup


def html_attachments(fragment: str, *, base_url: str) -> list[Item]:
    """Attachments from the markup GOV.UK puts in ``details.documents``."""
    from bs4 import BeautifulSoup  # here: most checks never need it (a tenth of start-up)

    # A JSON string may hold a lone surrogate ("\ud800"), which bs4 cannot even encode.
    soup = BeautifulSoup(without_controls(fragment), "lxml")
    marked = soup.find_all(class_=_BOX_CLASSES)
    # By identity: bs4 compares tags by their markup, and a box inside a box is one attachment.
    found = {id(box) for box in marked}
    boxes = [box for box in marked if not any(id(parent) in found for parent in box.parents)]
    if not boxes:  # no attachment markup: each visible link is one document
        return [Item(ATTACHMENT, url, title=collapse(a.get_text(" ")), url=url)
                for a in _visible_links(soup) if (url := _absolute(a["href"], base_url))]
    items = []
    for box in boxes:
        link = (box.find("a", class_="gem-c-attachment__link", href=True)
                or box.select_one(".title a[href]")
                or next(iter(_visible_links(box)), None))
        named = link if link is not None else box.find(class_=["gem-c-attachment__title", "title"])
        title = collapse(named.get_text(" ")) if named is not None else ""
        href = link.get("href") if link is not None else None  # one value: bs4 splits only class, rel...
        url = _absolute(href, base_url) if isinstance(href, str) else None
        attributes = [collapse(a.get_text("")) for a in box.find_all(class_="gem-c-attachment__attribute")]
        if not any(attributes) and (metadata := box.find(class_="metadata")) is not None:
            attributes = [collapse(metadata.get_text(""))]
        note = ", ".join(a for a in attributes if a) or None
        if url or title:
            items.append(Item(ATTACHMENT, url or title, title=title, url=url, note=note))
    return items


def _visible_links(tag) -> list:
    # The thumbnail's link is aria-hidden and "request an accessible format" is a mailto.
    return [a for a in tag.find_all("a", href=True)
            if a.get("aria-hidden") != "true" and not a["href"].strip().startswith(("#", "mailto:"))]


def _absolute(href: str, base_url: str) -> str | None:
    href = href.strip()
    if not href:
        return None
    url = (_join(base_url, href) or "").split("#", 1)[0]
    return url if url and urlsplit(url).scheme in ("http", "https") else None


def _collection(details: dict, links, base_url: str) -> tuple[list[str], list[Item]]:
    """A document collection's groups: their headings and text, and their documents.

    The groups list content ids; their titles and paths are in ``links.documents``. Only
    those two fields are read there: the rest of ``links`` moves with every publish.
    """
    groups = _list(details.get("collection_groups"))
    if not groups:
        return [], []
    linked = links.get("documents") if isinstance(links, dict) else None
    by_id = {d.get("content_id"): d for d in _list(linked) if isinstance(d, dict)}
    blocks: list[str] = []
    items: list[Item] = []
    for group in groups:
        if not isinstance(group, dict):
            continue
        if isinstance(group.get("title"), str) and collapse(group["title"]):
            blocks.append(collapse(group["title"]))
        found_blocks, found_items = html_blocks(_html_of(group.get("body")), base_url=base_url)
        blocks += found_blocks
        items += found_items
        for content_id in _list(group.get("documents")):
            member = by_id.get(content_id)
            if member is None:
                continue
            path = member.get("base_path") or member.get("web_url")
            url = _join(base_url, path) if isinstance(path, str) else None
            title = collapse(str(member.get("title") or ""))
            if url or title:
                items.append(Item(ATTACHMENT, url or title, title=title, url=url))
    return blocks, items


def _join(base_url: str, href: str) -> str | None:
    """``href`` made absolute, or None when no URL can be made of it ("https://[::1", say)."""
    try:
        return urljoin(base_url, href)
    except ValueError:
        return None


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


_GONE_MARK = "(HTTP 410 Gone)"
_API_REASON = re.compile(r"^HTTP 410[^:]* from \S+: (.+)$", re.S)


def gone_document(previous: Document | None, *, page_url: str, error: FetchError) -> Document:
    """What a 410 leaves: the last known content, with the withdrawal recorded as a notice.

    GOV.UK answers a removed page with a "gone" item whose ``details`` may explain why
    (``explanation``) and say where the content went (``alternative_path``): both go into
    the notice. A page already withdrawn keeps its notice (its explanation is the news)
    and has the removal appended once, so that every later 410 reads the same.
    """
    explanation, alternative = _gone_details(error, page_url)
    base = previous or Document(title=urlsplit(page_url).path or page_url)
    known = next((i for i in base.items if i.identity == (NOTICE, WITHDRAWN)), None)
    if known is None:
        title = _gone_title(f"Withdrawn: GOV.UK no longer has this page {_GONE_MARK}", explanation, alternative)
        notice = Item(NOTICE, WITHDRAWN, title=title)
    elif _GONE_MARK in known.title:
        notice = known
    else:
        if explanation and known.title.rstrip(".").endswith(f": {explanation.rstrip('.')}"):
            explanation = None  # the withdrawal notice said it already
        title = _gone_title(f"{known.title} Since removed {_GONE_MARK}", explanation, alternative)
        notice = dataclasses.replace(known, title=title)
    items = [i for i in base.items if i.identity != (NOTICE, WITHDRAWN)] + [notice]
    return Document(title=base.title, blocks=base.blocks, items=tuple(items))


def _gone_details(error: FetchError, page_url: str) -> tuple[str | None, str | None]:
    """(why, where to instead) from a gone item in a 410's body; else the API's message."""
    try:
        data = json.loads(error.body) if error.body else None
    except (ValueError, UnicodeDecodeError):
        data = None
    details = data.get("details") if isinstance(data, dict) else None
    if isinstance(details, dict):
        explanation = details.get("explanation")
        blocks, _ = html_blocks(explanation if isinstance(explanation, str) else None, base_url=page_url)
        alternative = details.get("alternative_path")
        alternative = _join(page_url, alternative.strip()) if isinstance(alternative, str) and alternative.strip() \
            else None
        if blocks or alternative:
            return (" ".join(blocks) or None), alternative
    reason = _API_REASON.match(str(error))
    return (collapse(reason.group(1)) if reason else None), None


def _gone_title(head: str, explanation: str | None, alternative: str | None) -> str:
    parts = [explanation] if explanation else []
    if alternative:
        if parts and not parts[0].endswith((".", "!", "?")):
            parts[0] += "."
        parts.append(f"GOV.UK points to {alternative}")  # no full stop: it would end the link
    return f"{head}: {' '.join(parts)}" if parts else head


class GovukContentSource(SourceKind[NoOptions]):
    """One GOV.UK page, read through the Content API (``/api/content/<path>``).

    ``url`` is the public page (``https://www.gov.uk/government/publications/x``) or its
    Content API address; the API address is derived from the page's. No options.

    The Document holds the title, description, the text a reader sees in any schema (the
    body, a guide's parts, an outcome, a step by step's steps...), dates and states shown
    on the page (a consultation's closing date, a statistics release's date and status),
    attachments and documents (including a collection's documents), links in the text,
    change notes and the withdrawal notice. Timestamps are compared as instants, so the
    same time written with ``Z``, ``+00:00`` or ``+01:00`` is equal. ``updated_at``,
    ``public_updated_at``, ``publishing_request_id``, ``links``, ids, slugs and other
    per-publish fields are not content and never count as a change.

    A change's summary leads with GOV.UK's own change note when one was added
    ("change note: 'Added the June 2025 handbook.'"), then a moved date or state in words
    ("release date moved from 12 March 2026 9:30am to 9 April 2026 9:30am"), then what
    else changed.

    Withdrawal is news: a ``withdrawn_notice`` becomes a notice item, and an HTTP 410
    (Gone) is recorded as a change that keeps the last known content and adds a
    withdrawal notice, with GOV.UK's explanation and the page it points to instead when
    its gone item gives them (it is not a failed check). 404, 422, 5xx and the like are failed
    checks carrying the API's own message.
    """

    kind = "govuk-content"
    Options = NoOptions
    reads = 2  # 2: the text of every schema (guide parts, *_detail, release dates and state)
    needs_previous = True  # a 410 keeps the previous content and adds the notice

    @property
    def api_url(self) -> str:
        return content_api_url(self.settings.url)

    async def read(self, fetcher: Fetcher, validators: Validators | None,
                   previous: Document | None = None) -> Reading:
        url = self.api_url
        try:
            response = await fetcher.get(url, validators=validators, accept=JSON)
        except FetchError as exc:
            if exc.status != 410:
                raise
            document = gone_document(previous, page_url=web_url(url), error=exc)
            return Reading(document, url, 410, 0, Validators())
        if response.not_modified:
            return Reading(None, response.url, response.status, 0, validators or response.validators)
        data = response.json()
        if not isinstance(data, dict) or not ("title" in data or "details" in data):
            raise CheckFailed(f"expected a GOV.UK Content API item from {response.url}, "
                              f"but the JSON is not one (no title or details)")
        document = document_from_content_item(data, base_url=web_url(response.url))
        return Reading(document, response.url, response.status, len(response.body), response.validators)

    def summarise(self, change: Change) -> str:
        fields, rest = field_changes(change)
        parts = []
        notes = [item for item in rest.added_items if item.kind == CHANGE_NOTE]
        if notes:
            newest = max(notes, key=lambda item: _sort_key(item.date))
            parts.append(f"change note: {_quote(newest.note or newest.title, 200)}")
            rest = dataclasses.replace(rest, added_items=tuple(i for i in rest.added_items if i is not newest))
        parts += fields
        if not parts or not rest.is_empty:
            parts.append(summarise(rest))
        return "; ".join(parts)


# How a changed "Label: value" line is told: (what it is, whether a new value is a move).
_FIELD_NOUNS = {
    "Opens": ("opening date", True), "Closes": ("closing date", True),
    "Release date": ("release date", True), "Previous release date": ("previous release date", True),
    "Release status": ("release status", False), "Reason for cancellation": ("reason for cancellation", False),
    "Delivered on": ("delivery date", True), "Location": ("location", False),
    "Starts": ("start date", True), "Ends": ("end date", True),
}
_LONDON = "Europe/London"


def field_changes(change: Change) -> tuple[list[str], Change]:
    """Phrases for the labelled fields a change moved, and the change without their lines.

    "release date moved from 12 March 2026 9:30am to 9 April 2026 9:30am", "release status
    changed from provisional to confirmed", "reason for cancellation: 'Data not ready'".
    The previous release date GOV.UK adds when a date moves is said by the move itself.
    """
    old = _fields(change.removed_lines)
    new = _fields(change.added_lines)
    phrases: list[str] = []
    said: set[str] = set()
    for label, (noun, moves) in _FIELD_NOUNS.items():
        if label not in old and label not in new:
            continue
        said.add(label)
        if label == "Previous release date" and ("Release date" in old or "Release date" in new):
            continue
        before, after = old.get(label), new.get(label)
        if before is not None and after is not None:
            verb = "moved" if moves else "changed"
            phrases.append(f"{noun} {verb} from {_shown(before)} to {_shown(after)}")
        elif after is not None:
            phrases.append(f"{noun}: {_shown(after)}" if moves else f"{noun}: {_quote(after, 200)}")
        elif before is not None:
            phrases.append(f"{noun} removed (was {_shown(before)})")
    if not said:
        return [], change
    rest = dataclasses.replace(
        change,
        added_lines=tuple(line for line in change.added_lines if _label(line) not in said),
        removed_lines=tuple(line for line in change.removed_lines if _label(line) not in said),
    )
    return phrases, rest


def _label(line: str) -> str | None:
    label, sep, _value = line.partition(": ")
    return label if sep and label in _FIELD_NOUNS else None


def _fields(lines: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        if label := _label(line):
            found.setdefault(label, line.partition(": ")[2])
    return found


def _shown(value: str) -> str:
    """An instant as London's date and time ("13 July 2016 10:45pm"), a day as a day, text as is."""
    from zoneinfo import ZoneInfo

    if _ISO_DAY.fullmatch(value):
        return f"{int(value[8:10])} {datetime.strptime(value, '%Y-%m-%d'):%B %Y}"
    if "T" in value:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
        if when.tzinfo is not None:
            when = when.astimezone(ZoneInfo(_LONDON))
            clock = f"{when:%I:%M%p}".lstrip("0").lower().replace(":00", "")
            return f"{when.day} {when:%B %Y} {clock}"
    return value


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- Search API ------------------------------------------------------------------------------

DEFAULT_FIELDS = ("title", "link", "description", "public_timestamp", "content_store_document_type",
                  "organisations")
_NEEDED_FIELDS = ("title", "link", "public_timestamp")  # what the kind cannot work without
ORDER = "-public_timestamp"
# Set by the kind itself, or harmful: an offset would skip the newest results.
_RESERVED = {
    "count": "set it with the source's `count` option",
    "fields": "set it with the source's `fields` option",
    "start": "sendwatch always reads the first page, where new documents appear",
}
MAX_NOTE_LOOKUPS = 20  # Content API requests per check for updated documents' change notes


def _param_problem(name: str, values: list[str]) -> str | None:
    if name == "order":
        if any(v != ORDER for v in values):
            return (f"order={','.join(values)!r} is not allowed: sendwatch always asks for "
                    f"order={ORDER} (newest first), which is how it finds new documents")
        return None
    if name in _RESERVED:
        return f"{name!r} is not allowed in the search parameters: {_RESERVED[name]}"
    return None


class GovukSearchOptions(NoOptions):
    params: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Search API parameters (q, filter_organisations, filter_content_store_document_type, "
                    "filter_public_timestamp, ...); a list is sent as repeated parameters.",
    )
    count: int = Field(default=50, ge=1, le=1500, description="How many of the newest results to read.")
    fields: tuple[str, ...] = Field(default=DEFAULT_FIELDS, description="Result fields to ask for.")

    @field_validator("params")
    @classmethod
    def _no_reserved(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for name, given in value.items():
            problem = _param_problem(name, given if isinstance(given, list) else [given])
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("fields")
    @classmethod
    def _needed_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*_NEEDED_FIELDS, *value]))


def result_items(data, *, base_url: str) -> list[Item]:
    """One RESULT item per search result: key = its ``link``, url absolute on ``base_url``'s host."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise CheckFailed("expected a GOV.UK Search API answer (a JSON object with 'results'), "
                          "but the JSON has no results list")
    items = []
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("link"), str) or not result["link"].strip():
            continue
        link = result["link"].strip()
        description = collapse(str(result.get("description") or ""))
        kind = result.get("content_store_document_type") or result.get("format")
        items.append(Item(
            RESULT, link,
            title=collapse(str(result.get("title") or "")) or link,
            url=_join(_origin(base_url) + "/", link),
            date=instant(result.get("public_timestamp")),
            note=description or (collapse(str(kind).replace("_", " ")) if kind else None),
            note_kind=NOTE_DESCRIPTION if description else NOTE_DOCUMENT_TYPE if kind else None,
        ))
    return items


def merge_results(previous: Iterable[Item], current: Iterable[Item]) -> tuple[list[Item], list[Item]]:
    """The accumulated results and those updated since: ``(all items, updated items)``.

    A result not seen before is added. A known result is replaced only when its
    public_timestamp moved later (a major change on GOV.UK); otherwise the known item
    stands, so that minor edits, reordering and results falling off the page are not
    changes, and the change note kept for an update is not overwritten next time.
    """
    known = {item.key: item for item in previous if item.kind == RESULT}
    merged = dict(known)
    updated: list[Item] = []
    for item in current:
        old = known.get(item.key)
        if old is None:
            merged[item.key] = item
        elif item.date and _sort_key(item.date) > _sort_key(old.date):
            merged[item.key] = item
            updated.append(item)
    return list(merged.values()), updated


class GovukSearchSource(SourceKind[GovukSearchOptions]):
    """A saved GOV.UK search (``/api/search.json``), watched for new and updated documents.

    ``url`` is the Search API (``https://www.gov.uk/api/search.json``). A query string in
    it, as copied from a browser, is read into the options: ``count`` and ``fields`` into
    theirs, every other parameter into ``params`` (``order=-public_timestamp`` and
    ``start=0`` are dropped, as sendwatch sends them itself). Another ``order`` or
    ``start``, or a value that disagrees with the same option, is refused when the config
    loads. Options:

    - ``params``: a table of Search API parameters, e.g. ``q``, ``filter_organisations``,
      ``filter_content_store_document_type``, ``filter_public_timestamp = "from:2024-01-01"``;
      a list is sent as repeated parameters. ``order`` may only be ``-public_timestamp``
      (sendwatch always sends it, newest first), and ``count``, ``fields`` and ``start`` are
      refused there: a search with any of them is a configuration error.
    - ``count``: how many of the newest results to read (default 50, at most 1500).
    - ``fields``: the result fields asked for (default title, link, description,
      public_timestamp, content_store_document_type, organisations; title, link and
      public_timestamp are always added).

    The Document accumulates: each check adds the current results to the ones seen
    before (one result item per ``link``, dated by its public_timestamp, noted with its
    description or document type). So a result not seen before is a new document, a
    result that falls off the page is not a removal, and a reordering is not a change. A
    known result whose public_timestamp moves later is an updated document (GOV.UK moves
    it only on a major change): its newest change note is read from the Content API and
    kept as the item's note. Up to 20 such lookups are made per check; one that fails
    leaves the update without a note and is logged, it does not fail the check. Other
    edits to a known result (a retitling without a new timestamp) are not changes.

    It is a discovery kind: each new or updated document is matched against every
    commitment, and a GOV.UK document that bears on one is followed as a
    ``govuk-content`` source.

    Summary: "2 new documents: 'A', 'B'; 1 document updated: 'C' (change note: '...')".
    The Search API's own errors (422 for an unknown parameter) fail the check with its
    message.
    """

    kind = "govuk-search"
    Options = GovukSearchOptions
    needs_previous = True
    discovers = True

    def follow_kind(self, item: Item) -> str | None:
        # A GOV.UK page found by the search is followed through the Content API; a result
        # held on another site (an absolute link) is not GOV.UK's to describe.
        if item.kind == RESULT and item.key.startswith("/") and not item.key.startswith("//"):
            return GovukContentSource.kind
        return None

    @classmethod
    def read_options(cls, settings: SourceSettings) -> GovukSearchOptions:
        """A query string in the URL (as copied from a browser) is read into the options:
        ``count`` and ``fields`` into theirs, ``order=-public_timestamp`` and ``start=0``
        dropped (sendwatch sends them), anything else into ``params``, ahead of the table's."""
        options = dict(settings.options)
        table = options.get("params", {})
        if not isinstance(table, dict):
            return cls.Options.model_validate(options)  # the model explains what params must be
        params: dict = {}
        for name, values in query_values(settings.url).items():
            written = "&".join(f"{name}={v}" for v in values)
            if name == "count":
                if len(values) != 1 or not values[0].isdigit():
                    raise ValueError(f"{written} is not a number of results")
                fold_option(options, "count", int(values[0]), written)
            elif name == "fields":
                fold_option(options, "fields", [f for v in values for f in v.split(",") if f], written)
            elif name == "start":
                if any(v.strip() not in ("", "0") for v in values):
                    raise ValueError(f"{written}: sendwatch always reads the first page, where new documents "
                                     "appear; remove it")
            elif name == "order":
                if problem := _param_problem(name, values):
                    raise ValueError(f"{problem}; remove it from the url")
            else:
                value = values[0] if len(values) == 1 else values
                if name in table and not same_value(table[name], value):
                    raise ValueError(f"{written} in the url and params.{name} = {table[name]!r} disagree; "
                                     "give it once")
                params[name] = value
        options["params"] = {**params, **table}
        return cls.Options.model_validate(options)

    def query(self) -> list[tuple[str, str]]:
        """The parameters sent: ``params`` (the URL's own first), then count, fields and order."""
        pairs = []
        for name, value in self.options.params.items():
            pairs += [(name, v) for v in (value if isinstance(value, list) else [value])]
        pairs = [(k, v) for k, v in pairs if k != "order"]
        return pairs + [("count", str(self.options.count)), ("fields", ",".join(self.options.fields)),
                        ("order", ORDER)]

    def search_title(self, pairs: list[tuple[str, str]]) -> str:
        shown = [f"{k}={v}" for k, v in pairs if k not in ("count", "fields", "order")]
        return "GOV.UK search: " + (", ".join(shown) if shown else "everything, newest first")

    async def read(self, fetcher: Fetcher, validators: Validators | None,
                   previous: Document | None = None) -> Reading:
        pairs = self.query()
        url = f"{without_query(self.settings.url)}?{urlencode(pairs)}"
        response = await fetcher.get(url, validators=validators, accept=JSON)
        if response.not_modified:
            return Reading(None, response.url, response.status, 0, validators or response.validators)
        current = result_items(response.json(), base_url=response.url)
        items, updated = merge_results(previous.items if previous else (), current)
        if updated:
            notes = {}
            for item in sorted(updated, key=lambda i: _sort_key(i.date), reverse=True)[:MAX_NOTE_LOOKUPS]:
                notes[item.key] = await self._change_note(fetcher, response.url, item.key)
            # An update's note is its change note, or nothing: the description would read as one.
            fresh = {item.key: dataclasses.replace(item, note=notes.get(item.key),
                                                   note_kind=NOTE_CHANGE if notes.get(item.key) else None)
                     for item in updated}
            items = [fresh.get(item.key, item) for item in items]
        document = Document(title=self.search_title(pairs), items=tuple(items))
        return Reading(document, response.url, response.status, len(response.body), response.validators)

    async def _change_note(self, fetcher: Fetcher, search_url: str, link: str) -> str | None:
        if not link.startswith("/") or link.startswith("//"):
            return None  # a result held on another site has no GOV.UK change history
        api_url = content_api_url(_origin(search_url) + link)
        try:
            response = await fetcher.get(api_url, accept=JSON)
            data = response.json()
        except CheckFailed as exc:
            log.warning("no change note for updated search result %s: %s", link, exc)
            return None
        return newest_change_note(data) if isinstance(data, dict) else None

    def summarise(self, change: Change) -> str:
        added = sorted((i for i in change.added_items if i.kind == RESULT),
                       key=lambda i: _sort_key(i.date), reverse=True)
        updated = sorted((new for _, new in change.updated_items if new.kind == RESULT),
                         key=lambda i: _sort_key(i.date), reverse=True)
        parts = []
        noun = item_kind(RESULT).document_noun or item_kind(RESULT).noun
        if added:
            parts.append(f"{len(added)} new {noun.of(len(added))}: {_titles(added)}")
        if updated:
            parts.append(f"{len(updated)} {noun.of(len(updated))} updated: {_titles(updated, with_notes=True)}")
        rest = dataclasses.replace(
            change,
            added_items=tuple(i for i in change.added_items if i.kind != RESULT),
            updated_items=tuple(pair for pair in change.updated_items if pair[1].kind != RESULT),
        )
        if not rest.is_empty or not parts:
            parts.append(summarise(rest))
        return "; ".join(parts)


_SHOWN = 3


def _titles(items: list[Item], *, with_notes: bool = False) -> str:
    shown = []
    for item in items[:_SHOWN]:
        text = _quote(item.title or item.key)
        if with_notes and item.note:
            text += f" ({item.note_label}: {_quote(item.note, 200)})"
        shown.append(text)
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(shown) + more


def _quote(text: str, limit: int = 80) -> str:
    text = collapse(text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f"'{text}'"
