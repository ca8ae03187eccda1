"""Extraction gives exactly the Documents it gave before, page for page and selector for selector.

A stored snapshot is compared with the Document of the next fetch: if reorganising the
extraction code changed the Document of an unchanged page, every source would report a
change that is not there. tests/fixtures/extract/ holds 580 pages (the pages the test suite
extracts, the HTML of the GOV.UK content fixtures, deeply nested markup) and, for each with
no selector and with the selectors a user would write, the Document or the error message
extraction gave; golden.py there says how they were made.
"""

from __future__ import annotations

import json
from pathlib import Path

from monitor.core.errors import ExtractError
from monitor.core.extract import extract_html

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "extract"


def outcome(html: str, url: str, selector: str | None) -> dict:
    try:
        document = extract_html(html, url=url, selector=selector)
    except ExtractError as exc:
        return {"selector": selector, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 (what the golden files call a crash)
        return {"selector": selector, "crash": type(exc).__name__}
    return {"selector": selector, "document": document.to_dict()}


def test_every_page_gives_its_golden_documents():
    pages = json.loads((FIXTURES / "pages.json").read_text(encoding="utf-8"))
    golden = json.loads((FIXTURES / "documents.json").read_text(encoding="utf-8"))
    assert len(pages) == len(golden) == 580
    differences = []
    for number, (page, expected) in enumerate(zip(pages, golden, strict=True)):
        for want in expected:
            got = outcome(page["html"], page["url"], want["selector"])
            if got != want:
                differences.append((number, page["url"], want, got))
    assert not differences, "\n".join(
        f"page {n} ({url}), selector {want['selector']!r}:\n  was {want}\n  now {got}"
        for n, url, want, got in differences[:5]
    ) + f"\n({len(differences)} differences)"
