"""monitor/core/restatement.py on real sentences (from bench/dates' development split) and on the
edges of its rules: year boundaries, financial years, seasons, the London day; and score.py on a
tiny corpus, and its refusal of a broken one."""

import importlib.util
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from monitor.core.restatement import RULES, london_day, read_dates, sentences

ROOT = Path(__file__).resolve().parents[1]
SCORE = ROOT / "bench" / "dates" / "score.py"


def gives(text: str, said: date) -> list[str]:
    return [r.resolved.isoformat() if r.resolved else "no date" for r in read_dates(text, said)]


@pytest.mark.parametrize(("said", "sentence", "expected"), [
    (date(2021, 11, 16), "The group is helping the government conclude the SEND Review at pace and advise on proposals "
     "to be set out in a SEND Green Paper to be published in the first three months of 2022.", ["2022-03-31"]),
    (date(2022, 3, 22), "The SEND Review will be published as a green paper for full public consultation by the end "
     "of this month.", ["2022-03-31"]),
    (date(2021, 10, 29), "The department is committed to concluding the review and will publish proposals for full "
     "public consultation in the coming months.", ["no date"]),
    (date(2026, 2, 4), "Local authority allocations for 2026/27 will be published in the Spring.", ["2026-05-31"]),
    (date(2026, 2, 4), "Local authorities have until 27 February 2026 to make their decisions, and we will confirm "
     "the total funding for all local authorities, as well as the schools that are going ahead, in due course after "
     "that date.", ["2026-02-27", "no date"]),
    (date(2022, 3, 29), "Despite unprecedented investment through a £1 billion increase in high needs funding, taking "
     "total funding to £9.1 billion in the coming financial year on top of the £1.5 billion increase over the last "
     "two years, the system has become financially unsustainable.", ["2023-03-31"]),
    (date(2025, 11, 21), "To help us deliver the most effective set of reforms we can, we have taken the decision to "
     "have a further period of engagement, with the view of bringing forward a full Schools White Paper early in the "
     "new year.", ["2026-03-31"]),
    # Past references and scopes give nothing.
    (date(2022, 9, 28), "The Green Paper consultation closed on 22 July 2022, and the department is currently "
     "analysing the responses.", []),
    (date(2018, 12, 17), "First, we will provide additional high needs funding allocations across all local "
     "authorities, of £125 million in each of 2018-19 and 2019-20.", []),
    (date(2024, 4, 23), "Underpinning this is pupil premium, worth over £2.9 billion this year.", []),
    (date(2022, 12, 23), "The Special Education Needs and Disability (SEND) Regulations 2014 set out that the local "
     "authority must finalise the education, health and care (EHC) plan within 20 weeks of the local authority "
     "receiving a request for an assessment.", []),
])
def test_real_sentences(said, sentence, expected):
    assert gives(sentence, said) == expected


def test_this_year_said_in_december_is_that_december_and_next_year_the_one_after():
    assert gives("We will publish it later this year.", date(2020, 12, 15)) == ["2020-12-31"]
    assert gives("We will publish it next year.", date(2020, 12, 31)) == ["2021-12-31"]
    assert gives("We will publish it early next year.", date(2020, 12, 31)) == ["2021-03-31"]


def test_financial_years_end_on_31_march_and_turn_over_in_april():
    assert gives("Funding will be confirmed this financial year.", date(2022, 3, 31)) == ["2022-03-31"]
    assert gives("Funding will be confirmed this financial year.", date(2022, 4, 1)) == ["2023-03-31"]
    assert gives("It will be spent by 2034/35.", date(2025, 12, 22)) == ["2035-03-31"]
    assert gives("The scheme will close in 2022-23.", date(2022, 5, 1)) == ["2023-03-31"]


def test_quarters_are_calendar_quarters_and_seasons_end_with_their_last_month():
    assert gives("We will publish it in the third quarter of 2023.", date(2023, 1, 5)) == ["2023-09-30"]
    assert gives("We will publish by summer 2023.", date(2022, 11, 1)) == ["2023-08-31"]
    # Winter 2022 is December 2022 to February 2023.
    assert gives("We will respond in winter 2022.", date(2022, 6, 1)) == ["2023-02-28"]
    # Without a year, the first such season not over: autumn said in December is next autumn.
    assert gives("We will publish in the autumn.", date(2021, 12, 10)) == ["2022-11-30"]
    assert gives("We will publish in the autumn.", date(2021, 11, 30)) == ["2021-11-30"]


