"""Score the watchlist's matching on the labelled corpus beside this file.

Each corpus item is turned into the Change it would be for sendwatch, by the route it would
arrive by, and goes through sendwatch's own ``find_developments``:

- ``search``, ``feed``, ``committee``: a discovery source adds one result (search result or feed
  entry, its description as the note) or one Committee publication (its type as the note, as
  the Committees API source reads it);
- ``watched``: a page watched for some commitments gains one change note, attachment or link.

It prints precision and recall per commitment and overall, for the development and held-out
splits apart, and every false positive and miss of the development split with the matcher's
own explanation. The
figures never change the exit status (0): it is a benchmark, not a test. A corpus it cannot
read is one line on standard error and exit status 2.

    .venv/bin/python bench/matching/score.py            # both splits, as text
    .venv/bin/python bench/matching/score.py --json     # for machines

The held-out split's errors are counted, not shown, unless ``--heldout-errors`` asks for them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from bench.corpus import SPLITS, CorpusError, hide_heldout_errors, read_jsonl, split_of_key  # noqa: E402
from config import ConfigError, load_settings  # noqa: E402
from monitor.core.developments import find_developments  # noqa: E402
from monitor.core.diff import Change  # noqa: E402
from monitor.core.document import (  # noqa: E402
    ATTACHMENT,
    CHANGE_NOTE,
    LINK,
    NOTE_DESCRIPTION,
    NOTE_DOCUMENT_TYPE,
    NOTE_SUMMARY,
    PUBLICATION,
    RESULT,
    Item,
)
from monitor.core.drafts import DEVELOPMENT  # noqa: E402
from monitor.core.ledger import target  # noqa: E402
from monitor.core.match import Specificity, Subject, match  # noqa: E402
from monitor.sources import KINDS, make_source  # noqa: E402
from monitor.sources.parliament import publication_note  # noqa: E402

HERE = Path(__file__).resolve().parent
FIELDS = ("title", "type", "date", "organisation", "url", "route", "source", "labels", "reason")
# The kind of source each route arrives by.
ROUTE_KINDS = {"search": ("govuk-search",), "feed": ("feed",), "committee": ("parliament-committee",),
               "watched": ("govuk-content", "page")}
WATCHED_AS = {"change-note": CHANGE_NOTE, "attachment": ATTACHMENT, "link": LINK}


def key(item: dict) -> str:
    """What tells one item from another: its address, and for a change note or a link on a
    watched page (several on one page) the text too."""
    return item["url"] if item["route"] != "watched" else f"{item['url']} {item['title']}"


def split_of(item: dict) -> str:
    """The split an item belongs to, fixed by its key: a third held out."""
    return split_of_key(key(item))


@dataclass(frozen=True)
class Outcome:
    item: dict
    expected: frozenset[str]
    predicted: frozenset[str]
    explanations: dict[str, str]  # commitment id -> Match.explain()


def read_split(path: Path) -> list[dict]:
    items = read_jsonl(path, FIELDS)
    for item in items:
        if not isinstance(item["labels"], list):
            raise CorpusError(f"{item['_line']}: field 'labels' must be a list of commitment ids")
    return items


def change_for(item: dict) -> Change:
    """The Change a source would record for this item, built with sendwatch's own classes."""
    route = item["route"]
    description = item.get("description") or None
    if route in ("search", "feed"):
        # The Search API source notes a result's description, else its type; a feed its summary.
        note = description or (item["type"].replace("_", " ") if route == "search" else None)
        if route == "feed":
            note_kind = NOTE_SUMMARY if note else None
        else:
            note_kind = NOTE_DESCRIPTION if description else NOTE_DOCUMENT_TYPE if note else None
        added = Item(RESULT, item["url"], title=item["title"], url=item["url"], date=item["date"], note=note,
                     note_kind=note_kind)
    elif route == "committee":
        # As the Parliament source notes it: the type, and the inquiry where the copy shows one.
        inquiries = [{"title": item["inquiry"]}] if item.get("inquiry") else []
        note, note_kind = publication_note(item["type"], inquiries)
        added = Item(PUBLICATION, item["url"], title=item["title"], url=item["url"], date=item["date"],
                     note=note, note_kind=note_kind)
    else:
        kind = WATCHED_AS[item["as"]]
        if kind == CHANGE_NOTE:
            added = Item(CHANGE_NOTE, f"{item['date']} {item['title']}", title=item["title"], date=item["date"],
                         note=item["title"])
        else:
            added = Item(kind, item.get("document_url") or item["url"], title=item["title"],
                         url=item.get("document_url") or item["url"])
    title = item.get("page_title", "")
    return Change(title, title, added_items=(added,))


