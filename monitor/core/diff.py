"""The difference between two Documents, and a summary a person can read in one line."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.core.document import ITEM_KINDS, Document, Item, ItemKind, item_kind

_SHOWN_TITLES = 3
# Beyond this many text blocks (both versions together) a line-by-line alignment costs
# seconds, and would stall the service: very long pages are compared as sets of lines.
SEQUENCE_LIMIT = 20_000
_TITLE_LIMIT = 80


@dataclass(frozen=True, slots=True)
class Change:
    """What changed between two versions of a source's document."""

    old_title: str
    new_title: str
    added_lines: tuple[str, ...] = ()
    removed_lines: tuple[str, ...] = ()
    added_items: tuple[Item, ...] = ()
    removed_items: tuple[Item, ...] = ()
    updated_items: tuple[tuple[Item, Item], ...] = ()  # same identity, new title/date/note/url

    @property
    def is_empty(self) -> bool:
        return not (self.old_title != self.new_title or self.added_lines or self.removed_lines
                    or self.added_items or self.removed_items or self.updated_items)

    @property
    def summary(self) -> str:
        return summarise(self)

    def to_dict(self) -> dict:
        return {
            "old_title": self.old_title,
            "new_title": self.new_title,
            "added_lines": list(self.added_lines),
            "removed_lines": list(self.removed_lines),
            "added_items": [i.to_dict() for i in self.added_items],
            "removed_items": [i.to_dict() for i in self.removed_items],
            "updated_items": [[a.to_dict(), b.to_dict()] for a, b in self.updated_items],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Change:
        return cls(
            old_title=data["old_title"],
            new_title=data["new_title"],
            added_lines=tuple(data.get("added_lines", ())),
            removed_lines=tuple(data.get("removed_lines", ())),
            added_items=tuple(Item.from_dict(i) for i in data.get("added_items", ())),
            removed_items=tuple(Item.from_dict(i) for i in data.get("removed_items", ())),
            updated_items=tuple((Item.from_dict(a), Item.from_dict(b))
                                for a, b in data.get("updated_items", ())),
        )


def diff_documents(old: Document, new: Document) -> Change:
    added_lines: list[str] = []
    removed_lines: list[str] = []
    for hunk in hunks(old.blocks, new.blocks, context=0):
        for line in hunk:
            (added_lines if line.op == ADDED else removed_lines).append(line.text)
    added, removed, updated = _item_diff(old, new)
    return Change(old.title, new.title, tuple(added_lines), tuple(removed_lines), added, removed, updated)


SAME, ADDED, REMOVED = "same", "added", "removed"


@dataclass(frozen=True, slots=True)
class TextLine:
    """One text block in a diff: unchanged context, added or removed."""

    op: str  # same | added | removed
    text: str


def hunks(old: Sequence[str], new: Sequence[str], context: int = 2) -> list[list[TextLine]]:
    """The text blocks that changed, in page order, each run with ``context`` unchanged
    blocks around it. Very long documents get one hunk of removed then added lines."""
    old, new = tuple(old), tuple(new)
    if old == new:
        return []
    if len(old) + len(new) > SEQUENCE_LIMIT:
        added, removed = _multiset_diff(old, new)
        return [[TextLine(REMOVED, t) for t in removed] + [TextLine(ADDED, t) for t in added]]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    result = []
    for group in matcher.get_grouped_opcodes(context):
        lines: list[TextLine] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [TextLine(SAME, text) for text in new[j1:j2]]
                continue
            if tag in ("replace", "delete"):
                lines += [TextLine(REMOVED, text) for text in old[i1:i2]]
            if tag in ("replace", "insert"):
                lines += [TextLine(ADDED, text) for text in new[j1:j2]]
        result.append(lines)
    return result


def _item_diff(old: Document, new: Document):
    old_items = {item.identity: item for item in old.items}
    new_items = {item.identity: item for item in new.items}
    added = tuple(item for key, item in new_items.items() if key not in old_items)
    removed = tuple(item for key, item in old_items.items() if key not in new_items)
    updated = tuple((old_items[key], item) for key, item in new_items.items()
                    if key in old_items and old_items[key] != item)
    return added, removed, updated


def _multiset_diff(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Lines added and removed, ignoring moves: linear where SequenceMatcher is quadratic."""
    from collections import Counter

    before, after = Counter(old), Counter(new)
    added, removed = after - before, before - after
    return ([line for line in new if added[line] and not added.subtract([line])],
            [line for line in old if removed[line] and not removed.subtract([line])])


def summarise(change: Change) -> str:
    """E.g. ``2 documents added: 'Plan', 'Annex'; change note: 'Added the annex'; 3 lines added``."""
    parts: list[str] = []
    if change.old_title != change.new_title:
        parts.append(f"title changed to {_quote(change.new_title)}")
    for kind in sorted(ITEM_KINDS.values(), key=lambda k: k.rank):
        added = [i for i in change.added_items if i.kind == kind.name]
        removed = [i for i in change.removed_items if i.kind == kind.name]
        updated = [new for _, new in change.updated_items if new.kind == kind.name]
        if kind.quoted and added:
            # The publisher's own words (a change note, a withdrawal notice), quoted whole and
            # newest first, are the news; what they replace goes unsaid.
            for item in sorted(added, key=lambda i: i.date or "", reverse=True):
                parts.append(f"{kind.noun.one}: {_quote(_text(item, kind), limit=200)}")
            continue
        if kind.additions_only:
            continue
        for items, verb in ((added, "added"), (removed, "removed"), (updated, "updated")):
            if items:
                parts.append(_count_phrase(kind, items, verb))
    # A page shows a new document's title and size as text too; those lines are the
    # document already named above, not further news.
    added_count = _beyond_items(change.added_lines, change.added_items)
    removed_count = _beyond_items(change.removed_lines, change.removed_items)
    lines = []
    if added_count:
        lines.append(f"{_plural(added_count, 'line')} added")
    if removed_count:
        lines.append(f"{_plural(removed_count, 'line')} removed")
    if lines:
        parts.append(", ".join(lines))
    return "; ".join(parts) if parts else "no change"


def _beyond_items(lines: tuple[str, ...], items: tuple[Item, ...]) -> int:
    said = {text for item in items for text in (item.title, item.note) if text}
    return sum(1 for line in lines if line not in said)


def _text(item: Item, kind: ItemKind) -> str:
    return (item.note or item.title) if kind.is_note else item.title


def _count_phrase(kind: ItemKind, items: list[Item], verb: str) -> str:
    noun = kind.noun.of(len(items))
    titles = ", ".join(_quote(i.describe()) for i in items[:_SHOWN_TITLES])
    more = f" and {len(items) - _SHOWN_TITLES} more" if len(items) > _SHOWN_TITLES else ""
    return f"{len(items)} {noun} {verb}: {titles}{more}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _quote(text: str, limit: int = _TITLE_LIMIT) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f"'{text}'"


def render_text(old: Document, new: Document, *, context: int = 2) -> str:
    """A readable diff of the text (runs of changed lines with context, ``...`` between
    runs), then the items added, removed and updated."""
    out: list[str] = []
    if old.title != new.title:
        out += [f"- title: {old.title}", f"+ title: {new.title}"]
    signs = {SAME: " ", ADDED: "+", REMOVED: "-"}
    for number, hunk in enumerate(hunks(old.blocks, new.blocks, context)):
        if number:
            out.append("...")
        out += [f"{signs[line.op]}{line.text}" for line in hunk]
    added, removed, updated = _item_diff(old, new)
    for label, items in (("added", added), ("removed", removed)):
        for item in items:
            sign = "+" if label == "added" else "-"
            link = f" <{item.url}>" if item.url else ""
            out.append(f"{sign} {item_kind(item.kind).noun.one} {label}: {item.describe()}{link}")
    for before, after in updated:
        out.append(f"~ {item_kind(after.kind).noun.one} updated: {before.describe()} -> "
                   f"{after.describe()}")
    return "\n".join(out) if out else "(no differences)"
