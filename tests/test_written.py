"""The ``parliament-written-answers`` and ``parliament-written-statements`` kinds: ministers'
written answers and statements, from the Written Questions and Statements API.

The answers served here are the project's own, shaped field for field like the API's (see
``question`` and ``statement``); the real answers under ../shared/fixtures/parliament are
read by the conformance tests.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from config import ConfigError, parse_settings
from config.loader import embedded_watchlist_text
from config.settings import SourceSettings
from monitor.core.developments import find_developments, item_key
from monitor.core.diff import diff_documents
from monitor.core.document import WRITTEN_ANSWER, WRITTEN_STATEMENT, Document
from monitor.core.errors import CheckFailed
from monitor.core.ledger import target
from monitor.sources import DISCOVERY_KINDS, KINDS, make_source
from monitor.sources.written import answer_item, search_results, statement_item
from storage import Store
from tests.conftest import SHARED, Reply, config_head

REAL = SHARED / "fixtures" / "parliament"
needs_shared = pytest.mark.skipif(not REAL.exists(), reason="../shared/fixtures is not present in this checkout")

QUESTIONS = "/api/writtenquestions/questions"
STATEMENTS = "/api/writtenstatements/statements"
JSON_TYPE = "application/json; charset=utf-8"

HOLDING = "<p>I will reply to the hon. Member as soon as possible.</p>"
REAL_ANSWER = ("<p>The SEND Review will be published in the first quarter of 2022.</p>"
               "<p>We will consult on its proposals.</p>")


def question(qid: int, *, heading: str = "Special Educational Needs: Reviews", answer: str = REAL_ANSWER,
             answered: str = "2021-12-06", holding: bool = False, corrected: str | None = None,
             original: str = "", text: str | None = None, uin: str | None = None, body: int = 60) -> dict:
    """A result as the API gives it (every field of the real answers, in their order)."""
    return {"value": {
        "id": qid, "askingMemberId": 4410, "askingMember": None, "house": "Commons", "memberHasInterest": False,
        "dateTabled": "2021-11-29T00:00:00", "dateForAnswer": "2021-12-01T00:00:00", "uin": uin or str(qid % 100000),
        "questionText": text or "To ask the Secretary of State for Education, when he plans to publish the "
                                "outcome of the SEND Review.",
        "answeringBodyId": body, "answeringBodyName": "Department for Education", "isWithdrawn": False,
        "isNamedDay": False, "groupedQuestions": [], "answerIsHolding": holding,
        "answerIsCorrection": corrected is not None, "answeringMemberId": 4038, "answeringMember": None,
        "correctingMemberId": 4038 if corrected else None, "correctingMember": None,
        "dateAnswered": f"{answered}T00:00:00", "answerText": answer, "originalAnswerText": original,
        "comparableAnswerText": "", "dateAnswerCorrected": f"{corrected}T00:00:00" if corrected else None,
        "dateHoldingAnswer": None, "attachmentCount": 0, "heading": heading, "attachments": [],
        "groupedQuestionsDates": []},
        "links": [{"rel": "self", "href": f"/Questions/{qid}", "method": "GET"}]}


def listed(entry: dict) -> dict:
    """The entry as the list gives it: the answer shortened to plain text, as the API does."""
    value = dict(entry["value"])
    value["answerText"] = "The SEND Review will be published in the first quarter of 2022. We will consu..."
    return {**entry, "value": value}


UNRELATED = question(1400002, heading="Schools: Buildings", text="To ask the Secretary of State for Education, "
                     "how many school buildings were surveyed in 2021.",
                     answer="<p>The condition data collection surveyed every school.</p>")
BACKLOG = [question(1400001, heading="Schools: Food", text="To ask the Secretary of State for Education, about "
                    "free school meals.", answer="<p>Free school meals are ...</p>", answered="2021-11-30"),
           question(1400003, heading="Teachers: Pay", text="To ask about teachers' pay.",
                    answer="<p>The pay award ...</p>", answered="2021-12-01")]


def page(entries: list[dict], total: int | None = None) -> Reply:
    return Reply(json.dumps({"totalResults": len(entries) if total is None else total,
                             "results": entries}).encode(), content_type=JSON_TYPE)


def single(entry: dict) -> Reply:
    return Reply(json.dumps(entry).encode(), content_type=JSON_TYPE)


def serve_questions(site, *answered_pages: Reply, corrected: Reply | None = None,
                    details: tuple[dict, ...] = ()) -> None:
    """One check's answers, in the order it asks: the pages answered since, then corrected since."""
    site.set(QUESTIONS, [*answered_pages, corrected or page([])])
    for entry in details:
        site.set(f"{QUESTIONS}/{entry['value']['id']}", single(entry))


