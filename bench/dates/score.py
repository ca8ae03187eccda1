"""Score sendwatch's date reading (``monitor/core/restatement.py``) on the labelled sentences
beside this file: real sentences from ministers' written answers and statements, each with the
day it was said and what it gives.

An item is right when the findings, in the order they stand in the sentence, are exactly its
label: ISO dates (``2022-03-31``), ``no date`` for vague words, ``none`` for a sentence that gives
nothing. It prints exact-match accuracy per split and every error of the development split with
the rule that read it. The figures never change the exit status (0): it is a benchmark, not a
test. A corpus it cannot read is one line on standard error (file:line, what is wrong), status 2.

    .venv/bin/python bench/dates/score.py            # both splits, as text
    .venv/bin/python bench/dates/score.py --json     # for machines

The held-out split's errors are counted, not shown, unless ``--heldout-errors`` asks for them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from bench.corpus import SPLITS, CorpusError, hide_heldout_errors, read_jsonl, split_of_key  # noqa: E402
from monitor.core.restatement import read_dates  # noqa: E402

HERE = Path(__file__).resolve().parent
FIELDS = ("url", "said", "sentence", "gives")
VALUE = re.compile(r"\d{4}-\d{2}-\d{2}|no date")


def split_of(item: dict) -> str:
    """The split an item belongs to, fixed by its address and sentence: a third held out."""
    return split_of_key(f"{item['url']} {item['sentence']}")


def parse_gives(value: object, where: str) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        raise CorpusError(f"{where}: field 'gives' must be 'none', 'no date' or ISO dates separated by commas")
    if value == "none":
        return []
    parts = [p.strip() for p in value.split(",")]
    for part in parts:
        if not VALUE.fullmatch(part):
            raise CorpusError(f"{where}: field 'gives' has {part!r}, not an ISO date or 'no date'")
        if part != "no date":
            try:
                date.fromisoformat(part)
            except ValueError:
                raise CorpusError(f"{where}: field 'gives' has {part!r}, not a real day") from None
    return parts


def read_split(path: Path) -> list[dict]:
    items = read_jsonl(path, FIELDS)
    for item in items:
        where = item["_line"]
        if not isinstance(item["url"], str) or not item["url"].startswith(("https://", "http://")):
            raise CorpusError(f"{where}: field 'url' must be the http(s) address the sentence was published at")
        try:
            item["_said"] = date.fromisoformat(item["said"])
        except (TypeError, ValueError):
            raise CorpusError(f"{where}: field 'said' must be the ISO day it was said, not {item['said']!r}") from None
        if not isinstance(item["sentence"], str) or not item["sentence"].strip():
            raise CorpusError(f"{where}: field 'sentence' is empty")
        item["_expected"] = parse_gives(item["gives"], where)
    return items


def score(items: list[dict]) -> dict:
    right = 0
    errors = []
    for item in items:
        found = read_dates(item["sentence"], item["_said"])
        got = [r.resolved.isoformat() if r.resolved else "no date" for r in found]
        if got == item["_expected"]:
            right += 1
            continue
        errors.append({"where": item["_where"], "url": item["url"], "said": item["said"], "sentence": item["sentence"],
                       "expected": item["gives"], "got": ", ".join(got) or "none",
                       "explain": [r.explain() for r in found], "note": item.get("note", "")})
    total = len(items)
    return {"items": total, "right": right, "accuracy": round(right / total, 3) if total else None,
            "labels": {"date": sum(1 for i in items if any(v != "no date" for v in i["_expected"])),
                       "no date": sum(1 for i in items if i["_expected"] == ["no date"]),
                       "none": sum(1 for i in items if not i["_expected"])},
            "errors": errors}


def run(corpus: Path, heldout_errors: bool = False) -> dict:
    result: dict = {"splits": {}}
    for split in SPLITS:
        items = read_split(corpus / f"{split}.jsonl")
        result["splits"][split] = score(items)
    if not heldout_errors:
        hide_heldout_errors(result)
    return result


def render(result: dict) -> str:
    lines = [f"{'split':8} {'items':>5} {'right':>5} {'accuracy':>8}   labels"]
    for split, data in result["splits"].items():
        acc = "-" if data["accuracy"] is None else f"{data['accuracy']:.3f}"
        labels = ", ".join(f"{k} {v}" for k, v in data["labels"].items())
        lines.append(f"{split:8} {data['items']:>5} {data['right']:>5} {acc:>8}   {labels}")
    for split, data in result["splits"].items():
        if "errors" not in data:
            lines += ["", f"({split}: {data['hidden_errors']} errors not shown; --heldout-errors shows them, "
                          "once the tuning is done)"]
            continue
        for error in data["errors"]:
            lines += ["", f"  {split} {error['where']}: expected {error['expected']}, got {error['got']} "
                          f"(said {error['said']})", f"    {error['sentence']}", f"    {error['url']}"]
            if error["note"]:
                lines.append(f"    label: {error['note']}")
            lines += [f"    {line}" for line in error["explain"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=HERE, help="folder with dev.jsonl and heldout.jsonl")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--heldout-errors", action="store_true",
                        help="also show each held-out error (never to tune on)")
    args = parser.parse_args(argv)
    try:
        result = run(args.corpus, args.heldout_errors)
    except CorpusError as exc:
        print(f"score.py: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
