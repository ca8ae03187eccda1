"""bench/matching: the labelled corpus is well-formed, and score.py scores a corpus through
sendwatch's own matching (the figures themselves are the benchmark's business, not a test's)."""

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from config.loader import load_settings
from monitor.sources import KINDS

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "matching"
sys.path.insert(0, str(BENCH))
from score import FIELDS, ROUTE_KINDS, WATCHED_AS, key, split_of  # noqa: E402

HOSTS = ("www.gov.uk", "committees.parliament.uk", "publications.parliament.uk")
DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def corpus() -> dict[str, list[dict]]:
    return {split: [json.loads(line) for line in (BENCH / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
                    if line.strip()] for split in ("dev", "heldout")}


def test_every_item_is_complete_and_names_real_commitments_and_sources():
    settings = load_settings(env={}, kinds=KINDS)
    commitments = {c.id for c in settings.commitments}
    sources = {s.id: s.kind for s in settings.sources}
    for split, items in corpus().items():
        for item in items:
            where = f"{split}: {item.get('title')!r}"
            # Labels may be empty (a negative), and a date when the copy shows none.
            assert all(item.get(name) not in (None, "") or name in ("labels", "date") for name in FIELDS), where
            assert isinstance(item["labels"], list) and set(item["labels"]) <= commitments, where
            if item["labels"]:
                assert item["reason"].strip(), where
            assert item["date"] == "" or (DATE.fullmatch(item["date"]) and "2019" <= item["date"][:4] <= "2026"), where
            assert item["source"] in sources and sources[item["source"]] in ROUTE_KINDS[item["route"]], where
            if item["route"] == "watched":
                assert item["as"] in WATCHED_AS, where
            parts = urlsplit(item["url"])
            assert parts.scheme == "https" and parts.hostname in HOSTS, where


def test_no_item_twice_and_each_in_the_split_its_key_says():
    items = corpus()
    keys = [key(item) for split in items.values() for item in split]
    assert len(keys) == len(set(keys))
    discovered = [item["url"] for split in items.values() for item in split if item["route"] != "watched"]
    assert len(discovered) == len(set(discovered))
    for split, rows in items.items():
        assert all(split_of(item) == split for item in rows)


def test_a_third_held_out_and_most_items_negative():
    items = corpus()
    everything = items["dev"] + items["heldout"]
    assert 0.25 <= len(items["heldout"]) / len(everything) <= 0.42
    assert sum(1 for item in everything if not item["labels"]) / len(everything) >= 0.6


def _item(title, labels, route="search", source="send-code-of-practice-search", **extra):
    return {"title": title, "type": "guidance", "date": "2026-01-05", "organisation": "Department for Education",
            "url": f"https://www.gov.uk/government/publications/{re.sub(r'[^a-z0-9]+', '-', title.lower())}",
            "route": route, "source": source, "labels": labels, "reason": "test", **extra}


@pytest.fixture
def tiny_corpus(tmp_path):
    (tmp_path / "dev.jsonl").write_text("\n".join(json.dumps(i) for i in [
        _item("SEND code of practice: 0 to 25 years (revised)", ["code-of-practice"]),
        _item("Teachers' pay award for 2026 to 2027", []),
    ]) + "\n", encoding="utf-8")
    (tmp_path / "heldout.jsonl").write_text(json.dumps(_item(
        "Added a link to the SENCOs mandatory qualification guidance.", [], route="watched",
        source="send-code-of-practice", **{"as": "change-note"})) + "\n", encoding="utf-8")
    return tmp_path


def run(*args):
    return subprocess.run([sys.executable, str(BENCH / "score.py"), *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_the_script_scores_a_small_corpus_by_each_route(tiny_corpus):
    done = run("--corpus", str(tiny_corpus), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    dev, heldout = result["splits"]["dev"], result["splits"]["heldout"]
    assert (dev["items"], dev["positives"], heldout["items"]) == (2, 1, 1)
    assert dev["commitments"]["code-of-practice"]["tp"] == 1
    # Whatever the matcher decides about the change note, an error names the item and explains the score.
    for error in dev["errors"]:
        assert error["title"] and error["explain"].startswith(error["commitment"] + ": score")
    text = run("--corpus", str(tiny_corpus))
    assert text.returncode == 0 and "== dev: 2 items, 1 bearing on a commitment ==" in text.stdout


def test_held_out_errors_are_counted_not_shown_unless_asked(tiny_corpus):
    # A pay award labelled (for the test) as bearing on the Code: a miss whatever the matcher
    # does, whose explanation stays hidden by default.
    (tiny_corpus / "heldout.jsonl").write_text(json.dumps(_item(
        "Teachers' pay award for 2026 to 2027", ["code-of-practice"])) + "\n", encoding="utf-8")
    hidden = json.loads(run("--corpus", str(tiny_corpus), "--json").stdout)["splits"]["heldout"]
    assert "errors" not in hidden and hidden["hidden_errors"] == 1 and hidden["overall"]["fn"] == 1
    text = run("--corpus", str(tiny_corpus)).stdout
    assert "Teachers' pay award" not in text and "heldout: 1 errors not shown" in text
    shown = run("--corpus", str(tiny_corpus), "--heldout-errors").stdout
    assert "miss: code-of-practice <- \"Teachers' pay award for 2026 to 2027\"" in shown


def test_a_broken_corpus_is_one_line_naming_the_file_and_line(tiny_corpus):
    (tiny_corpus / "dev.jsonl").write_text(json.dumps({"title": "no other field"}) + "\n", encoding="utf-8")
    done = run("--corpus", str(tiny_corpus))
    assert done.returncode == 2
    assert done.stderr.strip() == "score.py: " + str(tiny_corpus / "dev.jsonl") + ":1: missing field 'type'"