def score_item(item: dict, settings, targets) -> Outcome:
    try:
        source_settings = settings.source(item["source"])
    except KeyError:
        raise CorpusError(f"{item['_where']}: source {item['source']!r} is not in the watchlist") from None
    if item["route"] not in ROUTE_KINDS:
        raise CorpusError(f"{item['_where']}: route {item['route']!r} is not one of {', '.join(ROUTE_KINDS)}")
    if source_settings.kind not in ROUTE_KINDS[item["route"]]:
        raise CorpusError(f"{item['_where']}: source {item['source']!r} is a {source_settings.kind} source, "
                          f"not one an item arrives by as {item['route']!r}")
    if item["route"] == "watched" and item.get("as") not in WATCHED_AS:
        raise CorpusError(f"{item['_where']}: a watched item needs 'as': one of {', '.join(WATCHED_AS)}")
    source = make_source(source_settings)
    change = change_for(item)
    # Without the record's discovered documents: as a new installation scores (the "common
    # phrase" rule needs 20 or more of them), with the commitments' shared phrases weighed.
    specificity = Specificity.of(targets)
    drafts = find_developments(change, source=source_settings, summary=change.summary, targets=targets,
                               discovers=source.discovers, specificity=specificity)
    # Only developments are what subscribers are told; a possible development waits for a person.
    drafts = [d for d in drafts if d.status == DEVELOPMENT]
    # The explanation `sendwatch explain` would give: each discovered document on its own
    # against every commitment, or the whole change against the commitments of its source.
    bound = source_settings.commitments
    if source.discovers:
        matches = match(Subject.of_item(change.added_items[0]), targets, bound, specificity)
    else:
        matches = match(Subject.of_change(change, source_settings.url), [t for t in targets if t.id in bound], bound,
                        specificity)
    return Outcome(item, frozenset(item["labels"]), frozenset(d.commitment_id for d in drafts),
                   {m.commitment_id: m.explain() for m in matches})


def figures(outcomes: list[Outcome], commitment_ids: list[str]) -> dict:
    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    per = {}
    totals = {"tp": 0, "fp": 0, "fn": 0}
    for cid in commitment_ids:
        tp = sum(1 for o in outcomes if cid in o.expected and cid in o.predicted)
        fp = sum(1 for o in outcomes if cid not in o.expected and cid in o.predicted)
        fn = sum(1 for o in outcomes if cid in o.expected and cid not in o.predicted)
        per[cid] = {"tp": tp, "fp": fp, "fn": fn, "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn)}
        totals = {"tp": totals["tp"] + tp, "fp": totals["fp"] + fp, "fn": totals["fn"] + fn}
    overall = {**totals, "precision": ratio(totals["tp"], totals["tp"] + totals["fp"]),
               "recall": ratio(totals["tp"], totals["tp"] + totals["fn"])}
    errors = []
    for o in outcomes:
        for cid in sorted(o.predicted - o.expected):
            errors.append(_error("false positive", o, cid))
        for cid in sorted(o.expected - o.predicted):
            errors.append(_error("miss", o, cid))
    return {"items": len(outcomes), "positives": sum(1 for o in outcomes if o.expected),
            "overall": overall, "commitments": per, "errors": errors}


def _error(what: str, o: Outcome, cid: str) -> dict:
    return {"error": what, "commitment": cid, "title": o.item["title"], "url": o.item["url"],
            "route": o.item["route"], "source": o.item["source"], "reason": o.item["reason"],
            "explain": o.explanations.get(cid, f"{cid}: not scored (its source is not bound to it)")}


def run(corpus: Path, config: str | None, heldout_errors: bool = False) -> dict:
    try:
        settings = load_settings(config, env={}, kinds=KINDS)
    except ConfigError as exc:
        raise CorpusError(str(exc)) from None
    targets = tuple(target(c) for c in settings.commitments)
    ids = [c.id for c in settings.commitments]
    result = {"watchlist": settings.origin, "splits": {}}
    for split in SPLITS:
        items = read_split(corpus / f"{split}.jsonl")
        for item in items:
            unknown = [label for label in item["labels"] if label not in ids]
            if unknown:
                raise CorpusError(f"{item['_where']}: label {unknown[0]!r} is not a commitment of the watchlist")
        result["splits"][split] = figures([score_item(item, settings, targets) for item in items], ids)
    if not heldout_errors:
        hide_heldout_errors(result)
    return result


def _pct(value: float | None) -> str:
    return "   -" if value is None else f"{value:.2f}"


def render(result: dict) -> str:
    lines = [f"watchlist: {result['watchlist']}"]
    for split, data in result["splits"].items():
        o = data["overall"]
        lines += ["", f"== {split}: {data['items']} items, {data['positives']} bearing on a commitment ==",
                  f"{'commitment':32} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>5} {'recall':>6}"]
        for cid, f in data["commitments"].items():
            lines.append(f"{cid:32} {f['tp']:>4} {f['fp']:>4} {f['fn']:>4} {_pct(f['precision']):>5} "
                         f"{_pct(f['recall']):>6}")
        lines.append(f"{'overall':32} {o['tp']:>4} {o['fp']:>4} {o['fn']:>4} {_pct(o['precision']):>5} "
                     f"{_pct(o['recall']):>6}")
        if "errors" not in data:
            lines += ["", f"({split}: {data['hidden_errors']} errors not shown; --heldout-errors shows them, "
                          "once the tuning is done)"]
        for error in data.get("errors", ()):
            lines += ["", f"  {error['error']}: {error['commitment']} <- {error['title']!r} "
                          f"({error['route']} via {error['source']})",
                      f"    {error['url']}", f"    label: {error['reason']}"]
            lines += ["    " + line for line in error["explain"].splitlines()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=HERE, help="folder with dev.jsonl and heldout.jsonl")
    parser.add_argument("--config", help="a watchlist to score instead of the shipped one")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--heldout-errors", action="store_true",
                        help="also show each held-out false positive and miss (never to tune on)")
    args = parser.parse_args(argv)
    try:
        result = run(args.corpus, args.config, args.heldout_errors)
    except CorpusError as exc:
        print(f"score.py: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
