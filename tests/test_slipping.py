"""Promises that slip, end to end: ministers' written answers read from a local server that
answers as the Written Questions API does (its real response shapes, members expanded), and
a GOV.UK statistics announcement whose release moves; then what the ledger, ``sendwatch
explain``, the emails, the dashboard, the feed and the JSON API say of them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import feedparser
import httpx
from bs4 import BeautifulSoup

from config import load_settings
from monitor.app.web import create_app
from monitor.core.ledger import lateness, london_date
from monitor.sources import KINDS
from storage import Store
from tests.conftest import Reply, config_head
from tests.test_web import serving
from tests.test_written import BACKLOG, HOLDING, REAL_ANSWER, listed, mails, page, question, serve_questions

HOSTILE_NAME = "Will Quince <script>alert(1)</script>"
SPRING = "<p>The SEND Review will be published in the spring &lt;img src=x onerror=alert(2)&gt;.</p>"
SPRING_SENTENCE = "The SEND Review will be published in the spring <img src=x onerror=alert(2)>."


def answered_by(entry: dict, name: str, *, correcting: str | None = None) -> dict:
    """The entry as ``expandMember=true`` gives it: the members named."""
    value = dict(entry["value"])
    value["answeringMember"] = {"id": 4038, "listAs": name, "name": name, "party": "Conservative"}
    if correcting:
        value["correctingMember"] = {"id": 4039, "listAs": correcting, "name": correcting, "party": "Conservative"}
    return {**entry, "value": value}


def write_config(tmp_path, site, database_url, source: str) -> None:
    (tmp_path / "sendwatch.toml").write_text(f'data_dir = "{tmp_path / "data"}"\n' + config_head(database_url) + """
[[commitment]]
id = "send-review"
title = "The SEND Review"
promise = "Publish the SEND Review's proposals."
made_in = "Government response to the Education Committee"
made_on = 2020-07-23
expected_by = 2020-12-31
expected_note = "an update later in the year"
phrases = ["SEND review"]