def asked(site, path: str) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(p).query) for p, _ in site.requests if p.split("?")[0] == path]


SEND_REVIEW = """
[[commitment]]
id = "send-review"
title = "The SEND Review"
promise = "Publish the SEND Review's proposals."
made_in = "Government response to the Education Committee"
made_on = 2020-07-23
phrases = ["SEND review"]

[[recipient]]
email = "journalist@example.org"
"""


@pytest.fixture
def written_config(tmp_path, site, database_url):
    def write(kind: str = "parliament-written-answers", options: str = "", retries: int = 0) -> Path:
        path = tmp_path / "sendwatch.toml"
        path.write_text(f'data_dir = "{tmp_path / "data"}"\n' + config_head(database_url, retries=retries)
                        + SEND_REVIEW + f'''
[[source]]
id = "dfe-answers"
kind = "{kind}"
url = "{site.base}"
{options}
''', encoding="utf-8")
        return path
    return write


def mails(tmp_path) -> list[email.message.EmailMessage]:
    folder = tmp_path / "data" / "mail" / "new"
    if not folder.exists():
        return []
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in sorted(folder.iterdir())]


def changes(sendwatch) -> list[dict]:
    return json.loads(sendwatch("changes", "--json").out)


# -- conformance: the API's real answers -------------------------------------------------------


@needs_shared
def test_the_real_list_answer_becomes_written_answers():
    data = json.loads((REAL / "writtenquestions-questions.json").read_text(encoding="utf-8"))
    values, total = search_results(data, QUESTIONS)
    assert total == 20 and len(values) == 20
    items = {i.key: i for i in (answer_item(v) for v in values) if i is not None}
    assert len(items) == 20 and {i.kind for i in items.values()} == {WRITTEN_ANSWER}
    first = items["1679703"]
    assert first.title == "Incinerators"
    assert first.url == "https://questions-statements.parliament.uk/written-questions/detail/2024-01-05/8024"
    assert first.date == "2024-03-12" and first.note_kind == "answer"
    assert first.note.startswith("Question: To ask the Secretary of State for Environment, Food and Rural Affairs, "
                                 "whether his Department holds data")
    # The list shortens answers ("..."): the first reading keeps them so; a new one is read whole.
    assert first.note.endswith("Answer: Environmental permits are issued under the Environmental Permitting "
                               "Regulations (England and Wales) 2016, which implement the Industrial Emissions "
                               "Directive. Of the activities listed in the Industrial Emissions Directive, the "
                               "Environment Agency (EA) is re...")
    corrected = [i for i in items.values() if i.note_kind == "corrected answer"]
    assert {i.key for i in corrected} == {"1679590", "1679517", "1679326"}


@needs_shared
def test_the_real_single_answer_is_read_as_plain_text_with_its_links_as_words():
    data = json.loads((REAL / "writtenquestions-question.json").read_text(encoding="utf-8"))
    item = answer_item(data["value"])
    assert item is not None and "<" not in item.note and "href" not in item.note
    assert ("Answer: The department is supporting sectors with short-term project-based work" in item.note)
    assert "The current register of FJAAs can be accessed here: https://www.gov.uk/government/publications/" \
           "flexi-job-apprenticeships/flexi-job-apprenticeship-agencies." in item.note
    assert "in due course." in item.note  # the end of the answer: the whole of it is kept
    # Without expandMember the API names no member: the department said it.
    assert item.by == "Department for Education"


