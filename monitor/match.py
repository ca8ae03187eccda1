"""Does a change bear on a commitment? Deterministic, explainable phrase matching.

Phrases match the way a reader would: regardless of case, punctuation and plurals, with
SEND, EHCP and similar abbreviations equal to their long forms. Every point of a score
comes from a ``Hit`` that names the phrase, where it was found and the text it was found
in, so ``sendwatch explain`` can show exactly why something matched or did not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from monitor.diff import Change
from monitor.document import (
    ATTACHMENT,
    CHANGE_NOTE,
    LINK,
    NOTE_CHANGE,
    NOTE_DESCRIPTION,
    NOTE_DOCUMENT_TYPE,
    NOTE_PUBLICATION_TYPE,
    NOTE_SUMMARY,
    NOTICE,
    PUBLICATION,
    RESULT,
    Item,
)

THRESHOLD = 0.5

# Where a phrase was found, and what finding it there is worth. A document's own title or
# the publisher's change note is strong evidence; a line somewhere in the body less so.
WEIGHTS = {
    "expected document": 1.0,  # a title naming a document the commitment would deliver
    "document title": 0.8,
    "change note": 0.8,
    "added text": 0.5,
}
# The publisher's other words about a discovered document weigh as its change note would;
# each is named for what it is (a description, a feed entry's summary, a publication type).
for _label in (NOTE_DESCRIPTION, NOTE_SUMMARY, NOTE_DOCUMENT_TYPE, NOTE_PUBLICATION_TYPE):
    WEIGHTS[_label] = WEIGHTS["change note"]
# A source configured for a commitment that publishes a change note or a new document is
# news for that commitment even when it does not repeat the commitment's words.
BOUND_PUBLICATION = 0.5
BOUND_TEXT = 0.2
EXTRA_PHRASE = 0.1  # each further distinct phrase adds a little
_TEXT_LIMIT = 200

# Abbreviations, matched case-sensitively (so the verb "send" is not SEND), and the long
# form they stand for. Long forms are written already normalised (singular, lower case).
_ABBREVIATIONS = [
    (r"\bSENDCOs?\b|\bSENCOs?\b", "special educational need coordinator"),
    (r"\bSEND\b", "special educational need and disability"),
    (r"\bSEN\b", "special educational need"),
    (r"\bEHCPs?\b|\bEHC\s+plans?\b", "education health and care plan"),
    (r"\bAP\b", "alternative provision"),
    (r"\bCQC\b", "care quality commission"),
    (r"\bDfE\b", "department for education"),
    (r"\bIASS\b", "information advice and support service"),
]
_ABBREVIATION_RES = [(re.compile(pattern), long) for pattern, long in _ABBREVIATIONS]
_POSSESSIVE = re.compile(r"(\w)['’]s?\b")
_AND_OR = re.compile(r"\band\s*/\s*or\b", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+")
_KEEP_S = ("ss", "us", "is", "ous")


def singular(word: str) -> str:
    """A crude but predictable singular: enough for 'needs', 'disabilities', 'plans'."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


def normalise(text: str) -> str:
    """Text as a matcher sees it: long forms, lower case, no punctuation, singular words."""
    for pattern, long in _ABBREVIATION_RES:
        text = pattern.sub(f" {long} ", text)
    text = _AND_OR.sub(" and ", text)
    text = text.replace("&", " and ")
    text = _POSSESSIVE.sub(r"\1", text)
    words = _NON_WORD.sub(" ", text.casefold()).split()
    return " ".join(singular(w) for w in words)


