"""What the labelled corpora under bench/ share: one JSON object a line, the split each
item's key decides once and for all (a third held out, never tuned on), and the one line a
corpus that cannot be read is refused with."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

SPLITS = ("dev", "heldout")


class CorpusError(Exception):
    """The corpus cannot be used; ``str()`` is the one line to show."""


def split_of_key(key: str) -> str:
    """The split of an item whose key is ``key``: the first 8 hex digits of its SHA-256
    modulo 3, 0 held out."""
    return "heldout" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 3 == 0 else "dev"


def read_jsonl(path: Path, fields: Iterable[str]) -> list[dict]:
    """The items of one split, each a JSON object with every one of ``fields``; each gets
    ``_where`` (``dev.jsonl:12``, for reports) and ``_line`` (the whole path, for errors)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read it: {exc}") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{where}: not JSON: {exc.msg}") from None
        if not isinstance(item, dict):
            raise CorpusError(f"{where}: expected a JSON object")
        missing = [name for name in fields if name not in item]
        if missing:
            raise CorpusError(f"{where}: missing field {missing[0]!r}")
        item["_where"], item["_line"] = f"{path.name}:{number}", where
        items.append(item)
    return items


def hide_heldout_errors(result: dict) -> None:
    """Reading the held-out errors is how tuning on them starts: by default only their count."""
    held = result["splits"]["heldout"]
    held["hidden_errors"] = len(held.pop("errors"))
