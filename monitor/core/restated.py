"""What a commitment's restatements are: the dates a matched written answer or statement
gives for it, and a statistics release it depends on that moved or was cancelled.

A written answer or statement matched to a commitment (a development, or a possible one) is
read sentence by sentence with ``restatement.read_dates``, said on its own day in London:
each date or period it gives, and each vague "in due course", is a restatement of that
commitment. Only the minister's words are read: an answer's question is the asking
member's, and a holding answer promises a reply, not the commitment.

A GOV.UK statistics announcement watched for a commitment says when a release the
commitment depends on is due. Its release date moving is a restatement (rule
``release-date-moved``, resolving to the new date), and so is its cancellation
(``release-cancelled``, without a date).

Pure: documents and items in, drafts out.
"""

from __future__ import annotations

import re
from datetime import date

from monitor.core.addresses import document_key
from monitor.core.document import (
    CHANGE_NOTE,
    NOTE_HOLDING_ANSWER,
    WRITTEN_ANSWER,
    WRITTEN_STATEMENT,
    Document,
    Item,
    item_kind,
)
from monitor.core.drafts import RestatementDraft
from monitor.core.restatement import MONTHS, RULES, Rule, read_dates

# The labels of a statistics announcement's lines in its Document ("Release date: 9 April
# 2026 9:30am"): the govuk-content kind writes them, this module reads them.
RELEASE_DATE = "Release date"
PREVIOUS_RELEASE_DATE = "Previous release date"
RELEASE_STATUS = "Release status"
CANCELLATION_REASON = "Reason for cancellation"
CANCELLED = "cancelled"

RELEASE_MOVED, RELEASE_CANCELLED = "release-date-moved", "release-cancelled"
RELEASE_RULES: dict[str, Rule] = {r.name: r for r in (
    Rule(RELEASE_MOVED, "a statistics announcement's release date moved from 12 March 2026 9:30am to 9 April 2026",
         "the new release date (a month without a day: its last day)"),
    Rule(RELEASE_CANCELLED, "a statistics announcement's status became cancelled",
         "no date (a restatement without a date)"),
)}
_ANSWER = " Answer: "


def rule(name: str) -> Rule | None:
    """The rule called ``name``, of the date reading or of the statistics releases."""
    return RULES.get(name) or RELEASE_RULES.get(name)


def spoken(item: Item) -> str:
    """The minister's own words in an answer or statement ("" for anything else): a
    statement's text, an answer's answer without the question."""
    if item.kind == WRITTEN_STATEMENT:
        return item.note or ""
    if item.kind != WRITTEN_ANSWER or item.note_kind == NOTE_HOLDING_ANSWER or not item.note:
        return ""
    note = item.note
    if note.startswith("Answer: "):
        return note[len("Answer: "):]
    head, found, answer = note.partition(_ANSWER)
    return answer if found else ""


def said_in(item: Item, commitment_id: str, key: str) -> tuple[RestatementDraft, ...]:
    """The restatements of ``commitment_id`` in a matched answer or statement, known by the
    document ``key`` (the question or statement, whichever version of its text)."""
    text = spoken(item)
    said = _day(item.date)
    if not text or said is None:
        return ()
    return tuple(RestatementDraft(commitment_id, key, said, found.sentence, found.words, found.rule, found.resolved,
                                  by=item.by, url=item.url)
                 for found in read_dates(text, said))


def item_document(item: Item) -> str:
    """What a restatement's item is known by: the question or statement itself, whichever
    version of its answer (a corrected sentence is a new restatement, the same one is not)."""
    space = item_kind(item.kind).key_space
    return f"{space}:{item.key}" if space else (document_key(item.url) or f"{item.kind}:{item.key}")


def release_moves(previous: Document, current: Document, commitment_ids: tuple[str, ...], said_on: date,
                  url: str) -> tuple[RestatementDraft, ...]:
    """A statistics announcement's release date that moved, or its cancellation, between two
    versions, as a restatement of each commitment its source is watched for."""
    old, new = release_fields(previous), release_fields(current)
    if RELEASE_DATE not in new or not commitment_ids:
        return ()  # not a statistics announcement
    notes = sorted((i for i in current.items_of(CHANGE_NOTE) if i not in previous.items_of(CHANGE_NOTE)),
                   key=lambda i: (i.date or "", i.key))
    note = f" (change note: '{notes[-1].note or notes[-1].title}')" if notes else ""
    key = document_key(url) or url
    found: list[tuple[str, str, str, date | None]] = []
    if new.get(RELEASE_STATUS, "").lower() == CANCELLED and old.get(RELEASE_STATUS, "").lower() != CANCELLED:
        reason = new.get(CANCELLATION_REASON)
        found.append((RELEASE_CANCELLED, f"The release of '{current.title}' was cancelled"
                      + (f": {reason}" if reason else "") + note, CANCELLED, None))
    elif old.get(RELEASE_DATE) and new[RELEASE_DATE] != old[RELEASE_DATE]:
        found.append((RELEASE_MOVED, f"The release of '{current.title}' moved from {old[RELEASE_DATE]} to "
                      f"{new[RELEASE_DATE]}{note}", new[RELEASE_DATE], release_day(new[RELEASE_DATE])))
    return tuple(RestatementDraft(commitment_id, key, said_on, sentence, words, name, resolves, by=None, url=url)
                 for commitment_id in commitment_ids for name, sentence, words, resolves in found)


def release_fields(document: Document) -> dict[str, str]:
    """A statistics announcement's labelled lines: {"Release date": "9 April 2026 9:30am", ...}."""
    fields: dict[str, str] = {}
    for block in document.blocks:
        label, sep, value = block.partition(": ")
        if sep and label in (RELEASE_DATE, PREVIOUS_RELEASE_DATE, RELEASE_STATUS, CANCELLATION_REASON):
            fields.setdefault(label, value)
    return fields


_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DISPLAY = re.compile(rf"(?:(\d{{1,2}})\s+)?({_MONTH})\b\.?(?:\s+((?:19|20)\d\d))?")


def release_day(display: str) -> date | None:
    """The day a release's display date names: "9 April 2026 9:30am" is 9 April 2026; a month
    ("April 2026 (provisional)") or a span ("June to July 2026") resolves to its end, as every
    period does. None when it names no month and year."""
    matches = list(_DISPLAY.finditer(display))
    year = next((int(m.group(3)) for m in reversed(matches) if m.group(3)), None)
    if not matches or year is None:
        return None
    last = matches[-1]
    month = MONTHS[last.group(2)]
    if last.group(1):
        try:
            return date(year, month, int(last.group(1)))
        except ValueError:
            return None
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