[[recipient]]
email = "journalist@example.org"
""" + source.format(site=site.base), encoding="utf-8")


ANSWERS = """
[[source]]
id = "dfe-answers"
kind = "parliament-written-answers"
url = "{site}"
"""


def test_a_holding_answer_replaced_and_corrected_restates_the_commitment(sendwatch, site, tmp_path, database_url):
    write_config(tmp_path, site, database_url, ANSWERS)
    serve_questions(site, page(BACKLOG))
    sendwatch("check")

    # A holding answer promises a reply, not the Review: a development, no restatement.
    held = answered_by(question(1400020, answer=HOLDING, holding=True, answered="2021-12-02"), "Vicky Ford")
    serve_questions(site, page([listed(held), *BACKLOG]), details=(held,))
    assert "development for: send-review" in sendwatch("check").out
    assert json.loads(sendwatch("commitments", "--json").out)[0]["restated"] == 0

    # The real answer gives a date: the first restatement.
    real = answered_by(question(1400020, answer=REAL_ANSWER, answered="2021-12-06"), "Vicky Ford")
    serve_questions(site, page([listed(real), *BACKLOG]), details=(real,))
    sendwatch("check")
    ledger = sendwatch("commitments").out
    assert ("expected by 31 Dec 2020 (an update later in the year); restated once; now expected by 31 Mar 2022, "
            "15 months later") in ledger, ledger
    assert ("latest restatement 6 Dec 2021 by Vicky Ford: 'The SEND Review will be published in the first quarter "
            "of 2022.' <https://questions-statements.parliament.uk/written-questions/detail/2021-11-29/") in ledger

    # Corrected by another minister: its new sentence is a restatement of its own.
    fixed = answered_by(question(1400020, answered="2021-12-06", corrected="2022-01-12", original=REAL_ANSWER,
                                 answer=SPRING), "Vicky Ford", correcting=HOSTILE_NAME)
    serve_questions(site, page(BACKLOG), corrected=page([listed(fixed)]), details=(fixed,))
    corrected = sendwatch("check")
    assert "development for: send-review" in corrected.out

    # Corrected again: the spring sentence once more (recorded once), and vague words (new).
    again = answered_by(question(1400020, answered="2021-12-06", corrected="2022-01-20", original=SPRING,
                                 answer=SPRING + "<p>Further details will follow in due course.</p>"),
                        "Vicky Ford", correcting=HOSTILE_NAME)
    serve_questions(site, page(BACKLOG), corrected=page([listed(again)]), details=(again,))
    sendwatch("check")

    today = london_date(datetime.now(UTC))
    late = lateness(date(2022, 5, 31), today)
    ledger = sendwatch("commitments").out
    assert f"send-review  [in progress; {late}]  The SEND Review" in ledger, ledger
    assert ("expected by 31 Dec 2020 (an update later in the year); restated 3 times; now expected by 31 May 2022, "
            "17 months later") in ledger
    assert f"latest restatement 20 Jan 2022 by {HOSTILE_NAME}: 'Further details will follow in due course.'" in ledger
    (position,) = json.loads(sendwatch("commitments", "--json").out)
    assert (position["expected_by"], position["expected_now"], position["restated"]) == ("2020-12-31", "2022-05-31", 3)
    assert [(r["said_on"], r["rule"], r["resolves_to"]) for r in position["restatements"]] == [
        ("2021-12-06", "quarter", "2022-03-31"), ("2022-01-12", "season", "2022-05-31"), ("2022-01-20", "vague", None)]

    # explain shows the sentence and the rule that read it.
    change_id = json.loads(sendwatch("changes", "--json").out)[1]["id"]  # the first correction
    explained = sendwatch("explain", str(change_id)).out
    assert (f"send-review: said 12 Jan 2022 by {HOSTILE_NAME}: '{SPRING_SENTENCE}'\n"
            "    rule season: 'the spring' resolves to 31 May 2022 (the season's last day") in explained, explained

    # The correction's email says what was said and how far the date slipped; the HTML escapes it all.
    (mail,) = [m for m in mails(tmp_path) if "spring" in m.get_body(("plain",)).get_content().partition(
        "What was said of its date:")[2].partition("\n")[0]]
    text = mail.get_body(("plain",)).get_content()
    assert f"What was said of its date: '{SPRING_SENTENCE}' ({HOSTILE_NAME}, 12 Jan 2022): gives 31 May 2022, " \
           "by the rule season." in text, text
    assert "Expected by 31 Dec 2020; restated twice; now expected by 31 May 2022, 17 months later (in progress;" in text
    html = mail.get_body(("html",)).get_content()
    assert "<script" not in html and "<img" not in html
    assert "Will Quince &lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html

    # The dashboard's timeline, the feeds and the JSON API carry them, escaped.
    settings = load_settings(tmp_path / "sendwatch.toml", kinds=KINDS)
    with Store(database_url) as store, serving(create_app(lambda: settings, store)) as base:
        page_html = httpx.get(f"{base}/commitments/send-review").text
        soup = BeautifulSoup(page_html, "html.parser")
        restated = soup.select("ol.timeline li.restatement")
        assert [li.h3.get_text(" ", strip=True) for li in restated] == [
            "Restated: no date given", "Restated: expected by 31 May 2022", "Restated: expected by 31 March 2022"]
        assert restated[1].blockquote.get_text() == SPRING_SENTENCE
        assert f"by {HOSTILE_NAME}" in restated[1].select_one(".meta").get_text()
        assert not soup.select("main script") and not soup.select("main img")
        assert "restated 3 times; now expected by 31 May 2022, 17 months later" in soup.select_one(
            "dd.expectation").get_text()
        # The ledger on the home page: the date it is expected by now, and how it came to be.
        row = BeautifulSoup(httpx.get(f"{base}/").text, "html.parser").select_one("table tbody tr")
        expected = row.select("td")[2]
        assert expected.time["datetime"] == "2022-05-31"
        assert "restated 3 times; now expected by 31 May 2022, 17 months later" in expected.get_text()
        for path in ("/feed.atom", "/commitments/send-review/feed.atom"):
            feed = feedparser.parse(httpx.get(f"{base}{path}").content)
            titles = [e.title for e in feed.entries]
            assert "The SEND Review: restated, expected by 31 May 2022" in titles, titles
            entry = next(e for e in feed.entries if e.title.endswith("31 May 2022"))
            assert entry.summary.startswith(f"'{SPRING_SENTENCE}' Said 12 Jan 2022 by {HOSTILE_NAME}; read by the "
                                            "rule season from 'the spring'.")
        api = httpx.get(f"{base}/api/restatements").json()
        assert [(r["rule"], r["by"]) for r in api] == [("quarter", "Vicky Ford"), ("season", HOSTILE_NAME),
                                                       ("vague", HOSTILE_NAME)]
        assert httpx.get(f"{base}/api/commitments/send-review").json()["expected_now"] == "2022-05-31"


ANNOUNCEMENT_PATH = "/government/statistics/announcements/special-educational-needs-in-england-january-2026"
ANNOUNCEMENT = """
[[source]]
id = "sen-statistics"
kind = "govuk-content"
url = "{site}""" + ANNOUNCEMENT_PATH + """"
commitments = ["send-review"]
"""


