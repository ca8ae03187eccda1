"""The Document: what a source says now, as plain data.

Every source kind (an HTML page, an API item, a search, a feed) produces a Document.
It holds no markup and no per-response noise, so two fetches of unchanged content give
equal Documents and the same content hash. Snapshots, diffs and matching all work on it.

It holds no control characters either: whatever a source sent, every string of a Document
and its Items is free of C0 and C1 controls (tab and newline aside), so none reaches the
database (PostgreSQL refuses NUL), a terminal (escape sequences) or an email.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

# What an item's note is. Only the publisher's change note is a change note; a search
# result's description or a feed entry's summary says what a document is, not what changed.
NOTE_CHANGE = "change note"
NOTE_DESCRIPTION = "description"  # a search result's description (and an unlabelled discovered document's note)
NOTE_SUMMARY = "summary"  # a feed entry's summary or content
NOTE_DOCUMENT_TYPE = "document type"  # a search result without a description
NOTE_PUBLICATION_TYPE = "publication type"  # a committee publication's type
NOTE_PUBLICATION_INQUIRY = "publication type and inquiry"  # ... and the inquiry it belongs to
# A written question's text and its answer (``Question: … Answer: …``), as answered now.
NOTE_ANSWER = "answer"
NOTE_HOLDING_ANSWER = "holding answer"  # a holding answer: the real one comes later
NOTE_CORRECTED_ANSWER = "corrected answer"
NOTE_STATEMENT = "statement"  # a written statement's text
NOTE_LABELS = (NOTE_CHANGE, NOTE_DESCRIPTION, NOTE_SUMMARY, NOTE_DOCUMENT_TYPE, NOTE_PUBLICATION_TYPE,
               NOTE_PUBLICATION_INQUIRY, NOTE_ANSWER, NOTE_HOLDING_ANSWER, NOTE_CORRECTED_ANSWER, NOTE_STATEMENT)


@dataclass(frozen=True, slots=True)
class Noun:
    """A word for things, for one and for several."""

    one: str
    many: str

    def of(self, count: int) -> str:
        return self.one if count == 1 else self.many


@dataclass(frozen=True, slots=True)
class ItemKind:
    """Everything sendwatch knows about one kind of item, in one place: how it is named in a
    summary, a diff and the dashboard, what its note is, and what it is worth to matching.
    Adding a kind is adding a row to ``ITEM_KINDS``; nothing else branches on the names."""

    name: str  # as stored in a document's items ("change-note")
    noun: Noun  # in a one-line summary and a diff ("2 documents added")
    rank: int  # its place in a summary: what was published comes first
    # A note item: its text is its note, with the date it was written (a change note).
    # Any other is shown by its title, with its note after.
    is_note: bool = False
    # What its note is when the source did not say (Item.note_label).
    default_note: str = NOTE_DESCRIPTION
    # A summary quotes each added one whole ("notice: '...'") rather than counting them.
    quoted: bool = False
    # Only additions are news: one removed or changed goes unsaid in a summary.
    additions_only: bool = False
    # Matching: its title is the title of a document (evidence as "document title"); its
    # note is read as evidence (as a change note, or as what its label says it is); a new
    # one is something published (a link added to a watched page is one too: an inquiry's
    # page lists each letter as a link).
    title_is_evidence: bool = True
    note_is_evidence: bool = False
    publishes: bool = True
    # A document a discovery source found: scored alone against every commitment, and
    # followed from then on when it is a development.
    discovered: bool = False
    # For a discovered kind, what one is as a document ("new document", "updated publication").
    document_noun: Noun | None = None
    # Its note names what it is: the development is a "new government response", not a
    # "new publication".
    named_by_note: bool = False
    # Known by its key within this namespace rather than by its address (a committee
    # publication's id: its files have addresses of their own).
    key_space: str | None = None

    @property
    def label(self) -> str:
        """Its heading in the dashboard: ``Change note``."""
        return self.noun.one[:1].upper() + self.noun.one[1:]


# Kinds of item. Items are the structured parts of a document that people care about
# one by one: a new attachment or a new change note is news in itself.
ATTACHMENT = "attachment"  # a document published on the page (PDF, HTML publication...)
LINK = "link"  # a link to another document in the content
CHANGE_NOTE = "change-note"  # an entry of the page's change history
NOTICE = "notice"  # a withdrawal or other notice shown on the page
RESULT = "result"  # a search result or feed entry (discovery sources)
PUBLICATION = "publication"  # a committee publication
WRITTEN_ANSWER = "written-answer"  # a written question to a minister, with its answer
WRITTEN_STATEMENT = "written-statement"  # a minister's written statement to Parliament

ITEM_KINDS: dict[str, ItemKind] = {kind.name: kind for kind in (
    ItemKind(NOTICE, Noun("notice", "notices"), rank=0, quoted=True),
    ItemKind(ATTACHMENT, Noun("document", "documents"), rank=1),
    ItemKind(PUBLICATION, Noun("publication", "publications"), rank=2, note_is_evidence=True, discovered=True,
             document_noun=Noun("publication", "publications"), named_by_note=True,
             key_space="parliament-publication"),
    ItemKind(RESULT, Noun("new document", "new documents"), rank=3, note_is_evidence=True, discovered=True,
             document_noun=Noun("document", "documents")),
    ItemKind(CHANGE_NOTE, Noun("change note", "change notes"), rank=4, is_note=True, default_note=NOTE_CHANGE,
             quoted=True, additions_only=True, title_is_evidence=False, note_is_evidence=True),
    ItemKind(LINK, Noun("link", "links"), rank=5),
    # A question is one document whatever its address (known by the API's id: a UIN is
    # used again in each session), and so is a statement.
    ItemKind(WRITTEN_STATEMENT, Noun("written statement", "written statements"), rank=6, note_is_evidence=True,
             default_note=NOTE_STATEMENT, discovered=True,
             document_noun=Noun("written statement", "written statements"),
             key_space="parliament-written-statement"),
    ItemKind(WRITTEN_ANSWER, Noun("written answer", "written answers"), rank=7, note_is_evidence=True,
             default_note=NOTE_ANSWER, discovered=True, document_noun=Noun("written answer", "written answers"),
             key_space="parliament-written-question"),
)}


def item_kind(name: str) -> ItemKind:
    """The kind called ``name``; a name no row holds (stored by some other version) is a
    plain "item", shown and compared but never summarised or matched."""
    kind = ITEM_KINDS.get(name)
    if kind is None:
        return ItemKind(name, Noun("item", "items"), rank=len(ITEM_KINDS), title_is_evidence=False,
                        publishes=False)
    return kind


# C0 and C1 controls and DEL, all but tab and newline, and lone surrogates (a JSON string may
# hold "\ud800"). From a watched page they are never content: PostgreSQL refuses NUL, ESC, BEL
# and BS drive terminals, and a lone surrogate cannot even be written as UTF-8.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_ITEM_FIELDS = ("kind", "key", "title", "url", "date", "note", "note_kind", "by")


def without_controls(text: str) -> str:
    """``text`` without C0/C1 control characters or lone surrogates; tab and newline are kept."""
    # isprintable() is one C loop and true for nearly all text: the regex runs only when
    # something (a control, a tab, a newline, a format character) may need it.
    return text if text.isprintable() else _CONTROLS.sub("", text)


@dataclass(frozen=True, slots=True)
class Item:
    """One structured part of a document, identified by ``(kind, key)``.

    ``key`` is stable across fetches (a URL for a document, date and text for a change
    note), so that adding an attachment is reported as one addition, not a reshuffle.
    """

    kind: str
    key: str
    title: str = ""
    url: str | None = None
    date: str | None = None  # ISO 8601 date or instant, as the source gave it
    note: str | None = None  # a change note, a description, a document type...
    # What ``note`` is (NOTE_CHANGE, NOTE_DESCRIPTION...). It says how the text is labelled,
    # not what the document holds: it is not compared and not hashed, so snapshots stored
    # before it existed read the same and are not changes.
    note_kind: str | None = field(default=None, compare=False)
    # Who said it (a minister answering or making a statement), when the source names them.
    # Like ``note_kind`` it is attribution, not content: not compared, not hashed, so an item
    # read before sources named speakers is the same item.
    by: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not (self.kind.isprintable() and self.key.isprintable() and self.title.isprintable()  # quick, usual
                and (self.url or "").isprintable() and (self.date or "").isprintable()
                and (self.note or "").isprintable() and (self.by or "").isprintable()):
            for name in _ITEM_FIELDS:
                value = getattr(self, name)
                if isinstance(value, str):
                    object.__setattr__(self, name, without_controls(value))

    @property
    def identity(self) -> tuple[str, str]:
        return (self.kind, self.key)

    def to_dict(self) -> dict:
        data = {"kind": self.kind, "key": self.key, "title": self.title}
        for name in ("url", "date", "note", "note_kind", "by"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data

    @property
    def note_label(self) -> str:
        """What the note is, in words: its ``note_kind``; without one (an item stored before
        notes were labelled) its kind's default (a change note's note is one, any other's a
        description)."""
        return self.note_kind or item_kind(self.kind).default_note

    @classmethod
    def from_dict(cls, data: dict) -> Item:
        return cls(
            kind=data["kind"],
            key=data["key"],
            title=data.get("title", ""),
            url=data.get("url"),
            date=data.get("date"),
            note=data.get("note"),
            note_kind=data.get("note_kind"),
            by=data.get("by"),
        )

    def describe(self) -> str:
        """A short human label: the title, or the date and note of a note (a change note)."""
        if item_kind(self.kind).is_note:
            return f"{self.date + ': ' if self.date else ''}{self.note or self.title}"
        return self.title or self.url or self.key


@dataclass(frozen=True, slots=True)
class Document:
    """A source's content, normalised: title, text blocks and items.

    ``blocks`` are the readable text of the page in reading order, one paragraph,
    heading or list entry each, whitespace collapsed. ``items`` are sorted by kind and
    key so that order in the markup never counts as a change unless it is content.
    """

    title: str
    blocks: tuple[str, ...] = ()
    items: tuple[Item, ...] = field(default=())
    # content_hash, once computed: a Document never changes, and a check asks for the hash
    # twice (to compare with the stored one, then to store it), in the main process, while
    # the page was read in a worker process (which sends it along). Not content: not
    # compared, and not passed on by dataclasses.replace, so a changed copy is hashed anew.
    _hash: str | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", without_controls(self.title))
        object.__setattr__(self, "blocks", _clean_blocks(self.blocks))
        object.__setattr__(self, "items", _unique_sorted(self.items))

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "blocks": list(self.blocks),
            "items": [item.to_dict() for item in self.items],
        }

    def _content(self) -> dict:
        # What the document says, without how its notes are labelled or who said them (see Item.note_kind, Item.by).
        data = self.to_dict()
        for item in data["items"]:
            item.pop("note_kind", None)
            item.pop("by", None)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Document:
        return cls(
            title=data.get("title", ""),
            blocks=tuple(data.get("blocks", ())),
            items=tuple(Item.from_dict(i) for i in data.get("items", ())),
        )

    def to_json(self) -> str:
        return _canonical(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> Document:
        return cls.from_dict(json.loads(text))

    def content_hash(self) -> str:
        if self._hash is None:
            object.__setattr__(self, "_hash", hashlib.sha256(_canonical(self._content()).encode("utf-8")).hexdigest())
        assert self._hash is not None
        return self._hash

    def items_of(self, kind: str) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.kind == kind)

    @property
    def text(self) -> str:
        return "\n".join(self.blocks)


def _canonical(data: dict) -> str:
    # sort_keys and fixed separators make the text, and so the hash, canonical.
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _clean_blocks(blocks) -> tuple[str, ...]:
    blocks = tuple(blocks)
    if all(map(str.isprintable, blocks)):  # nearly always: one pass in C
        return blocks
    # A block that was nothing but control characters is no text at all.
    return tuple(cleaned for block in blocks if (cleaned := without_controls(block)) or not block)


def _unique_sorted(items) -> tuple[Item, ...]:
    # A page may link the same document twice (summary and body); it is one item.
    seen: dict[tuple[str, str], Item] = {}
    for item in items:
        seen.setdefault(item.identity, item)
    return tuple(sorted(seen.values(), key=lambda i: (i.kind, i.key)))