def test_who_said_it_is_the_member_the_api_expands_and_is_not_content():
    real = question(31, answered="2021-12-06")["value"]
    named = {**real, "answeringMember": {"id": 4038, "name": "Vicky Ford", "listAs": "Ford, Vicky"}}
    assert answer_item(named).by == "Vicky Ford"
    fixed = {**question(31, answered="2021-12-06", corrected="2022-01-12")["value"],
             "answeringMember": {"name": "Vicky Ford"}, "correctingMember": {"name": "Will Quince"}}
    assert answer_item(fixed).by == "Will Quince"  # a correction is said by the minister who corrected it
    statement = {"id": 7, "title": "SEND Review", "text": "<p>Text.</p>", "dateMade": "2022-03-29T00:00:00",
                 "uin": "HCWS700", "answeringBodyName": "Department for Education",
                 "member": {"name": "Will Quince"}, "memberRole": "Minister for Children and Families"}
    assert statement_item(statement).by == "Will Quince (Minister for Children and Families)"
    assert statement_item({**statement, "member": None}).by == "Department for Education"
    # Attribution, not content: the same answer read with or without its member is no change.
    before = Document("Written answers", (), (answer_item(real),))
    after = Document("Written answers", (), (answer_item(named),))
    assert before.content_hash() == after.content_hash() and diff_documents(before, after).is_empty


@needs_shared
@pytest.mark.parametrize("kind, path", [("parliament-written-answers", QUESTIONS),
                                        ("parliament-written-statements", STATEMENTS)])
