"""From a change to developments: which commitments it bears on, with the evidence.

A change from an ordinary source is scored as a whole against the commitments its source
is configured for. A change from a discovery source (a search, a feed, a committee's
publications) is scored one discovered document at a time, against every commitment,
and a document that is a development can be followed from then on.

Each development names the document it is about (``document_key``), so the same document
found again by another route (the finder feed, a search, a watched page linking to it) is
recognised as the same event. A score a little below the threshold is a *possible*
development, for a person to confirm or reject; a document that resembles one a person
rejected for a commitment scores lower for it, with a hit that says so.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlsplit

from config.settings import SourceSettings, is_web_url
from monitor.core.addresses import document_key
from monitor.core.diff import Change
from monitor.core.document import CHANGE_NOTE, Item, item_kind
from monitor.core.drafts import DEVELOPMENT, POSSIBLE, DevelopmentDraft, Rejection
from monitor.core.match import THRESHOLD, Hit, Match, Specificity, Subject, Target, match
from monitor.core.restated import item_document, said_in

_SLUG = re.compile(r"[^a-z0-9]+")
_WORD = re.compile(r"\w+")

# A score from POSSIBLE_FROM up to the threshold is a possible development: close enough to
# ask a person, not enough to tell subscribers. Below it, a change is only a change.
POSSIBLE_FROM = 0.3
# A document whose title shares at least ALIKE of its words with one a person rejected for
# a commitment is at most a possible development for it (REJECTED_CEILING): a person said
# such a document is not news for that commitment, so the next one is asked about, not
# mailed. Only an expected document's title (the commitment names it) loses just
# REJECTED_WEIGHT and may stay a development (1.0 becomes 0.6).
ALIKE = 0.8
REJECTED_WEIGHT = 0.4
REJECTED_CEILING = 0.4
# How much of an updated document's note its development's title quotes.
NOTE_IN_TITLE = 300


@dataclass(frozen=True, slots=True)
class Judgement:
    """A commitment's Match, with what people's rejections take off it, and what that makes
    of it: a development, a possible development, or nothing."""

    found: Match
    rejected: tuple[Hit, ...] = ()

    @property
    def commitment_id(self) -> str:
        return self.found.commitment_id

    @property
    def score(self) -> float:
        return round(max(self.found.score + sum(h.weight for h in self.rejected), 0.0), 2)

    @property
    def status(self) -> str | None:
        if self.score >= THRESHOLD:
            return DEVELOPMENT
        return POSSIBLE if self.score >= POSSIBLE_FROM else None

    @property
    def hits(self) -> tuple[Hit, ...]:
        return self.found.hits + self.rejected

    def explain(self) -> str:
        """The scorer's own account, then what rejections took off and the verdict."""
        lines = [self.found.explain()]
        for hit in self.rejected:
            lines.append(f"  {hit.weight:+.2f} {hit.where}: {hit.text}")
        if self.rejected or self.status == POSSIBLE:
            verdict = {DEVELOPMENT: "a development",
                       POSSIBLE: f"a possible development (from {POSSIBLE_FROM} to {THRESHOLD}): a person "
                                 "confirms or rejects it with sendwatch review",
                       None: f"not a development (below {POSSIBLE_FROM})"}[self.status]
            lines.append(f"  = score {self.score:.2f}: {verdict}")
        return "\n".join(lines)


def judge(found: Match, titles: Sequence[str], rejections: Sequence[Rejection]) -> Judgement:
    """``found`` with a negative hit for each rejected document of its commitment whose
    title is like one of ``titles`` (the titles of what is being scored)."""
    rejected = []
    for rejection in rejections:
        if rejection.commitment_id != found.commitment_id:
            continue
        for title in titles:
            shared, total = _alike(title, rejection.title)
            if total and shared / total >= ALIKE:
                named = any(hit.where == "expected document" for hit in found.hits)
                weight = REJECTED_WEIGHT if named else max(REJECTED_WEIGHT, found.score - REJECTED_CEILING)
                rejected.append(Hit(
                    rejection.title, "rejected before",
                    f"{rejection.title!r} (by a person on {rejection.rejected_at:%Y-%m-%d}; "
                    f"{shared} of {total} words as in {title!r})", -round(weight, 2)))
                break
    return Judgement(found, tuple(rejected[:1]))  # one rejection says it; more would not say more


def _alike(a: str, b: str) -> tuple[int, int]:
    """Words two titles share, and the words of both: plain words, not the matcher's long
    forms, which would make every SEND title look like every other."""
    words_a, words_b = set(_WORD.findall(a.casefold())), set(_WORD.findall(b.casefold()))
    return len(words_a & words_b), len(words_a | words_b)


def item_key(item: Item, updated: bool = False) -> str | None:
    """The document a discovered item is: by its key in its kind's key space (a Committee
    publication by its id), else by its address. An update is an event of its own, known by
    the day it was made."""
    space = item_kind(item.kind).key_space
    key = f"{space}:{item.key}" if space else document_key(item.url)
    if key and updated and item.date:
        key += f"@{item.date[:10]}"
    return key


@dataclass(frozen=True, slots=True)
class Scored:
    """One thing a change offers, judged against the commitments: the change as a whole
    (``item`` None: a change from an ordinary source) or one discovered document (from a
    discovery source), with the judgement of every commitment it was scored against,
    whatever it came to."""

    item: Item | None
    updated: bool  # the item is a known document that changed, not a new one
    judgements: tuple[Judgement, ...]


