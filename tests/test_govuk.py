"""The GOV.UK API kinds: Content API items and saved searches.

Three layers: the pure parsing against GOV.UK's own example responses (conformance, from
../shared/fixtures when it is there), the kinds reading from a local server, and
``sendwatch check`` end to end on the project's own fixtures (tests/fixtures/govuk).
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from config import ConfigError, parse_settings
from config.settings import FetchSettings, SourceSettings
from monitor.core.diff import diff_documents
from monitor.core.document import ATTACHMENT, CHANGE_NOTE, LINK, NOTICE, RESULT, Document, Item
from monitor.sources import KINDS, make_source
from monitor.sources.fetch import Fetcher
from monitor.sources.govuk import (
    GovukContentSource,
    GovukSearchSource,
    content_api_url,
    document_from_content_item,
    instant,
    merge_results,
    newest_change_note,
    result_items,
    web_url,
)
from tests.conftest import SHARED, Reply, config_head

FIXTURES = Path(__file__).parent / "fixtures" / "govuk"
CONTENT = SHARED / "fixtures" / "govuk-content"
SEARCH = SHARED / "fixtures" / "govuk-search"
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared/fixtures is not present in this checkout")

CODE_PATH = "/government/publications/send-code-of-practice-0-to-25"
CODE_API = "/api/content" + CODE_PATH
SEARCH_PATH = "/api/search.json"
JSON_TYPE = "application/json; charset=utf-8"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def as_json(data: dict, status: int = 200) -> Reply:
    return Reply(json.dumps(data).encode("utf-8"), status=status, content_type=JSON_TYPE)


def read(site, kind: str, path: str, previous: Document | None = None, **options):
    """Read one source of ``kind`` from the local site, as a check would."""
    settings = SourceSettings(id="s", kind=kind, url=site.url(path), **options)
    fetch = FetchSettings(contact="tests@example.org", per_host_delay=0, retries=0,
                          connect_timeout=1, read_timeout=1, total_timeout=3)

    async def go():
        async with Fetcher(fetch) as fetcher:
            return await make_source(settings).read(fetcher, None, previous)

    return asyncio.run(go())


# --- pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize("written", [
    "2020-04-30T14:00:00.000+01:00", "2020-04-30T13:00:00Z", "2020-04-30T13:00:00+00:00",
    "2020-04-30T13:00:00.000Z", "2020-04-30T14:00:00+01:00",
])
def test_the_same_instant_written_differently_is_equal(written):
    assert instant(written) == "2020-04-30T13:00:00Z"


def test_instants_keep_what_they_cannot_read():
    assert instant("2020-04-30") == "2020-04-30"  # a day stays a day
    assert instant("2020-04-30T13:00:00.250Z") == "2020-04-30T13:00:00.250000Z"
    assert instant("soon") == "soon"
    assert instant("") is None and instant(None) is None


@pytest.mark.parametrize("url, api", [
    ("https://www.gov.uk/government/publications/x", "https://www.gov.uk/api/content/government/publications/x"),
    ("https://www.gov.uk/government/publications/x/", "https://www.gov.uk/api/content/government/publications/x"),
    ("https://www.gov.uk/government/publications/x?a=1#part", "https://www.gov.uk/api/content/government/publications/x"),
    ("http://127.0.0.1:8080/guidance/y", "http://127.0.0.1:8080/api/content/guidance/y"),
    ("https://www.gov.uk/api/content/guidance/y", "https://www.gov.uk/api/content/guidance/y"),
])
def test_the_content_api_address_is_derived_from_the_page(url, api):
    assert content_api_url(url) == api
    assert web_url(api) == api.replace("/api/content", "")


# --- conformance: GOV.UK's own example responses --------------------------------------------

# What each real response must give. notes: (how many change notes, the newest one).
EXPECTED = {
    "consultation/closed_consultation.json": dict(
        title="Review of Museums in England", notes=(0, None), attachments=()),
    "consultation/consultation_outcome.json": dict(
        title="Employee Share Schemes: NIC elections",
        notes=(2, "Published summary of responses document."),
        attachments=("Employee Share Schemes: NIC elections - consulation response",)),
    "consultation/open_consultation.json": dict(
        title="Postgraduate doctoral loans", notes=(1, "Added sub-topic tag."), attachments=()),
    "document_collection/best-practice-document-collection.json": dict(
        title="National standards for driving and riding", notes=(1, "First published."),
        attachments=("Car and light van driver competence framework",
                     "National standard for riding mopeds and motorcycles"), attachment_count=7),
    "document_collection/document_collection_with_history.json": dict(
        title="Financial sanctions: Regime-specific lists and releases",
        notes=(8, "Liberia removed - Council Regulation (EC) No 872/2004 imposing financial sanctions "
                  "against Liberia has been repealed with effect from 6 October 2015."),
        attachments=("Financial sanctions, Somalia", "Financial Sanctions, UK freezing orders"),
        attachment_count=3),
    "news_article/best-practice-government-response.json": dict(
        title="Improving food in hospitals and schools", notes=(1, "First published."), attachments=()),
    "publication/best-practice-policy-paper.json": dict(
        title="Strategy for dealing with safeguarding issues in charities",
        notes=(2, "Updated strategy sets out the Commission’s approach to safeguarding, and explains what "
                  "trustees’ charity law duties mean in the context of safeguarding."),
        attachments=()),
    "publication/publication.json": dict(
        title="D17 9LY, Veolia ES (UK) Limited: environmental permit issued", notes=(0, None), attachments=()),
    "publication/tagged_to_two_coronavirus_taxons.json": dict(
        title="Closing certain businesses and venues in England",
        notes=(17, "Updated to reflect changes in rules on wearing face coverings."), attachments=()),
    "publication/withdrawn_publication.json": dict(
        title="A guide for pig keepers", notes=(2, "Published updated pig keepers guide."), attachments=()),
}


def shared_content_files() -> list[str]:
    if not CONTENT.exists():
        return sorted(EXPECTED)
    return sorted(str(p.relative_to(CONTENT)) for p in CONTENT.glob("*/*.json"))


def real_item(name: str) -> tuple[dict, Document]:
    data = json.loads((CONTENT / name).read_text(encoding="utf-8"))
    return data, document_from_content_item(data, base_url="https://www.gov.uk" + data["base_path"])


@needs_shared
@pytest.mark.parametrize("name", shared_content_files())
def test_every_real_content_item_reads(name):
    assert name in EXPECTED, f"new fixture {name}: say what it must give in EXPECTED"
    want = EXPECTED[name]
    data, document = real_item(name)
    assert document.title == want["title"]
    assert document.blocks and document.blocks[0] == " ".join(data["description"].split())
    notes = document.items_of(CHANGE_NOTE)
    count, newest = want["notes"]
    assert len(notes) == count
    assert newest_change_note(data) == newest
    assert all(n.date and n.date.endswith("Z") for n in notes)  # instants, in UTC
    titles = {item.title for item in document.items_of(ATTACHMENT)}
    assert set(want["attachments"]) <= titles
    assert len(titles) == want.get("attachment_count", len(want["attachments"]))
    # Per-publish fields are not content: publishing again with new ones gives the same Document.
    again = copy.deepcopy(data)
    again.update(updated_at="2030-01-01T00:00:00Z", public_updated_at="2030-01-01T00:00:00Z",
                 publishing_request_id="99-noise", links={})
    assert document_from_content_item(again, base_url="https://www.gov.uk" + data["base_path"]) == document \
        or data["schema_name"] == "document_collection"  # a collection's documents are named in links
    if name != "publication/withdrawn_publication.json":
        assert not document.items_of(NOTICE)  # "withdrawn_notice": {} is not a withdrawal


@needs_shared
def test_a_real_withdrawn_item_carries_its_notice():
    _data, document = real_item("publication/withdrawn_publication.json")
    (notice,) = document.items_of(NOTICE)
    assert notice.key == "withdrawn"
    assert notice.date == "2015-01-13T13:05:30Z"
    assert notice.title.startswith("Withdrawn on 13 January 2015: This information is now out of date.")
    assert "guidance for keepers of sheep, goats and pigs" in notice.title
    # Change history given as +01:00 is held in UTC.
    assert "2013-09-06T09:11:28Z" in {n.date for n in document.items_of(CHANGE_NOTE)}
    # Links in the body are items, resolved to absolute URLs.
    assert "http://www.defra.gov.uk/ahvla-en/" in {i.key for i in document.items_of(LINK)}


@needs_shared
def test_a_real_consultation_outcome_keeps_its_documents_and_dates():
    _data, document = real_item("consultation/consultation_outcome.json")
    (attachment,) = document.items_of(ATTACHMENT)
    assert attachment.url == ("https://www.gov.uk/government/uploads/system/uploads/attachment_data/file/560439/"
                              "Employee_Share_Schemes-NIC_elections-summary_responses.pdf")
    assert attachment.note == "PDF, 258KB, 7 pages"
    assert "Closes: 2016-07-13T21:45:00Z" in document.blocks
    assert ("This document is the response to the consultation on the ability to make National Insurance "
            "Contributions elections.") in document.blocks


@needs_shared
@pytest.mark.parametrize("name", shared_content_files())
def test_every_real_content_item_reads_through_the_kind(site, name):
    body = (CONTENT / name).read_bytes()
    data = json.loads(body)
    site.set("/api/content" + data["base_path"], Reply(body, content_type=JSON_TYPE))
    reading = read(site, "govuk-content", data["base_path"])  # the page URL: the API path is derived
    assert reading.status == 200
    assert reading.document == document_from_content_item(data, base_url=site.url(data["base_path"]))
    assert reading.document.title == EXPECTED[name]["title"]


@needs_shared
def test_the_real_search_response_reads(site):
    body = (SEARCH / "search-tax.json").read_bytes()
    site.set(SEARCH_PATH, Reply(body, content_type=JSON_TYPE))
    reading = read(site, "govuk-search", SEARCH_PATH, params={"q": "tax"})
    (result,) = reading.document.items
    assert result == Item(
        RESULT, "/vehicle-tax", title="Tax your vehicle", url=site.url("/vehicle-tax"),
        date="2017-12-07T12:54:39Z",
        note="Renew or tax your vehicle for the first time using a reminder letter, your log book or the green "
             "'new keeper' slip - and how to tax if you do not have any documents")
    assert reading.document.title == "GOV.UK search: q=tax"
    assert result_items(json.loads(body), base_url="https://www.gov.uk/api/search.json")[0].url == \
        "https://www.gov.uk/vehicle-tax"


# --- the project's own fixtures, parsed ------------------------------------------------------


def test_a_content_item_gives_title_text_attachments_links_and_notes():
    document = document_from_content_item(load("send-code-of-practice.json"), base_url="https://www.gov.uk/x")
    assert document.title == "SEND code of practice: 0 to 25 years"
    assert document.blocks[0].startswith("Statutory guidance for organisations")
    assert "Who the code is for" in document.blocks and "integrated care boards" in document.blocks
    pdf = ("https://www.gov.uk/government/uploads/system/uploads/attachment_data/file/398815/"
           "SEND_Code_of_Practice_January_2015.pdf")
    attachments = {item.key: item for item in document.items_of(ATTACHMENT)}
    # The PDF is both in details.attachments and in the markup of details.documents: one item,
    # described from the structured list.
    assert set(attachments) == {pdf, "https://www.gov.uk" + CODE_PATH
                                + "/changes-to-the-send-code-of-practice-1-september-2014"}
    assert attachments[pdf].note == "PDF, 2.7 MB, 292 pages"
    assert {item.key for item in document.items_of(LINK)} == {
        "https://www.legislation.gov.uk/ukpga/2014/6/part/3",
        "https://www.gov.uk/government/publications/send-guide-for-parents-and-carers"}
    assert [n.date for n in document.items_of(CHANGE_NOTE)] == [
        "2014-06-11T09:30:00Z", "2015-01-09T16:20:00Z", "2020-04-30T13:00:00Z"]


def test_attachments_only_in_the_documents_markup_are_read():
    data = load("send-code-of-practice.json")
    del data["details"]["attachments"]
    document = document_from_content_item(data, base_url="https://www.gov.uk/x")
    (attachment,) = document.items_of(ATTACHMENT)
    assert attachment.title == "Special educational needs and disability code of practice: 0 to 25 years"
    assert attachment.note == "PDF, 2.71 MB, 292 pages"


def test_single_change_notes_are_read_without_repeating_the_history():
    data = {"title": "T", "public_updated_at": "2025-06-12T09:30:00+01:00",
            "change_note": "Added the June 2025 handbook.",
            "details": {"change_note": "Added the June 2025 handbook.",
                        "change_notes": [{"title": "Section 2", "change_note": "Clarified annual reviews.",
                                          "published_at": "2025-05-01T10:00:00Z"}]}}
    notes = document_from_content_item(data, base_url="https://www.gov.uk/t").items_of(CHANGE_NOTE)
    assert [(n.date, n.note) for n in notes] == [
        ("2025-05-01T10:00:00Z", "Section 2: Clarified annual reviews."),
        ("2025-06-12T08:30:00Z", "Added the June 2025 handbook.")]
    assert newest_change_note(data) == "Added the June 2025 handbook."


# --- every schema: each field a reader sees is read, and only those -------------------------

# One fixture per schema family, written for these tests in each schema's shape (the
# whitehall body schemas are send-code-of-practice.json's).
SCHEMA_FIXTURES = ("guide.json", "call-for-evidence.json", "statistics-announcement.json", "html-publication.json",
                   "speech.json", "specialist-document.json", "step-by-step.json", "smart-answer.json",
                   "transaction.json")


def content_summary(old: dict, new: dict) -> str:
    """The summary a check of ``new`` after ``old`` records ("no change" when the Documents are equal)."""
    before, after = (document_from_content_item(d, base_url="https://www.gov.uk" + d["base_path"]) for d in (old, new))
    if before == after:
        return "no change"
    url = "https://www.gov.uk" + old["base_path"]
    source = GovukContentSource(SourceSettings(id="s", kind="govuk-content", url=url))
    return source.summarise(diff_documents(before, after))


def edited(data: dict, edit) -> dict:
    data = copy.deepcopy(data)
    edit(data)
    return data


def _set(*path_and_value):
    *path, value = path_and_value

    def edit(data):
        node = data
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
    return edit


def _moved_release(data):
    details = data["details"]
    details.update(display_date="9 April 2026 9:30am", previous_display_date=details["display_date"],
                   state="confirmed", latest_change_note="Moved to allow time to check the new census data.")


# (fixture, the reader-visible field, its edit, the summary a person reads)
FIELD_EDITS = [
    ("guide.json", "parts[].body (HTML of a multi-format body)",
     _set("details", "parts", 0, "body", 1, "content", "<p>Your child may get SEN support at school or college.</p>"),
     "1 line added, 1 line removed"),
    ("guide.json", "parts[].body",
     _set("details", "parts", 1, "body", "<p>The council must decide within 18 weeks.</p>"),
     "1 line added, 1 line removed"),
    ("guide.json", "parts[].title", _set("details", "parts", 2, "title", "Appeals"), "1 line added, 1 line removed"),
    ("call-for-evidence.json", "outcome_detail",
     _set("details", "outcome_detail", "<p>We received 1,204 responses and will publish a plan in 2026.</p>"),
     "1 line added, 1 line removed"),
    ("call-for-evidence.json", "closing_date", _set("details", "closing_date", "2025-06-30T23:59:00.000+01:00"),
     "closing date moved from 31 May 2025 11:59pm to 30 June 2025 11:59pm"),
    ("statistics-announcement.json", "display_date, previous_display_date, state, latest_change_note", _moved_release,
     "change note: 'Moved to allow time to check the new census data.'; release date moved from 12 March 2026 "
     "9:30am to 9 April 2026 9:30am; release status changed from provisional to confirmed"),
    ("statistics-announcement.json", "state", _set("details", "state", "confirmed"),
     "release status changed from provisional to confirmed"),
    ("statistics-announcement.json", "cancellation_reason",
     lambda d: d["details"].update(state="cancelled", cancellation_reason="The census data were not ready.",
                                   cancelled_at="2026-03-01T10:00:00.000+00:00"),
     "release status changed from provisional to cancelled; reason for cancellation: 'The census data were not "
     "ready.'"),
    ("html-publication.json", "aside.stat-headline in the body",
     lambda d: d["details"].update(body=d["details"]["body"].replace("638,700", "640,100")),
     "1 line added, 1 line removed"),
    ("speech.json", "delivered_on", _set("details", "delivered_on", "2026-01-21T10:00:00.000+00:00"),
     "delivery date moved from 20 January 2026 10am to 21 January 2026 10am"),
    ("speech.json", "location", _set("details", "location", "Festival of Education"),
     "location changed from Confederation of School Trusts conference to Festival of Education"),
    ("speech.json", "speech_type_explanation", _set("details", "speech_type_explanation", "Speaker's notes"),
     "1 line added, 1 line removed"),
    ("specialist-document.json", "metadata",
     _set("details", "metadata", "tribunal_decision_decision_date", "2026-01-10"),
     "1 line added, 1 line removed"),
    ("step-by-step.json", "step_by_step_nav.steps[].contents[].text",
     _set("details", "step_by_step_nav", "steps", 1, "contents", 0, "text", "The council must tell you in 4 weeks."),
     "1 line added, 1 line removed"),
    ("smart-answer.json", "nodes[].options[].label",
     _set("details", "nodes", 0, "options", 1, "label", "16 to 25"), "1 line added, 1 line removed"),
    ("smart-answer.json", "nodes[].body", _set("details", "nodes", 2, "body", "<p>Ask your council.</p>"),
     "1 line added, 1 line removed"),
    ("transaction.json", "more_information",
     _set("details", "more_information", 0, "content", "<p>You do not need a needs assessment.</p>"),
     "1 line added, 1 line removed"),
]


@pytest.mark.parametrize("name, field, edit, summary", FIELD_EDITS, ids=[f"{e[0]}:{e[1]}" for e in FIELD_EDITS])
def test_an_edit_in_every_field_a_reader_sees_is_a_change(name, field, edit, summary):
    data = load(name)
    assert content_summary(data, edited(data, edit)) == summary


def _noise(data: dict) -> None:
    """A publish that changes nothing a reader sees: per-publish fields, ids, slugs, flags,
    analytics, derived headings, key order."""
    data.update(updated_at="2026-05-01T08:00:00.000Z", public_updated_at="2026-05-01T09:00:00+01:00",
                publishing_request_id="22-1777622400.000-10.13.9.1-77", links={}, content_id="ffffffff-0000-4000")
    details = data["details"]
    details.update(headers=[{"text": "Renamed heading", "level": 2, "id": "x"}], max_cache_time=60,
                   political=not details.get("political"), first_public_at="2026-05-01T08:00:00Z",
                   government={"title": "2029 government", "slug": "2029-government", "current": True},
                   emphasised_organisations=["a"], external_related_links=[{"title": "Elsewhere", "url": "/x"}],
                   hidden_search_terms=["another"], department_analytics_profile="UA-9",
                   cancelled_at="2026-05-01T08:00:00Z", public_timestamp="2026-05-01T08:00:00Z",
                   national_applicability={"england": {"label": "England", "applicable": True}})
    for part in details.get("parts", []) + details.get("nodes", []):
        part["slug"] += "-renamed"
    if "metadata" in details:
        details["metadata"]["bulk_published"] = True
    data["details"] = dict(reversed(list(details.items())))  # the same fields in another order


@pytest.mark.parametrize("name", SCHEMA_FIXTURES)
def test_noise_in_any_schema_is_no_change(name):
    data = load(name)
    assert content_summary(data, edited(data, _noise)) == "no change"


def test_a_statistics_announcement_reads_as_its_page_does():
    data = edited(load("statistics-announcement.json"), _moved_release)
    document = document_from_content_item(data, base_url="https://www.gov.uk/s")
    assert document.blocks[1:] == ("Release date: 9 April 2026 9:30am", "Previous release date: 12 March 2026 9:30am",
                                   "Release status: confirmed")
    # The note of the latest move is a change note, undated: a later publish that moves
    # public_updated_at does not make it new again.
    assert newest_change_note(data) == "Moved to allow time to check the new census data."
    data["public_updated_at"] = "2026-04-01T09:30:00Z"
    assert content_summary(edited(load("statistics-announcement.json"), _moved_release), data) == "no change"


def test_every_part_of_a_guide_is_read_in_order():
    document = document_from_content_item(load("guide.json"), base_url="https://www.gov.uk/g")
    assert document.blocks[1:] == (
        "Overview", "Your child may get SEN support at school, or an education, health and care (EHC) plan if they "
        "need more help.", "Extra help", "An EHC plan sets out the support your child needs. The council must decide "
        "within 20 weeks.", "If you disagree", "You can appeal to the SEND Tribunal within 2 months of the decision.")


def test_headline_figures_and_footnotes_of_an_html_publication_are_read():
    document = document_from_content_item(load("html-publication.json"), base_url="https://www.gov.uk/h")
    assert "638,700 EHC plans in January 2026, up 10.8% on last year" in document.blocks
    assert "Observations [3] cover every local authority." in document.blocks
    assert "New plans issued within 20 weeks [footnote 4] fell to 46.4%." in document.blocks


def results(*pairs) -> list[Item]:
    return [Item(RESULT, key, title=key.upper(), date=date) for key, date in pairs]


def test_results_accumulate_and_only_a_later_timestamp_is_an_update():
    known = results(("/a", "2025-01-01T00:00:00Z"), ("/b", "2025-01-02T00:00:00Z"))
    known[0] = Item(RESULT, "/a", title="A", date="2025-01-01T00:00:00Z", note="Added annex B.")
    current = [Item(RESULT, "/a", title="A (retitled)", date="2025-01-01T00:00:00Z", note="a description"),
               *results(("/b", "2025-03-01T00:00:00Z"), ("/c", "2025-03-02T00:00:00Z"))]
    merged, updated = merge_results(known, current)
    by_key = {item.key: item for item in merged}
    assert set(by_key) == {"/a", "/b", "/c"}
    assert by_key["/a"] == known[0]  # same timestamp: the known item stands, change note and all
    assert [item.key for item in updated] == ["/b"]
    # A timestamp that goes back is not an update either.
    merged, updated = merge_results(merged, results(("/c", "2024-01-01T00:00:00Z")))
    assert not updated and {i.key: i for i in merged}["/c"].date == "2025-03-02T00:00:00Z"


def search_source(**options) -> GovukSearchSource:
    return GovukSearchSource(SourceSettings(id="s", kind="govuk-search", url="https://www.gov.uk/api/search.json",
                                            **options))


def test_search_query_repeats_lists_and_always_orders_newest_first():
    source = search_source(params={"q": "special educational needs", "order": "-public_timestamp",
                                   "filter_organisations": ["department-for-education", "ofsted"]}, count=20)
    assert source.query() == [
        ("q", "special educational needs"), ("filter_organisations", "department-for-education"),
        ("filter_organisations", "ofsted"), ("count", "20"),
        ("fields", "title,link,description,public_timestamp,content_store_document_type,organisations"),
        ("order", "-public_timestamp")]


@pytest.mark.parametrize("params, message", [
    ({"order": "-popularity"}, "order='-popularity' is not allowed"),
    ({"count": "10"}, "set it with the source's `count` option"),
    ({"start": "50"}, "always reads the first page"),
])
def test_search_parameters_that_would_break_discovery_are_refused(params, message):
    text = f'''[[source]]
id = "send-search"
kind = "govuk-search"
url = "https://www.gov.uk/api/search.json"
[source.params]
{chr(10).join(f"{k} = {json.dumps(v)}" for k, v in params.items())}
'''
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, origin="sendwatch.toml", env={}, kinds=KINDS)
    assert "source 'send-search'" in str(caught.value) and message in str(caught.value)


def search_url_config(url: str, extra: str = "") -> str:
    return f'[[source]]\nid = "send-search"\nkind = "govuk-search"\nurl = "{url}"\n{extra}'


def test_a_search_url_copied_from_the_browser_is_read_into_the_options():
    source = GovukSearchSource(SourceSettings(
        id="s", kind="govuk-search", count=20, params={"filter_organisations": "ofsted"},
        url="https://www.gov.uk/api/search.json?q=SEND+reform&count=20&fields=title,link&start=0"
            "&order=-public_timestamp&filter_format=guidance&filter_format=policy_paper"))
    assert source.options.count == 20
    assert source.options.fields == ("title", "link", "public_timestamp")
    assert source.query() == [
        ("q", "SEND reform"), ("filter_format", "guidance"), ("filter_format", "policy_paper"),
        ("filter_organisations", "ofsted"), ("count", "20"), ("fields", "title,link,public_timestamp"),
        ("order", "-public_timestamp")]


@pytest.mark.parametrize("url, extra, message", [
    ("https://www.gov.uk/api/search.json?q=send&order=-popularity", "",
     "field 'url': order='-popularity' is not allowed: sendwatch always asks for order=-public_timestamp"),
    ("https://www.gov.uk/api/search.json?q=send&start=20", "",
     "field 'url': start=20: sendwatch always reads the first page, where new documents appear; remove it"),
    ("https://www.gov.uk/api/search.json?q=send&count=20", "count = 50\n",
     "field 'url': count=20 in the url and count = 50 disagree; give it once"),
    ("https://www.gov.uk/api/search.json?q=send&count=lots", "", "field 'url': count=lots is not a number"),
    ("https://www.gov.uk/api/search.json?q=send", '[source.params]\nq = "EHCP"\n',
     "field 'url': q=send in the url and params.q = 'EHCP' disagree; give it once"),
    ("https://www.gov.uk/api/search.json?q=send&count=5000", "", "field 'count'"),
])
def test_a_search_url_that_cannot_be_read_is_refused_when_the_config_loads(url, extra, message):
    with pytest.raises(ConfigError) as caught:
        parse_settings(search_url_config(url, extra), origin="sendwatch.toml", env={}, kinds=KINDS)
    assert str(caught.value).startswith("sendwatch.toml: source 'send-search' (sources[0]), ")
    assert message in str(caught.value)


def test_a_search_url_that_agrees_with_the_options_is_accepted():
    settings = parse_settings(search_url_config("https://www.gov.uk/api/search.json?q=send&count=20",
                                                'count = 20\n[source.params]\nq = "send"\n'),
                              origin="t", env={}, kinds=KINDS)
    assert GovukSearchSource(settings.sources[0]).query()[:2] == [("q", "send"), ("count", "20")]


def test_search_options_are_checked():
    with pytest.raises(ConfigError, match="count"):
        parse_settings('[[source]]\nid = "s"\nkind = "govuk-search"\nurl = "https://www.gov.uk/api/search.json"\n'
                       'count = 5000\n', origin="t", env={}, kinds=KINDS)
    assert search_source(fields=["title"]).options.fields == ("title", "link", "public_timestamp")


def test_discovered_gov_uk_documents_are_followed_through_the_content_api():
    source = search_source()
    assert source.discovers
    assert source.follow_kind(Item(RESULT, "/government/publications/x", url="https://www.gov.uk/x")) == \
        GovukContentSource.kind
    assert source.follow_kind(Item(RESULT, "https://www.nhs.uk/conditions/autism/")) is None


# --- end to end: sendwatch check against a local GOV.UK ---------------------------------------


@pytest.fixture
def config(tmp_path, site, database_url):
    """Write a sendwatch.toml; ``add(id, kind, path, extra)`` adds a source on the local site."""
    path = tmp_path / "sendwatch.toml"
    head = config_head(database_url)
    sources: list[str] = []

    def add(source_id, kind, path_on_site, extra=""):
        sources.append(f'[[source]]\nid = "{source_id}"\nkind = "{kind}"\nurl = "{site.url(path_on_site)}"\n'
                       f'{extra}\n')
        path.write_text(head + "\n".join(sources), encoding="utf-8")
        return path

    return add


def changes(sendwatch) -> list[dict]:
    return json.loads(sendwatch("changes", "--json").out)


def republished(data: dict) -> dict:
    """The same content published again: only per-publish fields and timestamp spelling differ."""
    data = copy.deepcopy(data)
    data["updated_at"] = "2025-09-02T15:47:10.118Z"
    data["publishing_request_id"] = "18-1756824430.118-10.13.4.201-911"
    data["public_updated_at"] = "2020-04-30T13:00:00Z"
    data["first_published_at"] = "2014-06-11T09:30:00Z"
    data["links"]["taxons"][0]["public_updated_at"] = "2025-08-30T10:00:00Z"
    data["links"]["mainstream_browse_pages"] = [{"title": "Special educational needs", "base_path": "/browse/send"}]
    history = data["details"]["change_history"]
    history[0]["public_timestamp"] = "2020-04-30T13:00:00Z"  # was 14:00+01:00
    history[1]["public_timestamp"] = "2015-01-09T16:20:00+00:00"  # was .000+00:00
    history[2]["public_timestamp"] = "2014-06-11T09:30:00.000Z"  # was 10:30+01:00
    return data


def with_change_note(data: dict, note: str, when: str = "2025-06-12T09:30:00.000+01:00") -> dict:
    data = copy.deepcopy(data)
    data["details"]["change_history"].insert(0, {"note": note, "public_timestamp": when})
    data["public_updated_at"] = when
    data["updated_at"] = "2025-06-12T08:30:04.552Z"
    return data


def test_a_content_item_republished_with_only_noise_is_unchanged(sendwatch, site, config):
    config("code", "govuk-content", CODE_PATH)
    site.set(CODE_API, as_json(load("send-code-of-practice.json")))
    first = sendwatch("check")
    assert first.code == 0, first.err
    assert "first" in first.out
    assert site.hits(CODE_API)[0]["accept"] == "application/json"

    site.set(CODE_API, as_json(republished(load("send-code-of-practice.json"))))
    assert "unchanged" in sendwatch("check").out
    assert changes(sendwatch) == []


def test_a_new_change_note_is_the_summary(sendwatch, site, config):
    config("code", "govuk-content", CODE_PATH)
    data = load("send-code-of-practice.json")
    site.set(CODE_API, as_json(data))
    sendwatch("check")

    site.set(CODE_API, as_json(with_change_note(republished(data), "Added the June 2025 handbook for SENCOs.")))
    result = sendwatch("check")
    assert "changed" in result.out
    (change,) = changes(sendwatch)
    assert change["summary"] == "change note: 'Added the June 2025 handbook for SENCOs.'"
    assert change["added_items"] == [{"kind": "change-note", "key": "2025-06-12T08:30:00Z Added the June 2025 "
                                      "handbook for SENCOs.", "title": "Added the June 2025 handbook for SENCOs.",
                                      "date": "2025-06-12T08:30:00Z",
                                      "note": "Added the June 2025 handbook for SENCOs."}]
    assert change["removed_items"] == [] and change["added_lines"] == [] and change["removed_lines"] == []


def test_the_change_note_leads_the_rest_of_the_change(sendwatch, site, config):
    config("code", "govuk-content", CODE_PATH)
    data = load("send-code-of-practice.json")
    site.set(CODE_API, as_json(data))
    sendwatch("check")

    updated = with_change_note(data, "Added the SENCO handbook.")
    updated["details"]["attachments"].append({
        "attachment_type": "file", "content_type": "application/pdf", "file_size": 1048576, "number_of_pages": 40,
        "id": "8800123", "title": "SENCO handbook", "url": "/media/6650a1b2c3/senco-handbook.pdf"})
    site.set(CODE_API, as_json(updated))
    sendwatch("check")
    (change,) = changes(sendwatch)
    assert change["summary"] == "change note: 'Added the SENCO handbook.'; 1 document added: 'SENCO handbook'"
    (attachment,) = [i for i in change["added_items"] if i["kind"] == "attachment"]
    assert attachment["url"] == site.url("/media/6650a1b2c3/senco-handbook.pdf")
    assert attachment["note"] == "PDF, 1.0 MB, 40 pages"


def test_gone_is_a_withdrawal_not_a_failure(sendwatch, site, config):
    config("code", "govuk-content", CODE_PATH)
    site.set(CODE_API, as_json(load("send-code-of-practice.json")))
    sendwatch("check")

    site.set(CODE_API, as_json(load("gone.json"), status=410))
    result = sendwatch("check")
    assert "changed" in result.out and "failed" not in result.out.split("checked")[0]
    (change,) = changes(sendwatch)
    assert change["summary"].startswith("notice: 'Withdrawn: GOV.UK no longer has this page (HTTP 410 Gone): ")
    assert [(i["kind"], i["key"]) for i in change["added_items"]] == [("notice", "withdrawn")]
    # GOV.UK's gone item says why and where the content went; the notice keeps both.
    assert change["added_items"][0]["title"] == (
        "Withdrawn: GOV.UK no longer has this page (HTTP 410 Gone): This code has been replaced by the 2026 "
        f"SEND code of practice. GOV.UK points to {site.url('/government/publications/send-code-of-practice-2026')}")
    # The content last seen is kept: nothing was removed.
    assert change["removed_items"] == [] and change["removed_lines"] == []
    sources = json.loads(sendwatch("sources", "--json").out)
    assert sources[0]["consecutive_failures"] == 0

    assert "unchanged" in sendwatch("check").out  # still gone: nothing new


def test_a_withdrawn_notice_is_news(sendwatch, site, config):
    config("code", "govuk-content", CODE_PATH)
    data = load("send-code-of-practice.json")
    site.set(CODE_API, as_json(data))
    sendwatch("check")

    withdrawn = copy.deepcopy(data)
    withdrawn["withdrawn_notice"] = {
        "explanation": "<div class=\"govspeak\"><p>This code has been replaced by the "
                       "<a href=\"/government/publications/send-code-of-practice-2026\">2026 code</a>.</p></div>",
        "withdrawn_at": "2026-02-02T10:00:00.000+00:00"}
    site.set(CODE_API, as_json(withdrawn))
    sendwatch("check")
    (change,) = changes(sendwatch)
    assert change["summary"] == "notice: 'Withdrawn on 2 February 2026: This code has been replaced by the 2026 code.'"

    # Then removed altogether: the explanation stays, the removal is added once.
    site.set(CODE_API, as_json(load("gone.json"), status=410))
    sendwatch("check")
    latest = changes(sendwatch)[0]
    ((_old, new),) = latest["updated_items"]
    assert new["title"] == ("Withdrawn on 2 February 2026: This code has been replaced by the 2026 code. "
                            "Since removed (HTTP 410 Gone): This code has been replaced by the 2026 SEND code of "
                            "practice. GOV.UK points to "
                            + site.url("/government/publications/send-code-of-practice-2026"))
    assert "unchanged" in sendwatch("check").out


def test_a_moved_release_date_is_a_change_that_says_so(sendwatch, site, config):
    path = "/government/statistics/announcements/special-educational-needs-in-england-january-2026"
    config("sen-stats", "govuk-content", path)
    data = load("statistics-announcement.json")
    site.set("/api/content" + path, as_json(data))
    sendwatch("check")
    site.set("/api/content" + path, as_json(edited(data, _noise)))
    assert "unchanged" in sendwatch("check").out

    site.set("/api/content" + path, as_json(edited(data, _moved_release)))
    assert "changed" in sendwatch("check").out
    (change,) = changes(sendwatch)
    assert change["summary"] == (
        "change note: 'Moved to allow time to check the new census data.'; release date moved from 12 March 2026 "
        "9:30am to 9 April 2026 9:30am; release status changed from provisional to confirmed")
    assert change["removed_lines"] == ["Release date: 12 March 2026 9:30am", "Release status: provisional"]


def test_gone_without_a_gone_item_still_says_what_happened(sendwatch, site, config):
    config("code", "govuk-content", CODE_PATH)
    site.set(CODE_API, as_json(load("send-code-of-practice.json")))
    sendwatch("check")
    site.set(CODE_API, Reply(b"gone", status=410, content_type="text/plain"))
    sendwatch("check")
    (change,) = changes(sendwatch)
    assert change["added_items"][0]["title"] == "Withdrawn: GOV.UK no longer has this page (HTTP 410 Gone)"


@pytest.mark.parametrize("status, body, reason", [
    (404, {"error": {"code": 404, "message": "Could not find content item with base_path " + CODE_PATH}},
     "HTTP 404 Not Found"),
    (422, {"error": {"code": 422, "message": "Invalid base path"}}, "Invalid base path"),
])
def test_other_api_errors_fail_the_check_with_the_api_message(sendwatch, site, config, status, body, reason):
    config("code", "govuk-content", CODE_PATH)
    site.set(CODE_API, as_json(body, status=status))
    result = sendwatch("check")
    assert "failed" in result.out and reason in result.out
    assert body["error"]["message"] in result.out


def search_page(results: list[dict]) -> Reply:
    data = load("send-search.json")
    data["results"] = results
    return as_json(data)


def search_config(config) -> None:
    config("send-search", "govuk-search", SEARCH_PATH,
           '[source.params]\nq = "special educational needs"\n'
           'filter_organisations = ["department-for-education", "education-and-skills-funding-agency"]\n')


NEW_RESULT = {
    "title": "Local authority SEND capital funding: 2026 to 2027",
    "link": "/government/publications/send-capital-funding-2026-to-2027",
    "description": "Allocations of capital funding for new specialist places for children with SEND.",
    "public_timestamp": "2026-03-05T09:30:00.000+00:00",
    "content_store_document_type": "guidance",
}


def test_a_search_whose_url_carries_its_query_is_checked(sendwatch, site, config):
    config("send-search", "govuk-search", SEARCH_PATH + "?q=special+educational+needs&count=20")
    site.set(SEARCH_PATH, search_page(load("send-search.json")["results"]))
    first = sendwatch("check")
    assert first.code == 0 and "first" in first.out, first.out + first.err
    query = parse_qs(urlsplit(site.requests[-1][0]).query)
    assert query["count"] == ["20"] and query["q"] == ["special educational needs"]
    assert query["order"] == ["-public_timestamp"]


def test_a_search_finds_a_new_document_and_nothing_falls_off(sendwatch, site, config):
    search_config(config)
    first_page = load("send-search.json")["results"]
    site.set(SEARCH_PATH, search_page(first_page))
    first = sendwatch("check")
    assert "first" in first.out, first.out + first.err
    query = parse_qs(urlsplit(site.requests[-1][0]).query)
    assert query["order"] == ["-public_timestamp"] and query["count"] == ["50"]
    assert query["q"] == ["special educational needs"]
    assert query["filter_organisations"] == ["department-for-education", "education-and-skills-funding-agency"]
    assert "link" in query["fields"][0].split(",")

    # One new document at the top; the last one falls off the page.
    site.set(SEARCH_PATH, search_page([NEW_RESULT, *first_page[:-1]]))
    result = sendwatch("check")
    assert "changed" in result.out
    (change,) = changes(sendwatch)
    assert change["summary"] == "1 new document: 'Local authority SEND capital funding: 2026 to 2027'"
    assert change["added_items"] == [{
        "kind": "result", "key": NEW_RESULT["link"], "title": NEW_RESULT["title"],
        "url": site.url(NEW_RESULT["link"]), "date": "2026-03-05T09:30:00Z", "note": NEW_RESULT["description"],
        "note_kind": "description"}]
    assert change["removed_items"] == [] and change["updated_items"] == []


def test_a_reordered_search_is_unchanged(sendwatch, site, config):
    search_config(config)
    first_page = load("send-search.json")["results"]
    site.set(SEARCH_PATH, search_page(first_page))
    sendwatch("check")
    reordered = copy.deepcopy(list(reversed(first_page)))
    reordered[0]["public_timestamp"] = "2020-04-30T13:00:00Z"  # the same instant, written in UTC
    reordered[0]["organisations"] = []  # fields not kept are not content
    site.set(SEARCH_PATH, search_page(reordered))
    assert "unchanged" in sendwatch("check").out
    assert changes(sendwatch) == []


def moved(results: list[dict], index: int, when: str) -> list[dict]:
    """The results after a major change to one: it gets a new timestamp and goes to the top."""
    results = copy.deepcopy(results)
    result = results.pop(index)
    result["public_timestamp"] = when
    return [result, *results]


def test_an_updated_document_is_reported_with_its_change_note(sendwatch, site, config):
    search_config(config)
    first_page = load("send-search.json")["results"]
    site.set(SEARCH_PATH, search_page(first_page))
    sendwatch("check")

    code = with_change_note(load("send-code-of-practice.json"), "Added the June 2025 handbook for SENCOs.")
    site.set(CODE_API, as_json(code))
    site.set(SEARCH_PATH, search_page(moved(first_page, 4, "2025-06-12T08:30:00Z")))
    result = sendwatch("check")
    assert "changed" in result.out
    assert site.hits(CODE_API), "the change note is read from the Content API"
    (change,) = changes(sendwatch)
    assert change["summary"] == ("1 document updated: 'SEND code of practice: 0 to 25 years' "
                                 "(change note: 'Added the June 2025 handbook for SENCOs.')")
    ((old, new),) = change["updated_items"]
    assert old["date"] == "2020-04-30T13:00:00Z" and new["date"] == "2025-06-12T08:30:00Z"
    assert new["note"] == "Added the June 2025 handbook for SENCOs."
    assert change["added_items"] == [] and change["removed_items"] == []

    # Seen again as it is: the change note kept in the item is not undone.
    assert "unchanged" in sendwatch("check").out
    assert len(site.hits(CODE_API)) == 1


def test_new_and_updated_documents_are_summarised_together(sendwatch, site, config):
    search_config(config)
    first_page = load("send-search.json")["results"]
    site.set(SEARCH_PATH, search_page(first_page))
    sendwatch("check")
    site.set(CODE_API, as_json(with_change_note(load("send-code-of-practice.json"), "Added the SENCO handbook.")))
    second = [{**NEW_RESULT, "link": "/government/news/x", "title": "SEND reforms announced",
               "public_timestamp": "2026-03-06T10:00:00Z"}, NEW_RESULT,
              *moved(first_page, 4, "2025-06-12T08:30:00Z")]
    site.set(SEARCH_PATH, search_page(second))
    sendwatch("check")
    (change,) = changes(sendwatch)
    assert change["summary"] == ("2 new documents: 'SEND reforms announced', 'Local authority SEND capital funding: "
                                 "2026 to 2027'; 1 document updated: 'SEND code of practice: 0 to 25 years' "
                                 "(change note: 'Added the SENCO handbook.')")


def test_a_failed_change_note_lookup_keeps_the_update(sendwatch, site, config):
    search_config(config)
    first_page = load("send-search.json")["results"]
    site.set(SEARCH_PATH, search_page(first_page))
    sendwatch("check")
    site.set(CODE_API, as_json({"error": {"code": 404, "message": "not found"}}, status=404))
    site.set(SEARCH_PATH, search_page(moved(first_page, 4, "2025-06-12T08:30:00Z")))
    result = sendwatch("check")
    assert "changed" in result.out
    (change,) = changes(sendwatch)
    assert change["summary"] == "1 document updated: 'SEND code of practice: 0 to 25 years'"
    assert "note" not in change["updated_items"][0][1]


def test_a_search_the_api_refuses_fails_with_its_message(sendwatch, site, config):
    search_config(config)
    site.set(SEARCH_PATH, Reply((FIXTURES / "search-error-422.json").read_bytes(), status=422,
                                content_type=JSON_TYPE))
    result = sendwatch("check")
    assert "failed" in result.out
    assert "HTTP 422" in result.out
    assert '"filter_content_store_document_type" is not a valid filter field' in result.out
    assert changes(sendwatch) == []


def test_an_api_error_message_is_recorded_without_its_control_characters(sendwatch, site, config):
    # The message is kept in the failure, so it reaches the database (no NUL on PostgreSQL),
    # the terminal and the "source broken" email.
    search_config(config)
    site.set(SEARCH_PATH, as_json({"error": "bad\u0000 filter\x1b[2J\x07\x08 field\u0085"}, status=422))
    result = sendwatch("check")
    assert result.code == 0
    assert result.out.startswith("failed") and result.out.rstrip().endswith("1 failed")
    assert f"HTTP 422 Unprocessable Entity from {site.url(SEARCH_PATH)}" in result.out
    (source,) = json.loads(sendwatch("sources", "--json").out)
    assert source["consecutive_failures"] == 1
    assert source["last_error"].endswith(": bad filter[2J field")


def test_a_search_answer_that_is_not_a_search_fails(sendwatch, site, config):
    search_config(config)
    site.set(SEARCH_PATH, as_json({"documents": []}))
    result = sendwatch("check")
    assert "failed" in result.out and "no results list" in result.out


REVISED_PATH = "/government/publications/send-code-of-practice-2026"
REVISED = {
    "title": "SEND code of practice: 0 to 25 years (2026 revision)",
    "link": REVISED_PATH,
    "description": "The revised statutory guidance, for consultation.",
    "public_timestamp": "2026-03-05T09:30:00.000+00:00",
    "content_store_document_type": "guidance",
}


def following_config(tmp_path, site, database_url, follow: bool) -> None:
    from tests.conftest import CODE_OF_PRACTICE

    (tmp_path / "sendwatch.toml").write_text(
        f'database_url = "{database_url}"\n[fetch]\nper_host_delay = 0\nretries = 0\n'
        f'[ledger]\nfollow = {"true" if follow else "false"}\n' + CODE_OF_PRACTICE
        + f'[[source]]\nid = "send-search"\nkind = "govuk-search"\nurl = "{site.url(SEARCH_PATH)}"\n'
        '[source.params]\nq = "SEND code of practice"\n', encoding="utf-8")


def test_a_discovered_development_is_followed_and_its_updates_are_developments(
        sendwatch, site, tmp_path, database_url):
    following_config(tmp_path, site, database_url, follow=True)
    first_page = load("send-search.json")["results"]
    site.set(SEARCH_PATH, search_page(first_page))
    sendwatch("check")
    site.set(SEARCH_PATH, search_page([REVISED, *first_page]))
    item = load("send-code-of-practice.json") | {"base_path": REVISED_PATH, "title": REVISED["title"]}
    site.set("/api/content" + REVISED_PATH, as_json(item))
    found = sendwatch("check")
    assert "development for: code-of-practice" in found.out
    assert "now following: followed-send-code-of-practice-2026-" in found.out

    followed_id = next(w for w in found.out.split() if w.startswith("followed-send-code-of-practice-2026-"))
    baseline = sendwatch("check", followed_id)  # a followed source can be named like a configured one
    assert site.hits("/api/content" + REVISED_PATH)
    assert "first" in baseline.out and followed_id in baseline.out
    shown = sendwatch("sources").out
    assert "followed by sendwatch (1)" in shown
    assert shown.index("followed by sendwatch") < shown.index("[govuk-content]")  # listed apart, after

    # Being followed for a commitment is not evidence on its own: a note that says nothing
    # of it is a change, not a development ...
    corrected = with_change_note(item, "Corrected the contact address.")
    site.set("/api/content" + REVISED_PATH, as_json(corrected))
    assert "development for" not in sendwatch("check").out
    # ... and one that names it is a development. (The promise's own words with being
    # followed, "the revised code of practice", make only a possible development.)
    note = "Consultation on the revised SEND code of practice extended to 30 June."
    site.set("/api/content" + REVISED_PATH, as_json(with_change_note(corrected, note, "2025-06-14T09:30:00.000+01:00")))
    update = sendwatch("check")
    assert f"change note: '{note}'" in update.out and "development for: code-of-practice" in update.out
    developments = json.loads(sendwatch("export").out)["commitments"][0]["developments"]
    assert [d["source_id"].startswith("followed-") for d in developments] == [True, False]


def test_following_can_be_switched_off(sendwatch, site, tmp_path, database_url):
    following_config(tmp_path, site, database_url, follow=False)
    first_page = load("send-search.json")["results"]
    site.set(SEARCH_PATH, search_page(first_page))
    sendwatch("check")
    site.set(SEARCH_PATH, search_page([REVISED, *first_page]))
    found = sendwatch("check")
    assert "development for: code-of-practice" in found.out and "now following" not in found.out
    sendwatch("check")
    assert site.hits("/api/content" + REVISED_PATH) == []
    assert "followed by sendwatch" not in sendwatch("sources").out


def test_control_characters_from_the_api_are_cleaned_and_the_change_recorded(sendwatch, site, config):
    # PostgreSQL refuses NUL in text: left in, it failed every check of the source for ever.
    config("code", "govuk-content", CODE_PATH)
    data = load("send-code-of-practice.json")
    site.set(CODE_API, as_json(data))
    assert "first" in sendwatch("check").out

    hostile = with_change_note(data, "Added\u0000 the \x1b[31mSENCO\x07 handbook\x08.\u009b\ud800")
    hostile["title"] = "SEND code\u0000 of practice\x1b]0;owned\x07"
    site.set(CODE_API, as_json(hostile))
    result = sendwatch("check")
    assert result.code == 0 and result.out.startswith("changed"), result.out
    (change,) = changes(sendwatch)
    assert change["summary"] == ("change note: 'Added the [31mSENCO handbook.'; "
                                 "title changed to 'SEND code of practice]0;owned'")
    (note,) = change["added_items"]
    assert note["note"] == note["title"] == "Added the [31mSENCO handbook."
    (source,) = json.loads(sendwatch("sources", "--json").out)
    assert source["consecutive_failures"] == 0 and source["last_error"] is None

    site.set(CODE_API, as_json(hostile))  # the same again: nothing new, no failure
    assert sendwatch("check").out.startswith("unchanged")


def test_a_phrase_in_many_of_the_documents_sendwatch_has_discovered_weighs_less(
        sendwatch, site, tmp_path, database_url):
    following_config(tmp_path, site, database_url, follow=False)
    # 24 documents the search has found, 8 of them with "SEN support" in their title.
    known = [{"title": f"SEN support in {place}: case study", "link": f"/government/case-studies/sen-support-{n}",
              "description": "How one school organises its support.", "public_timestamp": "2025-01-01T09:30:00Z"}
             for n, place in enumerate(["Leeds", "Bristol", "Derby", "Hull", "Bath", "York", "Wigan", "Crewe"])]
    known += [{"title": f"School funding statistics: table {n}", "link": f"/government/statistics/funding-{n}",
               "description": "Funding per pupil.", "public_timestamp": "2025-01-01T09:30:00Z"} for n in range(16)]
    site.set(SEARCH_PATH, search_page(known))
    sendwatch("check")
    new = {"title": "SEN support in Truro: case study", "link": "/government/case-studies/sen-support-truro",
           "description": "How one school organises its support.", "public_timestamp": "2025-02-01T09:30:00Z"}
    site.set(SEARCH_PATH, search_page([new, *known]))
    found = sendwatch("check")
    assert "1 new document: 'SEN support in Truro: case study'" in found.out
    assert "development for" not in found.out
    explained = sendwatch("explain", "1").out
    # 9 of the 25 held now: 0.8 x 0.1 / 0.36
    assert ("+0.22 document title: 'SEN support' in 'SEN support in Truro: case study' "
            "(in 9 of 25 discovered documents: x0.28)") in explained
