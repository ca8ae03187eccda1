"""From a change to developments: which commitments it bears on, with the evidence.

A change from an ordinary source is scored as a whole against the commitments its source
is configured for. A change from a discovery source (a search, a feed, a committee's
publications) is scored one discovered document at a time, against every commitment,
and a document that is a development can be followed from then on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict
from urllib.parse import urlsplit

from config.settings import SourceSettings, is_web_url
from monitor.diff import Change
from monitor.document import PUBLICATION, RESULT, Item
from monitor.match import Match, Specificity, Subject, Target, match
from storage import DevelopmentDraft

_SLUG = re.compile(r"[^a-z0-9]+")


def find_developments(change: Change, *, source: SourceSettings, summary: str, targets: Sequence[Target],
                      discovers: bool, follow_kind=None,
                      specificity: Specificity | None = None) -> list[DevelopmentDraft]:
    """``follow_kind(item) -> kind | None`` says how to follow a discovered document
    (None: do not follow). ``specificity``: how specific each phrase is (default: from
    ``targets`` alone, without the record's documents)."""
    specificity = specificity or Specificity.of(targets)
    if not discovers:
        bound = [t for t in targets if t.id in source.commitments]
        found = [m for m in match(Subject.of_change(change), bound, source.commitments, specificity)
                 if m.relevant]
        return [_draft(m, summary, _evidence_url(m, change) or source.url) for m in found]
    drafts = []
    updated = {new.identity for _old, new in change.updated_items}
    items = list(change.added_items) + [new for _old, new in change.updated_items]
    for item in items:
        if item.kind not in (RESULT, PUBLICATION):
            continue
        title = _item_title(item, item.identity in updated)
        for found in match(Subject.of_item(item), targets, source.commitments, specificity):
            if not found.relevant:
                continue
            # Only a web address is followed: a feed's link may be anything, javascript: included.
            kind = follow_kind(item) if follow_kind and is_web_url(item.url) else None
            follow = follow_settings(item, kind, source, found.commitment_id) if kind else None
            drafts.append(_draft(found, title, item.url, item.key, follow))
    return drafts


def follow_settings(item: Item, kind: str, source: SourceSettings, commitment_id: str) -> dict:
    """The settings of a followed source: its id is derived from the URL, so following the
    same document twice is recognised."""
    path = urlsplit(item.url).path.rstrip("/")
    slug = _SLUG.sub("-", path.rsplit("/", 1)[-1].lower()).strip("-")[:60] or "document"
    digest = hashlib.sha256(item.url.encode()).hexdigest()[:8]
    return {"id": f"followed-{slug}-{digest}", "kind": kind, "url": item.url,
            "interval": source.interval, "commitments": [commitment_id], "enabled": True}


def _evidence_url(found: Match, change: Change) -> str | None:
    """The link of the document whose title is the strongest evidence, if there is one:
    "a new document was published" is best shown by that document."""
    titles = {hit.text for hit in found.hits if hit.where in ("expected document", "document title")}
    for item in list(change.added_items) + [new for _old, new in change.updated_items]:
        if item.url and item.title in titles:
            return item.url
    return None


def _item_title(item: Item, updated: bool) -> str:
    what = "updated document" if updated else "new document"
    if item.kind == PUBLICATION:
        what = f"{'updated' if updated else 'new'} {(item.note or 'publication').lower()}"
    title = f"{what} '{item.title}'"
    if updated and item.kind == RESULT and item.note:
        title += f" (change note: '{item.note}')"
    return title


def _draft(found: Match, title: str, url: str | None, item_key: str | None = None,
           follow: dict | None = None) -> DevelopmentDraft:
    return DevelopmentDraft(commitment_id=found.commitment_id, title=title, score=found.score,
                            evidence=[asdict(hit) for hit in found.hits], item_key=item_key, url=url,
                            follow=follow)
