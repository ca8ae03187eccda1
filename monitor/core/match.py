"""Does a change bear on a commitment? Deterministic, explainable phrase matching.

Phrases match the way a reader would: regardless of case, punctuation and plurals, with
SEND, EHCP and similar abbreviations equal to their long forms. Every point of a score
comes from a ``Hit`` that names the phrase, where it was found and the text it was found
in, so ``sendwatch explain`` can show exactly why something matched or did not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from monitor.core.addresses import part_of, same_document
from monitor.core.diff import Change
from monitor.core.document import NOTE_CHANGE, NOTE_DESCRIPTION, NOTE_DOCUMENT_TYPE, NOTE_LABELS, Item, item_kind

THRESHOLD = 0.5

# Where a phrase was found, and what finding it there is worth. A document's own title or
# the publisher's change note is strong evidence; a discovered document's description
# (what a search result, feed entry or Content API item says of itself) a little less; a
# line somewhere in the body less again.
WEIGHTS = {
    "expected document": 1.0,  # a title naming a document the commitment would deliver
    "document title": 0.8,
    "change note": 0.8,
    "description": 0.6,
    "added text": 0.5,
    # Every word of a phrase, in another order or with words between: "New review into
    # support for children with special educational needs" says "SEND review" this way.
    "phrase words in title": 0.5,
    "phrase words in note or description": 0.4,
    # A document the commitment is known to bear on (a development the watchlist records,
    # with its address): a new part of it, or the publisher's change note on it, is news of
    # that commitment whatever its words (the SEND and AP roadmap, published under the
    # improvement plan's address; "See 'Summary of changes'." on the area SEND framework).
    "part of a known document": 0.5,
    "change note on a known document": 0.5,
}
# The publisher's other words about a discovered document, each named for what it is (a
# description, a feed entry's summary, a document or publication type), weigh as a
# description does.
for _label in NOTE_LABELS:
    WEIGHTS.setdefault(_label, WEIGHTS["description"])
EXTRA_PHRASE = 0.1  # each further distinct phrase adds a little
# A phrase that names only what sendwatch watches ("special educational needs and
# disabilities", "alternative provision") is in nearly every document it discovers: it
# weighs this much in a title, note or description, and nothing in body text.
TOPIC_ONLY = 0.25
# The commitment's own title and promise: each distinctive word of them in the titles,
# notes or descriptions adds this much, up to PROMISE_CAP. Never enough on its own.
PROMISE_WORD = 0.1
PROMISE_CAP = 0.3
# A statistical release reports figures on a subject: news for a promise about data (the
# tribunal appeals data), at most a possible development for any other (the outcomes of
# area SEND inspections do not change the inspection framework). GOV.UK publishes every
# statistical release under /government/statistics/; the Search API names its type.
STATISTICS_CEILING = 0.4
_STATISTICS_PATH = "/government/statistics/"
_ABOUT_DATA = frozenset({"data", "statistic", "figure"})
# A source watched for a commitment strengthens other evidence; alone it is none.
BOUND_PUBLICATION = 0.25
BOUND_TEXT = 0.1
# A phrase found in more than this share of the documents sendwatch has discovered
# weighs less, in proportion (in one document in five: half) ...
COMMON_SHARE = 0.1
# ... once there are enough documents for a share to mean something.
CORPUS_MINIMUM = 20
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


# For word-level comparisons each long form is one word, so that "special educational needs
# and disabilities" is the single idea SEND, not five words shared with everything else.
# SEN and SEND are one idea here: GOV.UK titles use either for the same thing ("New review
# into support for children with special educational needs" announced the SEND Review).
_CONCEPTS = [(f" {long} ", f" {token} ") for long, token in (
    ("special educational need coordinator", "senco"),
    ("special educational need and disability", "send"),
    ("special educational need", "send"),
    ("education health and care plan", "ehcp"),
    ("alternative provision", "ap"),
)]
# What sendwatch watches as a whole: naming only these says a document is about SEND,
# not which promise it bears on.
TOPIC = frozenset({"send", "ap", "ehcp", "senco"})
# Function words, and the words a publication uses of itself whatever it is about (a
# report, a government response, a letter, an update): neither tells promises apart.
_STOPWORDS = frozenset("""
a about after all also an and any are as at be been before being between but by can could do does during
each for from had has have how if in into is it its may more most much must new no not of on
one or other our out over should so some such than that the their them then there these they
this those through to under up upon was we were what when where which while who will with
within would year
added adding change changed committee consultation correspondence department document evidence
first government guidance letter minister news oral paper publication published regarding report
response secretary session state statement update updated written
""".split())


def words(text: str) -> list[str]:
    """The words of ``text`` that can tell one subject from another: normalised, long forms
    as one word each, without function words."""
    hay = f" {normalise(text)} "
    for long, token in _CONCEPTS:
        hay = hay.replace(long, token)
    return [w for w in hay.split() if w not in _STOPWORDS]


@dataclass(frozen=True, slots=True)
class Subject:
    """The text of a change (or of one discovered document) that matching looks at."""

    titles: tuple[str, ...] = ()  # titles of documents added or updated
    notes: tuple[str, ...] = ()  # change notes added
    lines: tuple[str, ...] = ()  # text lines added
    publishes: bool = False  # a new document or change note was published
    # The publisher's other text about a discovered document: (what it is, the text).
    described: tuple[tuple[str, str], ...] = ()
    page: str | None = None  # the watched page the change was on
    addresses: tuple[str, ...] = ()  # where the discovered document is

    @property
    def statistical(self) -> str | None:
        """What shows a discovered document is a statistical release (its GOV.UK address or
        its type), or None."""
        for address in self.addresses:
            if _on_govuk(address) and urlsplit(address).path.startswith(_STATISTICS_PATH):
                return address
        return next((text for label, text in self.described
                     if label == NOTE_DOCUMENT_TYPE and "statistic" in text.casefold()), None)

    @property
    def descriptions(self) -> tuple[str, ...]:
        """What discovered documents say of themselves, or their type, whatever its label."""
        return tuple(text for _label, text in self.described)

    @classmethod
    def of_change(cls, change: Change, page: str | None = None) -> Subject:
        items = list(change.added_items) + [new for _old, new in change.updated_items]
        titles = tuple(i.title for i in items if item_kind(i.kind).title_is_evidence and i.title)
        # A note read as evidence is a change note, or publisher text about a discovered
        # document (its description, summary, or newest change note) named for what it is.
        read = [(i.note_label, i.note) for i in items if item_kind(i.kind).note_is_evidence and i.note]
        notes = tuple(note for label, note in read if label == NOTE_CHANGE)
        described = tuple((label, note) for label, note in read if label != NOTE_CHANGE)
        lines = change.added_lines
        if change.new_title != change.old_title:
            titles += (change.new_title,)
        publishes = any(item_kind(i.kind).publishes for i in items)
        return cls(titles, notes, tuple(lines), publishes, described, page)

    @classmethod
    def of_item(cls, item: Item) -> Subject:
        addresses = (item.url,) if item.url else ()
        if not item.note:
            return cls((item.title,), (), (), True, addresses=addresses)
        if item.note_label == NOTE_CHANGE:
            return cls((item.title,), (item.note,), (), True, addresses=addresses)
        return cls((item.title,), (), (), True, ((item.note_label, item.note),), addresses=addresses)


@dataclass(frozen=True, slots=True)
class Hit:
    phrase: str
    where: str  # a key of WEIGHTS, "names only SEND", "promise words" or "watched source"
    text: str
    weight: float
    why: str = ""  # why the weight is less than the place alone would give


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
            why = f" ({hit.why})" if hit.why else ""
            lines.append(f"  {hit.weight:+.2f} {hit.where}: {hit.phrase!r} in {hit.text!r}{why}")
        if not self.hits:
            lines.append("  no phrase or expected document found")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Target:
    """What matching needs of a commitment: its id, phrases and expected documents, and
    its own words (title and promise)."""

    id: str
    phrases: tuple[str, ...]
    documents: tuple[str, ...] = ()
    promise: str = ""
    known: tuple[str, ...] = ()  # addresses of documents known to bear on it


@dataclass(frozen=True, slots=True)
class Specificity:
    """How specific each phrase and promise word is, from all the commitments and the
    documents sendwatch has discovered. Plain data: the record's documents come in as text."""

    sharing: Mapping[str, int] = field(default_factory=dict)  # normalised phrase -> commitments with it
    common: Mapping[str, int] = field(default_factory=dict)  # normalised phrase -> documents with it
    documents: int = 0  # documents discovered
    distinctive: Mapping[str, frozenset[str]] = field(default_factory=dict)  # commitment -> its own words

    @classmethod
    def of(cls, targets: Iterable[Target], discovered: Iterable[str] = ()) -> Specificity:
        targets = list(targets)
        sharing: dict[str, int] = {}
        for target in targets:
            for phrase in {normalise(p) for p in target.phrases}:
                sharing[phrase] = sharing.get(phrase, 0) + 1
        hays = [f" {normalise(text)} " for text in discovered]
        common = {phrase: sum(1 for hay in hays if f" {phrase} " in hay) for phrase in sharing if phrase}
        own = {t.id: set(words(t.promise)) - TOPIC for t in targets}
        # A word in the promises of more than a fifth of the commitments (at least two)
        # does not tell them apart: "review" is in five of the shipped ten.
        limit = max(2, len(targets) // 5)
        counts: dict[str, int] = {}
        for vocabulary in own.values():
            for word in vocabulary:
                counts[word] = counts.get(word, 0) + 1
        distinctive = {tid: frozenset(w for w in vocabulary if counts[w] <= limit and not w.isdigit())
                       for tid, vocabulary in own.items()}
        return cls(sharing, common, len(hays), distinctive)

    def factor(self, phrase: str) -> tuple[float, str]:
        """What a phrase's weight is multiplied by, and why (empty when by 1)."""
        key = normalise(phrase)
        factor, why = 1.0, []
        shared = self.sharing.get(key, 1)
        if shared > 1:
            factor /= shared ** 0.5
            why.append(f"shared by {shared} commitments")
        if self.documents >= CORPUS_MINIMUM:
            share = self.common.get(key, 0) / self.documents
            if share > COMMON_SHARE:
                factor *= COMMON_SHARE / share
                why.append(f"in {self.common[key]} of {self.documents} discovered documents")
        return factor, (", ".join(why) + f": x{factor:.2f}") if why else ""


def _find(needles: Iterable[str], texts: Sequence[str], where: str, specificity: Specificity) -> list[Hit]:
    hits = []
    normalised = [(text, f" {normalise(text)} ") for text in texts]
    for needle in needles:
        wanted = f" {normalise(needle)} "
        if wanted.strip() == "":
            continue
        for text, hay in normalised:
            if wanted in hay:
                hits.append(_weighed(needle, where, text, specificity))
                break
    return hits


def _find_words(phrases: Iterable[str], texts: Sequence[str], where: str, specificity: Specificity) -> list[Hit]:
    """Phrases whose every word is in one text, in any order; only phrases of two words or
    more, as one word in any order is just the word."""
    hits = []
    bags = [(text, set(words(text))) for text in texts]
    for phrase in phrases:
        wanted = set(words(phrase))
        if len(wanted) < 2 or wanted <= TOPIC:
            continue
        for text, bag in bags:
            if wanted <= bag:
                hits.append(_weighed(phrase, where, text, specificity))
                break
    return hits


def _weighed(phrase: str, where: str, text: str, specificity: Specificity) -> Hit:
    plain = set(words(phrase))
    if plain and plain <= TOPIC:  # (a phrase of function words only is weighed as it is)
        if where == "added text":
            return Hit(phrase, "names only SEND", _clip(text), 0.0, "in body text: nothing")
        return Hit(phrase, "names only SEND", _clip(text), TOPIC_ONLY, f"found as {where}")
    if where == "expected document":  # a document named for this commitment is never generic
        return Hit(phrase, where, _clip(text), WEIGHTS[where])
    factor, why = specificity.factor(phrase)
    return Hit(phrase, where, _clip(text), round(WEIGHTS[where] * factor, 2), why)


def _known_documents(subject: Subject, target: Target) -> list[Hit]:
    """A discovered document published as a part of a document known to bear on the
    commitment, and a change note on such a document's own (watched) page."""
    hits = []
    for known in target.known:
        part = next((a for a in subject.addresses if part_of(a, known)), None)
        if part is not None:
            hits.append(Hit(known, "part of a known document", _clip(f"{subject.titles[0]} ({part})"),
                            WEIGHTS["part of a known document"]))
        elif subject.notes and same_document(subject.page, known):
            hits.append(Hit(known, "change note on a known document", _clip(subject.notes[0]),
                            WEIGHTS["change note on a known document"]))
    return hits[:1]  # two known documents of one commitment say it no more strongly


def _promise_words(subject: Subject, target: Target, specificity: Specificity) -> Hit | None:
    own = specificity.distinctive.get(target.id)
    if own is None:  # scored without the commitments' statistics: its own words, unweighed
        own = frozenset(words(target.promise)) - TOPIC
    texts = subject.titles + subject.notes + subject.descriptions
    found = sorted(own & {w for text in texts for w in words(text)})
    if not found:
        return None
    weight = round(min(PROMISE_WORD * len(found), PROMISE_CAP), 2)
    return Hit(", ".join(found), "promise words", _clip(" / ".join(texts)), weight)


_NO_STATISTICS = Specificity()


def score(subject: Subject, target: Target, *, bound: bool = False,
          specificity: Specificity = _NO_STATISTICS) -> Match:
    """Score one subject against one commitment. ``bound``: the change came from a source
    configured for this commitment."""
    hits = _find(target.documents, subject.titles, "expected document", specificity)
    hits += _find(target.phrases, subject.titles, "document title", specificity)
    hits += _find(target.phrases, subject.notes, "change note", specificity)
    for label in dict.fromkeys(label for label, _text in subject.described):
        hits += _find(target.phrases, [text for each, text in subject.described if each == label],
                      label if label in WEIGHTS else NOTE_DESCRIPTION, specificity)
    hits += _find(target.phrases, subject.lines, "added text", specificity)
    hits += _find_words(target.phrases, subject.titles, "phrase words in title", specificity)
    hits += _find_words(target.phrases, subject.notes + subject.descriptions, "phrase words in note or description",
                        specificity)
    hits += _known_documents(subject, target)
    best: dict[str, Hit] = {}
    for hit in hits:  # a phrase counts once, where it weighs most
        if hit.weight > 0 and (hit.phrase not in best or hit.weight > best[hit.phrase].weight):
            best[hit.phrase] = hit
    ranked = sorted(best.values(), key=lambda h: (-h.weight, h.phrase))
    if ranked:
        extra = [Hit(h.phrase, h.where, h.text, min(h.weight, EXTRA_PHRASE), "a further phrase")
                 for h in ranked[1:4]]
        ranked = ranked[:1] + extra
    promise = _promise_words(subject, target, specificity)
    if promise:
        ranked.append(promise)
    # Being watched strengthens a phrase; it never makes a development with the promise's
    # words alone (a change note "Code of practice: fixed broken links" is not news).
    if bound and best and (subject.publishes or subject.lines):
        weight = BOUND_PUBLICATION if subject.publishes else BOUND_TEXT
        what = "published a document or change note" if subject.publishes else "changed its text"
        ranked.append(Hit("(source watched for this commitment)", "watched source", what, weight))
    total = min(sum(h.weight for h in ranked), 1.0)
    if total > STATISTICS_CEILING and (shown := subject.statistical) and not _ABOUT_DATA & set(words(target.promise)):
        ranked.append(Hit(shown, "statistical release", "figures, for a promise that is not about data",
                          round(STATISTICS_CEILING - total, 2), "at most a possible development"))
        total = STATISTICS_CEILING
    return Match(target.id, round(total, 2), tuple(ranked))


def match(subject: Subject, targets: Iterable[Target], bound: Iterable[str] = (),
          specificity: Specificity = _NO_STATISTICS) -> list[Match]:
    """Every target's Match, best first (relevant or not, for explanations)."""
    bound = set(bound)
    results = [score(subject, t, bound=t.id in bound, specificity=specificity) for t in targets]
    return sorted(results, key=lambda m: (-m.score, m.commitment_id))


def _on_govuk(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in ("www.gov.uk", "gov.uk")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"