def score_change(change: Change, *, commitments: Sequence[str], targets: Sequence[Target], discovers: bool,
                 rejections: Sequence[Rejection] = (),
                 specificity: Specificity | None = None, page: str | None = None) -> list[Scored]:
    """How a change scores: what ``find_developments`` makes developments of, and what
    ``sendwatch explain`` shows, point by point. ``commitments``: those its source is
    watched for; ``discovers``: whether the source is a discovery source, whose documents
    are each scored against every commitment; ``specificity``: how specific each phrase is
    (default: from ``targets`` alone, without the record's documents); ``page``: the
    address of the watched page the change is on."""
    specificity = specificity or Specificity.of(targets)
    if not discovers:
        bound = [t for t in targets if t.id in commitments]
        subject = Subject.of_change(change, page)
        return [Scored(None, False, tuple(judge(found, subject.titles, rejections)
                                          for found in match(subject, bound, commitments, specificity)))]
    updated = {new.identity for _old, new in change.updated_items}
    scored = []
    for item in list(change.added_items) + [new for _old, new in change.updated_items]:
        if not item_kind(item.kind).discovered:
            continue
        scored.append(Scored(item, item.identity in updated,
                             tuple(judge(found, (item.title,), rejections)
                                   for found in match(Subject.of_item(item), targets, commitments, specificity))))
    return scored


def find_developments(change: Change, *, source: SourceSettings, summary: str, targets: Sequence[Target],
                      discovers: bool, follow_kind=None,
                      rejections: Sequence[Rejection] = (),
                      specificity: Specificity | None = None) -> list[DevelopmentDraft]:
    """The developments and possible developments of ``change`` (see ``score_change``).
    ``follow_kind(item) -> kind | None`` says how to follow a discovered document (None:
    do not follow); ``rejections`` are the documents people rejected."""
    updated = {new.identity for _old, new in change.updated_items}
    drafts = []
    for scored in score_change(change, commitments=source.commitments, targets=targets, discovers=discovers,
                               rejections=rejections, specificity=specificity, page=source.url):
        item = scored.item
        for judged in scored.judgements:
            if (status := judged.status) is None:
                continue
            if item is None:
                evidence = _evidence(judged.found, change)
                url = evidence.url if evidence else None
                key = document_key(url) if url else _change_key(change, source)
                if key and evidence is not None and evidence.identity in updated:
                    # A link or attachment whose title changed (a consultation's outcome added
                    # to it) is news of its own, not another sighting of the document as it was.
                    key = item_key(evidence, updated=True) if evidence.date else f"{key}#{_version(evidence)}"
                drafts.append(_draft(judged, status, summary, url or source.url, document=key,
                                     document_title=evidence.title if evidence else None))
                continue
            # Only a web address is followed: a feed's link may be anything, javascript: included.
            follow = None
            if follow_kind and is_web_url(item.url) and (kind := follow_kind(item)):
                follow = follow_settings(item.url, kind, source, judged.commitment_id)
            # The dates a matched answer or statement gives for the commitment are restatements of it.
            restated = said_in(item, judged.commitment_id, item_document(item))
            drafts.append(replace(_draft(judged, status, _item_title(item, scored.updated), item.url, item.key,
                                         follow, item_key(item, scored.updated), item.title),
                                  restatements=restated))
    return drafts


def _version(item: Item) -> str:
    """A short name for what an item says now, for an update that carries no date."""
    return hashlib.sha256(f"{item.title}\n{item.note or ''}".encode()).hexdigest()[:8]


def _change_key(change: Change, source: SourceSettings) -> str | None:
    """A change that names no document, but adds the publisher's change note: the watched
    page's update of that day, as a search or feed would report the same update."""
    dates = sorted(i.date[:10] for i in change.added_items if i.kind == CHANGE_NOTE and i.date)
    key = document_key(source.url)
    return f"{key}@{dates[-1]}" if key and dates else None


def follow_settings(url: str, kind: str, source: SourceSettings, commitment_id: str) -> dict:
    """The settings of a followed source (the document at ``url``): its id is derived from
    the URL, so following the same document twice is recognised."""
    path = urlsplit(url).path.rstrip("/")
    slug = _SLUG.sub("-", path.rsplit("/", 1)[-1].lower()).strip("-")[:60] or "document"
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return {"id": f"followed-{slug}-{digest}", "kind": kind, "url": url,
            "interval": source.interval, "commitments": [commitment_id], "enabled": True}


def _evidence(found: Match, change: Change) -> Item | None:
    """The document whose title is the strongest evidence, if there is one with a link:
    "a new document was published" is best shown by that document."""
    titles = {hit.text for hit in found.hits
              if hit.where in ("expected document", "document title", "phrase words in title")}
    for item in list(change.added_items) + [new for _old, new in change.updated_items]:
        if item.url and item.title in titles:
            return item
    return None


def _item_title(item: Item, updated: bool) -> str:
    """``new document 'Title'``, ``new government response 'Title'`` (a kind named by its
    note), ``updated document 'Title' (change note: '...')``."""
    kind = item_kind(item.kind)
    named = bool(kind.named_by_note and item.note)
    what = (item.note or "").lower() if named else (kind.document_noun or kind.noun).one
    title = f"{'updated' if updated else 'new'} {what} '{item.title}'"
    if updated and item.note and not named:
        # A note may be a whole answer or statement: the title quotes its start, the change holds it all.
        note = item.note if len(item.note) <= NOTE_IN_TITLE else item.note[: NOTE_IN_TITLE - 1].rstrip() + "…"
        title += f" ({item.note_label}: '{note}')"
    return title


def _draft(judged: Judgement, status: str, title: str, url: str | None, item_key: str | None = None,
           follow: dict | None = None, document: str | None = None,
           document_title: str | None = None) -> DevelopmentDraft:
    return DevelopmentDraft(commitment_id=judged.commitment_id, title=title, score=judged.score,
                            evidence=[asdict(hit) for hit in judged.hits], item_key=item_key, url=url,
                            follow=follow, document_key=document, document_title=document_title,
                            status=status)
