"""Extraction time per page, with no selector and with ``selector="main"``.

Runs ``extract_html`` over the GOV.UK-sized pages of tests/fixtures/extract/pages.json
(those over 5,000 characters, without the deeply nested ones) and prints milliseconds a
page for each, the best of the repetitions in CPU time (the least disturbed by other work on the machine):

    python bench/extract.py [REPETITIONS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.core.extract import extract_html  # noqa: E402 (after the path is set)


def pages() -> list[dict]:
    corpus = json.loads((ROOT / "tests" / "fixtures" / "extract" / "pages.json").read_text(encoding="utf-8"))
    return [p for p in corpus if len(p["html"]) > 5000 and "<div><div><div>" not in p["html"]]


def per_page(corpus: list[dict], selector: str | None, repetitions: int) -> float:
    best = float("inf")
    for _ in range(repetitions):
        start = time.process_time()
        for page in corpus:
            extract_html(page["html"], url=page["url"], selector=selector)
        best = min(best, time.process_time() - start)
    return best / len(corpus) * 1000


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    corpus = pages()
    size = sum(len(p["html"]) for p in corpus) // len(corpus)
    print(f"{len(corpus)} pages, {size:,} characters on average, best of {repetitions}")
    for selector in (None, "main"):
        per_page(corpus, selector, 1)  # warm: imports, parsers, compiled selectors
        print(f"  selector={selector!r}: {per_page(corpus, selector, repetitions):.2f} ms/page")


if __name__ == "__main__":
    main()