def test_the_queries_use_only_parameters_the_openapi_file_names(kind, path):
    from datetime import date

    spec = json.loads((REAL / "writtenquestions-api.openapi.json").read_text(encoding="utf-8"))
    allowed = {p["name"] for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"}
    source = make_source(SourceSettings(id="s", kind=kind, url="https://questions-statements-api.parliament.uk",
                                        search_terms=["SEND review", "EHCP"]))
    queries = source.queries(date(2024, 1, 1))
    assert len(queries) == (4 if kind == "parliament-written-answers" else 2)
    for query in queries:
        assert {name for name, _ in query} | {"skip"} <= allowed
    if kind == "parliament-written-answers":
        answered = spec["components"]["schemas"]["Answered"]["enum"]
        assert dict(queries[0])["answered"] in answered


# -- the pure parts ---------------------------------------------------------------------------


def test_a_holding_answer_and_a_corrected_answer_are_labelled_and_dated():
    held = answer_item(question(7, answer=HOLDING, holding=True, answered="2021-12-01")["value"])
    assert (held.note_kind, held.date) == ("holding answer", "2021-12-01")
    assert held.note.endswith("Answer: I will reply to the hon. Member as soon as possible.")
    fixed = answer_item(question(7, corrected="2022-01-10", original=REAL_ANSWER)["value"])
    assert (fixed.note_kind, fixed.date) == ("corrected answer", "2022-01-10")
    assert item_key(fixed) == "parliament-written-question:7"
    assert item_key(fixed, updated=True) == "parliament-written-question:7@2022-01-10"
    unanswered = question(8)["value"] | {"dateAnswered": None}
    assert answer_item(unanswered) is None


def test_hostile_html_from_the_api_is_only_ever_text():
    hostile = ('<p>Read <a href="javascript:alert(1)">this</a></p><script>alert("x")</script>'
               '<img src=x onerror="alert(2)"><style>p{}</style>&lt;b&gt;not bold&lt;/b&gt;')
    item = answer_item(question(9, answer=hostile, heading="<b>Heading</b>")["value"])
    assert item.note.endswith("Answer: Read this <b>not bold</b>")  # entities read as the characters they are
    assert "alert" not in item.note and "onerror" not in item.note
    assert item.title == "<b>Heading</b>"  # a plain-text field stays as written: escaped wherever it is shown
    statement = statement_item({"id": 5, "dateMade": "2022-03-29T00:00:00", "uin": "HCWS/1", "title": "SEND",
                                "text": hostile})
    assert statement.note == "Read this <b>not bold</b>"
    assert statement.url == "https://questions-statements.parliament.uk/written-statements/detail/2022-03-29/HCWS%2F1"


@pytest.mark.parametrize("data, problem", [
    ([], "no 'results' list"), ({"results": None, "totalResults": 0}, "no 'results' list"),
    ({"results": []}, "no 'totalResults' count"), ({"results": [], "totalResults": "3"}, "no 'totalResults' count"),
])
def test_an_answer_that_is_not_the_api_list_fails(data, problem):
    with pytest.raises(CheckFailed, match=problem):
        search_results(data, QUESTIONS)


def test_the_kinds_discover_documents_and_are_registered():
    assert {"parliament-written-answers", "parliament-written-statements"} <= set(DISCOVERY_KINDS)


def test_a_new_answer_naming_the_send_review_is_a_development_of_the_shipped_watchlist():
    settings = parse_settings(embedded_watchlist_text(), origin="shipped", env={}, kinds=KINDS)
    source = settings.source("dfe-written-answers")
    assert source.kind == "parliament-written-answers"
    item = answer_item(question(11)["value"])
    change = diff_documents(Document("Written answers"), Document("Written answers", (), (item,)))
    found = find_developments(change, source=source, summary=change.summary,
                              targets=[target(c) for c in settings.commitments], discovers=True)
    assert ("send-review", "development") in {(d.commitment_id, d.status) for d in found}
    assert {d.document_key for d in found} == {"parliament-written-question:11"}
    other = answer_item(UNRELATED["value"])
    change = diff_documents(Document("Written answers"), Document("Written answers", (), (other,)))
    assert find_developments(change, source=source, summary=change.summary,
                             targets=[target(c) for c in settings.commitments], discovers=True) == []


# -- end to end, through the CLI against a local API -------------------------------------------


def test_the_first_reading_records_the_backlog_as_known(sendwatch, site, written_config, tmp_path):
    written_config(options='search_terms = ["SEND review"]\ntake = 2')
    backlog = [*BACKLOG, question(1400010)]
    serve_questions(site, page(backlog[:2], total=3), page(backlog[2:], total=3))
    first = sendwatch("check")
    assert first.code == 0 and "first snapshot: 'Written answers by the Department for Education', " \
                                "0 text blocks, 3 items" in first.out, first.out + first.err
    assert "development for" not in first.out and "email via" not in first.out
    assert changes(sendwatch) == [] and mails(tmp_path) == []
    # Paged by skip and take; answered and corrected since, each with the search term; the
    # backlog is read from the list alone.
    queries = asked(site, QUESTIONS)
    assert [q.get("skip") for q in queries] == [["0"], ["2"], ["0"]]
    assert all(q["answeringBodies"] == ["60"] and q["searchTerm"] == ["SEND review"] and q["take"] == ["2"]
               and q["answered"] == ["Answered"] for q in queries)
    assert [sorted(set(q) & {"answeredWhenFrom", "correctedWhenFrom"}) for q in queries] == [
        ["answeredWhenFrom"], ["answeredWhenFrom"], ["correctedWhenFrom"]]
    assert [p for p, _ in site.requests if p.startswith(QUESTIONS + "/")] == []
    assert site.requests[0][1]["accept"] == "application/json"


def test_new_answers_a_holding_answer_replaced_and_a_correction(sendwatch, site, written_config, tmp_path,
                                                                database_url):
    written_config()
    serve_questions(site, page(BACKLOG))
    sendwatch("check")

    # A holding answer to a question about the SEND Review, and an unrelated answer.
    held = question(1400020, answer=HOLDING, holding=True, answered="2021-12-02")
    serve_questions(site, page([listed(held), listed(UNRELATED), *BACKLOG]), details=(held, UNRELATED))
    found = sendwatch("check")
    assert "2 new written answers:" in found.out and "development for: send-review" in found.out, found.out
    assert found.out.count("development for") == 1  # the buildings answer is a change, nothing more
    # Read in full with the minister who answered named (expandMember).
    assert sorted(p for p, _ in site.requests if p.startswith(QUESTIONS + "/")) == [
        f"{QUESTIONS}/1400002?expandMember=true", f"{QUESTIONS}/1400020?expandMember=true"]
    (mail,) = mails(tmp_path)
    assert "Special Educational Needs: Reviews" in mail["Subject"]

    # Unchanged: nothing is read in full again.
    site.requests.clear()
    serve_questions(site, page([listed(held), listed(UNRELATED), *BACKLOG]))
    assert "unchanged" in sendwatch("check").out
    assert [p for p, _ in site.requests if p.startswith(QUESTIONS + "/")] == []

    # The real answer replaces the holding one: an update of the same question, old and new text.
    answered = question(1400020, answered="2021-12-06")
    serve_questions(site, page([listed(answered), listed(UNRELATED), *BACKLOG]), details=(answered,))
    replaced = sendwatch("check")
    assert "1 written answer updated: 'Special Educational Needs: Reviews' (6 Dec 2021)" in replaced.out, replaced.out
    assert "development for: send-review" in replaced.out
    latest = changes(sendwatch)[0]
    (before, after), = latest["updated_items"]
    assert before["key"] == after["key"] == "1400020"
    assert (before["note_kind"], after["note_kind"]) == ("holding answer", "answer")
    assert before["note"].endswith("Answer: I will reply to the hon. Member as soon as possible.")
    assert after["note"].endswith("Answer: The SEND Review will be published in the first quarter of 2022. "
                                  "We will consult on its proposals.")
    assert latest["added_items"] == [] and latest["removed_items"] == []

    # Corrected a month later (found by the corrected-since query): an update again.
    fixed = question(1400020, answered="2021-12-06", corrected="2022-01-12", original=REAL_ANSWER,
                     answer="<p>The SEND Review will be published in the spring.</p>")
    serve_questions(site, page([listed(UNRELATED), *BACKLOG]), corrected=page([listed(fixed)]), details=(fixed,))
    corrected = sendwatch("check")
    assert "'Special Educational Needs: Reviews' (corrected answer, 12 Jan 2022)" in corrected.out, corrected.out
    (before, after), = changes(sendwatch)[0]["updated_items"]
    assert "first quarter of 2022" in before["note"] and after["note"].endswith("published in the spring.")
    assert after["note_kind"] == "corrected answer" and after["date"] == "2022-01-12"
    assert len(mails(tmp_path)) == 3  # new, replaced, corrected: each its own event

    with Store(database_url) as store:
        developments = store.ledger.developments()
    assert sorted(d.document_key for d in developments) == [
        "parliament-written-question:1400020", "parliament-written-question:1400020@2021-12-06",
        "parliament-written-question:1400020@2022-01-12"]
    titles = sorted(d.title for d in developments)
    assert titles[0] == "new written answer 'Special Educational Needs: Reviews'"
    assert titles[1].startswith("updated written answer 'Special Educational Needs: Reviews' (answer: 'Question: ")
    assert titles[2].startswith("updated written answer 'Special Educational Needs: Reviews' (corrected answer: ")
    assert all(len(t) < 400 for t in titles)


def test_a_written_statement_is_discovered(sendwatch, site, written_config, tmp_path):
    written_config("parliament-written-statements", 'answering_bodies = [60, 17]')
    serve_statement = {"id": 9001, "memberId": 4038, "memberRole": "Minister for Children and Families",
                       "uin": "HCWS681", "dateMade": "2022-03-29T00:00:00", "answeringBodyId": 60,
                       "answeringBodyName": "Department for Education",
                       "title": "SEND Review: Right support, right place, right time",
                       "text": "<p>Today I am publishing the SEND Review green paper.</p>", "house": "Commons",
                       "noticeNumber": 0, "hasAttachments": False, "hasLinkedStatements": False,
                       "linkedStatements": [], "attachments": []}
    site.set(STATEMENTS, page([]))
    first = sendwatch("check")
    assert "first snapshot: 'Written statements by the Department for Education and answering body 17'" in first.out
    (query,) = asked(site, STATEMENTS)
    assert query["answeringBodies"] == ["60", "17"] and "madeWhenFrom" in query and "searchTerm" not in query
    site.set(STATEMENTS, page([{"value": {**serve_statement, "text": "Today I am publishing..."}, "links": []}]))
    site.set(f"{STATEMENTS}/9001", single({"value": serve_statement, "links": []}))
    found = sendwatch("check")
    assert "1 new written statement: 'SEND Review: Right support, right place, right time' (29 Mar 2022)" in found.out
    assert "development for: send-review" in found.out
    (added,) = changes(sendwatch)[0]["added_items"]
    assert added["note"] == "Today I am publishing the SEND Review green paper." and added["note_kind"] == "statement"
    assert added["url"] == "https://questions-statements.parliament.uk/written-statements/detail/2022-03-29/HCWS681"


@pytest.mark.parametrize("reply, reason", [
    (Reply(json.dumps({"title": "An unexpected error occurred", "status": 500}).encode(), status=500,
           content_type=JSON_TYPE), "HTTP 500"),
    (Reply(json.dumps({"title": "Bad Request", "status": 400}).encode(), status=400,
           content_type="application/problem+json"), "HTTP 400"),
    (Reply(json.dumps({"results": "none"}).encode(), content_type=JSON_TYPE), "no 'results' list"),
    (Reply(b"<html><body>Service unavailable</body></html>"), "expected JSON"),
    (Reply(b'{"totalResults": 3, "results": [', content_type=JSON_TYPE), "JSON"),
], ids=["500", "400", "not-a-list", "html", "truncated-json"])
def test_a_failing_or_malformed_answer_is_a_failed_check_never_a_change(sendwatch, site, written_config, reply,
                                                                      reason):
    written_config(retries=1)
    serve_questions(site, page(BACKLOG))
    sendwatch("check")
    site.set(QUESTIONS, reply)
    result = sendwatch("check")
    assert result.code == 0 and "failed" in result.out and reason in result.out, result.out
    assert changes(sendwatch) == []
    # The snapshot is intact: the API back, with one new answer, is that answer and nothing else.
    serve_questions(site, page([UNRELATED, *BACKLOG]), details=(UNRELATED,))
    again = sendwatch("check")
    assert "1 new written answer: 'Schools: Buildings'" in again.out, again.out


def test_a_failing_detail_fails_the_check_and_the_answer_is_found_next_time(sendwatch, site, written_config):
    written_config()
    serve_questions(site, page(BACKLOG))
    sendwatch("check")
    serve_questions(site, page([listed(UNRELATED), *BACKLOG]))
    site.set(f"{QUESTIONS}/1400002", Reply(json.dumps({"title": "Not Found", "status": 404}).encode(), status=404,
                                           content_type=JSON_TYPE))
    assert "HTTP 404" in sendwatch("check").out
    serve_questions(site, page([listed(UNRELATED), *BACKLOG]), details=(question(1400099),))  # not the one asked
    site.set(f"{QUESTIONS}/1400002", single(question(1400099)))
    assert "not that item" in sendwatch("check").out
    assert changes(sendwatch) == []
    serve_questions(site, page([listed(UNRELATED), *BACKLOG]), details=(UNRELATED,))
    assert "1 new written answer: 'Schools: Buildings'" in sendwatch("check").out


def test_too_many_pages_for_one_query_fails_with_advice(sendwatch, site, written_config):
    written_config(options="take = 1")
    site.set(QUESTIONS, page([BACKLOG[0]], total=500))
    result = sendwatch("check")
    assert "failed" in result.out and "more than 20 results for one query" in result.out
    assert "narrow it with search_terms or fewer days" in result.out


@pytest.mark.parametrize("options, field, problem", [
    ("answering_bodies = [0]", "answering_bodies", "0 is not an answering body id"),
    ('answering_bodies = ["DfE"]', "answering_bodies.0", "valid integer"),
    ("answering_bodies = []", "answering_bodies", "at least 1 item"),
    ('search_terms = ["x"]', "search_terms", "too short"),
    ("days = 0", "days", "greater than or equal to 1"),
    ("take = 500", "take", "less than or equal to 100"),
    ("answering_body = 60", "answering_body", "is not a known setting"),
])
def test_a_bad_option_is_a_config_error_naming_file_and_field(sendwatch, written_config, options, field, problem):
    path = written_config(options=options)
    result = sendwatch("check")
    assert result.code == 2
    assert f"{path.name}: source 'dfe-answers' (sources[0]), field '{field}'" in result.err, result.err
    assert problem in result.err


def test_a_url_with_a_query_is_refused_when_the_config_loads():
    text = ('[[source]]\nid = "a"\nkind = "parliament-written-answers"\n'
            'url = "https://questions-statements-api.parliament.uk/api/writtenquestions/questions?answeringBodies=60"\n')
    with pytest.raises(ConfigError, match="use the options answering_bodies, search_terms, days and take"):
        parse_settings(text, origin="sendwatch.toml", env={}, kinds=KINDS)


@pytest.mark.parametrize("url", ["https://questions-statements-api.parliament.uk",
                                 "https://questions-statements-api.parliament.uk/api/",
                                 "https://questions-statements-api.parliament.uk/api/writtenquestions/questions"])
def test_the_base_may_be_written_with_or_without_the_api_path(url):
    source = make_source(SourceSettings(id="a", kind="parliament-written-answers", url=url))
    assert source.api == "https://questions-statements-api.parliament.uk"


def test_the_item_kinds_are_known_by_the_api_id():
    held = answer_item(question(3, answer=HOLDING, holding=True)["value"])
    moved = answer_item(question(3, uin="HL99")["value"])
    assert held.identity == moved.identity and held.url != moved.url
    assert item_key(held) == item_key(moved) == "parliament-written-question:3"
    statement = statement_item({"id": 3, "dateMade": "2022-01-01T00:00:00", "title": "T", "uin": "HCWS1"})
    assert statement.kind == WRITTEN_STATEMENT and item_key(statement) == "parliament-written-statement:3"


@pytest.mark.parametrize("kind, weighed_down", [("parliament-written-answers", False), ("govuk-search", True)])
def test_answers_found_by_the_phrases_do_not_make_the_phrases_look_common(tmp_path, database_url, kind,
                                                                           weighed_down):
    # Thirty documents that all say "SEND review": among search results that makes the
    # phrase common (it weighs less); among ministers' answers, found by searching for it,
    # it must not.
    from datetime import UTC, datetime

    from monitor.app.check import scoring
    from monitor.core.document import RESULT, Item
    from storage import CheckMeta

    settings = parse_settings(embedded_watchlist_text(), origin="<test>", env={}, kinds=KINDS,
                              base_dir=tmp_path)
    item_kind = WRITTEN_ANSWER if kind == "parliament-written-answers" else RESULT
    document = Document(title="found", items=tuple(
        Item(item_kind, str(n), f"Answer {n}", url=f"https://example.org/{n}",
             note="The SEND review will be published in due course.") for n in range(30)))
    with Store(database_url) as store:
        store.sources.sync([SourceSettings(id="found", kind=kind, url="https://example.org/api")])
        store.history.record_document("found", document, None, CheckMeta(datetime.now(UTC), 1))
        _targets, specificity = scoring(settings, store)
    factor, _why = specificity.factor("SEND review")
    assert (factor < 1) is weighed_down