def test_a_month_without_a_year_that_is_over_means_next_year_only_in_a_promise():
    assert gives("The guidance will be published in March.", date(2021, 6, 1)) == ["2022-03-31"]
    assert gives("In March the department met the sector.", date(2021, 6, 1)) == []


def test_relative_periods_count_from_the_day_said():
    assert gives("We will publish it within the next 12 months.", date(2023, 1, 31)) == ["2024-01-31"]
    assert gives("A further 250 schools are to be selected within two years.", date(2024, 2, 29)) == ["2026-02-28"]


def test_the_day_said_is_the_london_day():
    # In winter London is on GMT: 23:30 UTC on 31 December is still 31 December there.
    assert london_day(datetime(2020, 12, 31, 23, 30, tzinfo=UTC)) == date(2020, 12, 31)
    # In summer London is an hour ahead: 23:30 UTC on 31 March 2022 is 1 April in London,
    # which is a new financial year.
    said = london_day(datetime(2022, 3, 31, 23, 30, tzinfo=UTC))
    assert said == date(2022, 4, 1)
    assert gives("Funding will be confirmed this financial year.", said) == ["2023-03-31"]
    with pytest.raises(ValueError):
        london_day(datetime(2022, 3, 31, 23, 30))


def test_a_paragraph_is_read_sentence_by_sentence_and_every_finding_explains_itself():
    paragraph = ("I thank the hon. Member for her question. We will publish it shortly. "
                 "The strategy will follow by summer 2023.")
    assert sentences(paragraph)[0] == "I thank the hon. Member for her question."
    found = read_dates(paragraph, date(2022, 11, 1))
    assert [(r.rule, r.words) for r in found] == [("vague", "shortly"), ("season", "summer 2023")]
    assert found[1].sentence == "The strategy will follow by summer 2023."
    assert "resolves to 2023-08-31" in found[1].explain()
    assert "without a date" in found[0].explain()
    assert all(r.rule in RULES for r in found)


def run_score(corpus: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCORE), "--corpus", str(corpus), *args], capture_output=True,
                          text=True, check=False)


def write(path: Path, items: list[dict]) -> None:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")


def test_score_runs_on_a_tiny_corpus(tmp_path):
    write(tmp_path / "dev.jsonl", [
        {"url": "https://example.org/a", "said": "2021-11-16", "gives": "2022-03-31",
         "sentence": "A green paper will be published in the first three months of 2022."},
        {"url": "https://example.org/b", "said": "2021-11-16", "gives": "none",
         "sentence": "A green paper will be published in due course."},  # wrongly labelled: an error to list
    ])
    write(tmp_path / "heldout.jsonl", [
        {"url": "https://example.org/c", "said": "2022-09-28", "gives": "no date",
         "sentence": "The department will publish a strategy in due course."}])
    done = run_score(tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["splits"]["dev"]["right"] == 1
    assert [e["where"] for e in result["splits"]["dev"]["errors"]] == ["dev.jsonl:2"]
    assert result["splits"]["heldout"] == {**result["splits"]["heldout"], "right": 1, "hidden_errors": 0}


def test_score_refuses_a_broken_corpus_naming_file_and_line(tmp_path):
    write(tmp_path / "dev.jsonl", [
        {"url": "https://example.org/a", "said": "2021-11-16", "gives": "none", "sentence": "Fine."},
        {"url": "https://example.org/b", "said": "16/11/2021", "gives": "none", "sentence": "Bad day."}])
    write(tmp_path / "heldout.jsonl", [])
    done = run_score(tmp_path)
    assert done.returncode == 2
    assert f"{tmp_path / 'dev.jsonl'}:2: field 'said'" in done.stderr
    write(tmp_path / "dev.jsonl", [
        {"url": "https://example.org/a", "said": "2021-11-16", "gives": "spring", "sentence": "Bad label."}])
    done = run_score(tmp_path)
    assert done.returncode == 2 and "dev.jsonl:1: field 'gives'" in done.stderr


def test_the_shipped_corpus_is_well_formed_split_by_its_key_and_large_enough():
    # Loaded by path and under its own name: bench/matching has a score.py too.
    spec = importlib.util.spec_from_file_location("bench_dates_score", SCORE)
    assert spec is not None and spec.loader is not None
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    items = {split: score.read_split(SCORE.parent / f"{split}.jsonl") for split in score.SPLITS}
    total = sum(len(v) for v in items.values())
    assert total >= 100
    assert all(score.split_of(item) == split for split, rows in items.items() for item in rows)
    keys = [(i["url"], i["sentence"]) for rows in items.values() for i in rows]
    assert len(keys) == len(set(keys))
