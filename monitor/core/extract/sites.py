"""What GOV.UK and Parliament markup means: their templates, their content element, and
the parts of their pages that are items (attachments, change notes, notices, documents).

The template's class names and ids mark chrome (see ``chrome``). GOV.UK puts the content
in ``main#content``, some Parliament sites in ``#main-content``. GOV.UK's components
(``gem-c-attachment``, the published dates, notification banners) are read as items, so
that a new attachment or change note is told as such, not as changed text. Parliament
pages link everywhere from their content; only their publications and documents are
items.
"""

from __future__ import annotations

import re
from datetime import datetime

import lxml.etree

from monitor.core.document import ATTACHMENT, CHANGE_NOTE, NOTICE, Item
from monitor.core.extract.text import collapse

CHROME_CLASSES = frozenset(
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
CHROME_IDS = frozenset(
    {"global-cookie-message", "cookie-banner", "global-bar", "skiplink-container",
     "global-header", "global-breadcrumb", "footer", "user-satisfaction-survey-container"}
)  # fmt: skip
# Govspeak's headline figures ({stat-headline}) are an aside in the markup and the first
# thing a reader of a statistics release sees: content, not a sidebar.
CONTENT_ASIDE_CLASS = "stat-headline"

# --- the content element ---------------------------------------------------------------------

_CONTENT_XPATH = lxml.etree.XPath("(//main[@id='content'] | //*[@id='main-content'] | //main)")
# libxml2 indexes id attributes as it parses (and <a name>, hence a look at the id of what
# it finds): id() finds the first element with an id at once, where a path expression
# tests every element of the page. GOV.UK's main#content is found so; other pages take the
# path expression.
_ID_CONTENT = lxml.etree.XPath("id('content')")


def content_element(tree):
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


TITLE_SUFFIX = re.compile(r"\s*[-–—|]\s*GOV\.UK\s*$")

# --- items -------------------------------------------------------------------------------------

ATTACHMENT_CLASSES = frozenset({"gem-c-attachment"})
ATTACHMENT_LINK_CLASSES = frozenset({"gem-c-attachment-link"})
NOTICE_CLASSES = frozenset({"gem-c-notice", "govuk-notification-banner"})
HISTORY_CLASSES = frozenset({"gem-c-published-dates", "app-c-published-dates"})
ITEM_CLASSES = ATTACHMENT_CLASSES | ATTACHMENT_LINK_CLASSES | NOTICE_CLASSES | HISTORY_CLASSES

_PARLIAMENT_DOCUMENT = re.compile(r"/publications/|/documents/|\.(pdf|docx?|odt|xlsx?|csv)$", re.I)
_LONG_DATE = re.compile(r"\b(\d{1,2} (?:January|February|March|April|May|June|July|August|"
                        r"September|October|November|December) \d{4})\b")  # fmt: skip
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_parliament(host: str) -> bool:
    return host == "parliament.uk" or host.endswith(".parliament.uk")


def parliament_document(path: str) -> bool:
    """Whether a Parliament link is to a publication or document (the rest is navigation)."""
    return _PARLIAMENT_DOCUMENT.search(path) is not None


def long_date_to_iso(text: str) -> str | None:
    match = _LONG_DATE.search(text)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%d %B %Y").date().isoformat()
    except ValueError:
        return None


# Each reads an element of the reader's tree with the reader's help (its text, the elements
# below it that are not chrome, URLs resolved against the page).


def attachment(reader, element) -> None:
    """A ``gem-c-attachment``: its title and details are blocks, and it is an item."""
    link = next(reader.classed(element, "gem-c-attachment__link", "a"), None)
    if link is None:  # the thumbnail's link is aria-hidden: take the visible one
        link = next(
            (a for a in reader.named(element, "a") if a.get("href") is not None and not reader.skipped(a)),
            None,
        )
    named = link if link is not None else next(reader.classed(element, "gem-c-attachment__title"), None)
    title = collapse(reader.text(named)) if named is not None else ""
    attributes = [collapse(reader.text(e)) for e in reader.classed(element, "gem-c-attachment__attribute")]
    note = ", ".join(a for a in attributes if a) or None
    url = reader.url(reader.href(link) or "") if link is not None else None
    reader.flush()
    for text in (title, note):
        if text:
            reader.blocks.append(text)
    if url or title:
        reader.items.append(Item(ATTACHMENT, url or title, title=title, url=url, note=note))


def inline_attachment(reader, element) -> None:
    """A ``gem-c-attachment-link`` in running text: an item; its text stays in the block."""
    link = next((a for a in reader.named(element, "a") if a.get("href") is not None), None)
    if link is None:
        return
    url = reader.url(reader.href(link))
    if url is None:
        return
    attributes = [collapse(reader.text(e)) for e in reader.classed(element, "gem-c-attachment-link__attribute")]
    note = ", ".join(a for a in attributes if a) or None
    title = collapse(reader.text(link))
    reader.items.append(Item(ATTACHMENT, url, title=title, url=url, note=note))


def change_notes(reader, container) -> None:
    """The published dates' history: each entry a ``time`` and the note around it."""
    for time in list(reader.named(container, "time")):
        entry = time
        while entry is not container and entry.tag != "li":
            entry = entry.getparent()
        if entry is container:
            parent = time.getparent()
            entry = parent if parent is not container else None
        if entry is None or reader.in_skipped_header(time, container):
            continue
        stamp = time.get("datetime") or ""
        match = _ISO_DATE.match(stamp.strip())
        time_text = reader.text(time)
        date = match.group() if match else long_date_to_iso(time_text)
        # The note is the entry's text around the time: a <p>, or bare text.
        note = collapse(reader.text(entry).replace(time_text, " ", 1))
        if not note and not date:
            continue
        key = f"{date} {note}" if date else note
        reader.items.append(Item(CHANGE_NOTE, key, title=note, date=date, note=note))


def notice(blocks: list[str]) -> Item | None:
    """A notification banner's item (a withdrawal, say) from its blocks."""
    text = " ".join(blocks)
    if not text:
        return None
    lowered = text.lower()
    # One withdrawal per page: its identity must survive rewording of the notice.
    key = "withdrawn" if "withdrawn" in lowered else lowered
    return Item(NOTICE, key, title=text, date=long_date_to_iso(text))