@dataclass(frozen=True, slots=True)
class Subject:
    """The text of a change (or of one discovered document) that matching looks at."""

    titles: tuple[str, ...] = ()  # titles of documents added or updated
    notes: tuple[str, ...] = ()  # change notes added
    lines: tuple[str, ...] = ()  # text lines added
    publishes: bool = False  # a new document or change note was published
    # The publisher's other text about a discovered document: (what it is, the text).
    described: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_change(cls, change: Change) -> Subject:
        items = list(change.added_items) + [new for _old, new in change.updated_items]
        titles = tuple(i.title for i in items if i.kind in (ATTACHMENT, LINK, RESULT, PUBLICATION, NOTICE) and i.title)
        notes = tuple(i.note for i in items if i.kind == CHANGE_NOTE and i.note)
        # The note of a discovered document (its description, summary, or newest change
        # note) is publisher text about that document, named for what it is.
        discovered = [i for i in items if i.kind in (RESULT, PUBLICATION) and i.note]
        notes += tuple(i.note for i in discovered if i.note_label == NOTE_CHANGE)
        described = tuple((i.note_label, i.note) for i in discovered if i.note_label != NOTE_CHANGE)
        lines = change.added_lines
        if change.new_title != change.old_title:
            titles += (change.new_title,)
        publishes = any(i.kind in (ATTACHMENT, CHANGE_NOTE, RESULT, PUBLICATION, NOTICE) for i in items)
        return cls(titles, notes, tuple(lines), publishes, described)

    @classmethod
    def of_item(cls, item: Item) -> Subject:
        if not item.note:
            return cls((item.title,), (), (), True)
        if item.note_label == NOTE_CHANGE:
            return cls((item.title,), (item.note,), (), True)
        return cls((item.title,), (), (), True, ((item.note_label, item.note),))


@dataclass(frozen=True, slots=True)
class Hit:
    phrase: str
    where: str  # a key of WEIGHTS, or "watched source"
    text: str
    weight: float


@dataclass(frozen=True, slots=True)
class Match:
    commitment_id: str
    score: float
    hits: tuple[Hit, ...] = field(default=())

    @property
    def relevant(self) -> bool:
        return self.score >= THRESHOLD

    def explain(self) -> str:
        verdict = "matches" if self.relevant else "does not match"
        lines = [f"{self.commitment_id}: score {self.score:.2f} {verdict} (threshold {THRESHOLD})"]
        for hit in self.hits:
            lines.append(f"  +{hit.weight:.2f} {hit.where}: {hit.phrase!r} in {hit.text!r}")
        if not self.hits:
            lines.append("  no phrase or expected document found")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Target:
    """What matching needs of a commitment: its id, phrases and expected documents."""

    id: str
    phrases: tuple[str, ...]
    documents: tuple[str, ...] = ()


def _find(needles: Iterable[str], texts: Sequence[str], where: str) -> list[Hit]:
    hits = []
    normalised = [(text, f" {normalise(text)} ") for text in texts]
    for needle in needles:
        wanted = f" {normalise(needle)} "
        if wanted.strip() == "":
            continue
        for text, hay in normalised:
            if wanted in hay:
                hits.append(Hit(needle, where, _clip(text), WEIGHTS[where]))
                break
    return hits


def score(subject: Subject, target: Target, *, bound: bool = False) -> Match:
    """Score one subject against one commitment. ``bound``: the change came from a source
    configured for this commitment."""
    hits = _find(target.documents, subject.titles, "expected document")
    hits += _find(target.phrases, subject.titles, "document title")
    hits += _find(target.phrases, subject.notes, "change note")
    for label in dict.fromkeys(label for label, _text in subject.described):
        hits += _find(target.phrases, [text for each, text in subject.described if each == label],
                      label if label in WEIGHTS else NOTE_DESCRIPTION)
    hits += _find(target.phrases, subject.lines, "added text")
    best: dict[str, Hit] = {}
    for hit in hits:  # a phrase counts once, where it weighs most
        if hit.phrase not in best or hit.weight > best[hit.phrase].weight:
            best[hit.phrase] = hit
    ranked = sorted(best.values(), key=lambda h: (-h.weight, h.phrase))
    total = ranked[0].weight + EXTRA_PHRASE * min(len(ranked) - 1, 3) if ranked else 0.0
    if bound and (subject.publishes or subject.lines):
        weight = BOUND_PUBLICATION if subject.publishes else BOUND_TEXT
        what = "published a document or change note" if subject.publishes else "changed its text"
        ranked.append(Hit("(source watched for this commitment)", "watched source", what, weight))
        total += weight
    return Match(target.id, round(min(total, 1.0), 2), tuple(ranked))


def match(subject: Subject, targets: Iterable[Target], bound: Iterable[str] = ()) -> list[Match]:
    """Every target's Match, best first (relevant or not, for explanations)."""
    bound = set(bound)
    results = [score(subject, t, bound=t.id in bound) for t in targets]
    return sorted(results, key=lambda m: (-m.score, m.commitment_id))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"