def announcement(details: dict) -> Reply:
    """A statistics announcement as the Content API gives it (the fields of its schema's examples)."""
    return Reply(json.dumps({
        "content_id": "e1553ea5-69e7-443e-a9b5-e5e8210097f5", "base_path": ANNOUNCEMENT_PATH,
        "description": "Statistics on pupils with special educational needs (SEN).",
        "details": {"format_sub_type": "official", **details}, "links": {}, "locale": "en",
        "public_updated_at": "2026-01-17T14:19:42.460Z", "title": "Special educational needs in England: January 2026",
        "updated_at": "2026-01-17T14:19:42.460Z", "schema_name": "statistics_announcement",
        "document_type": "official_statistics_announcement"}).encode(), content_type="application/json")


def test_a_statistics_release_that_moves_or_is_cancelled_restates_its_commitment(sendwatch, site, tmp_path,
                                                                                 database_url):
    write_config(tmp_path, site, database_url, ANNOUNCEMENT)
    api = "/api/content" + ANNOUNCEMENT_PATH
    site.set(api, announcement({"display_date": "12 June 2025 9:30am", "state": "confirmed"}))
    sendwatch("check")
    site.set(api, announcement({"display_date": "9 July 2025 9:30am", "state": "confirmed",
                                "previous_display_date": "12 June 2025 9:30am",
                                "latest_change_note": "Data quality checks need more time."}))
    moved = sendwatch("check")
    assert "release date moved from 12 June 2025 9:30am to 9 July 2025 9:30am" in moved.out, moved.out
    ledger = sendwatch("commitments").out
    assert "restated once; now expected by 9 Jul 2025, 54 months later" in ledger, ledger
    # Overdue by the watchlist's date, then overdue anew by the restated one: an email each.
    overdue = [m for m in mails(tmp_path) if "is overdue" in m["Subject"]]
    assert [m["Subject"] for m in overdue] == ["The SEND Review: is overdue (expected by 31 December 2020)",
                                               "The SEND Review: is overdue (expected by 09 July 2025)"]
    first, anew = (m.get_body(("plain",)).get_content() for m in overdue)
    assert "It was expected by 31 December 2020 (an update later in the year)," in first
    assert "It was expected by 09 July 2025, and" in anew  # the promise's words were of its first date
    assert "Expected by 31 Dec 2020; restated once; now expected by 9 Jul 2025, 54 months later (overdue; " in anew

    site.set(api, announcement({"display_date": "9 July 2025 9:30am", "state": "cancelled",
                                "previous_display_date": "12 June 2025 9:30am",
                                "cancellation_reason": "The data collection was not run.",
                                "cancelled_at": "2026-06-01T09:00:00.000Z"}))
    sendwatch("check")
    (position,) = json.loads(sendwatch("commitments", "--json").out)
    assert [(r["rule"], r["resolves_to"]) for r in position["restatements"]] == [
        ("release-date-moved", "2025-07-09"), ("release-cancelled", None)]
    assert position["restatements"][0]["sentence"] == (
        "The release of 'Special educational needs in England: January 2026' moved from 12 June 2025 9:30am to "
        "9 July 2025 9:30am (change note: 'Data quality checks need more time.')")
    assert position["restatements"][1]["sentence"].endswith("was cancelled: The data collection was not run.")
    assert position["expected_now"] == "2025-07-09"  # a cancellation gives no date; the last one stands

    change_id = json.loads(sendwatch("changes", "--json").out)[1]["id"]  # the move
    explained = sendwatch("explain", str(change_id)).out
    assert "rule release-date-moved: '9 July 2025 9:30am' resolves to 9 Jul 2025 (the new release date" in explained
