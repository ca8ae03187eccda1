"""The ``parliament-committee`` kind: a committee's publications from the Committees API.

The files under tests/fixtures/parliament are the project's own, shaped like the API's
answers (publication type ids 1, 3 and 10 are the API's; 2 and 12 are made up here). The
real answers under ../shared/fixtures/parliament are read by the conformance tests.
"""

import json
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from config import ConfigError, parse_settings
from config.loader import embedded_watchlist_text
from config.settings import SourceSettings
from monitor.core.developments import find_developments
from monitor.core.diff import diff_documents
from monitor.core.document import PUBLICATION, Document, Item
from monitor.core.errors import CheckFailed
from monitor.core.ledger import target
from monitor.sources import KINDS, make_source
from monitor.sources.parliament import (
    ParliamentCommitteeSource,
    document_from_publications,
    publications_url,
    type_ids_by_name,
)
from tests.conftest import SHARED, Reply, config_head

OWN = Path(__file__).parent / "fixtures" / "parliament"
REAL = SHARED / "fixtures" / "parliament"
needs_shared = pytest.mark.skipif(not REAL.exists(), reason="../shared/fixtures is not present in this checkout")

RESPONSE_TITLE = "Solving the SEND crisis: Government Response to the Committee's Fifth Report"
SUMMARY = f"1 new publication: Government Response '{RESPONSE_TITLE}' (11 Dec 2025)"


def own(name: str):
    return json.loads((OWN / name).read_text(encoding="utf-8"))


def source(**options) -> ParliamentCommitteeSource:
    settings = SourceSettings(id="educom", kind="parliament-committee",
                              url="https://committees-api.parliament.uk", **{"committee_id": 203, **options})
    return make_source(settings)


# -- conformance: the API's real answers -------------------------------------------------------


@needs_shared
def test_the_real_education_committee_answer():
    data = json.loads((REAL / "publications-committee-203.json").read_text(encoding="utf-8"))
    document = document_from_publications(data, committee_id=203)
    assert document.title == "Education Committee publications"
    assert len(document.items) == 5 and {i.kind for i in document.items} == {PUBLICATION}
    # The type, and the inquiry where the API names one (``businesses``).
    assert Counter(i.note for i in document.items) == {
        "Correspondence": 2, "Correspondence; inquiry 'Reform of level 3 qualifications'": 1,
        "Report; inquiry 'Pre-appointment Hearing: Chief Regulator of Ofqual'": 1, "Estimate memoranda": 1}

    newest = max(document.items, key=lambda i: (i.date, -int(i.key)))
    assert newest.key == "46016"
    assert newest.title == "Letter from DCMS Secretary of State on National Youth Strategy dated 06.12.24"
    assert newest.date == "2024-12-17T10:15:00Z"  # December: UK time is UTC
    assert newest.url == "https://committees.parliament.uk/publications/46016/documents/229090/default/"

    report = {i.key: i for i in document.items}["46004"]
    assert report.title == ("First Report - Appointment of Sir Ian Bauckham CBE as Chief Regulator of the "
                            "Office of Qualifications and Examinations Regulation (Ofqual)")
    assert report.note == "Report; inquiry 'Pre-appointment Hearing: Chief Regulator of Ofqual'"
    assert report.note_label == "publication type and inquiry" and report.date == "2024-12-13T10:00:00Z"
    assert report.url == "https://committees.parliament.uk/publications/46004/documents/228742/default/"
    assert {i.url for i in document.items} == {
        f"https://committees.parliament.uk/publications/{p}/documents/{d}/default/"
        for p, d in [(46016, 229090), (46017, 229092), (46019, 229094), (46004, 228742), (45887, 227698)]}


@needs_shared
def test_the_query_uses_the_parameters_the_openapi_file_names():
    spec = json.loads((REAL / "committees-api.openapi.json").read_text(encoding="utf-8"))
    operation = spec["paths"]["/api/Publications"]["get"]
    allowed = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    url = publications_url("https://committees-api.parliament.uk", 203, [1, 12], "SEND", 30)
    query = parse_qs(urlsplit(url).query)
    assert set(query) <= allowed
    orders = spec["components"]["schemas"]["Committees.Common.Enums.PublicationQuerySortOrder"]["enum"]
    assert query["SortOrder"] == ["PublicationDateDescending"] and query["SortOrder"][0] in orders
    assert query["PublicationTypeIds"] == ["1", "12"]
    type_ids = next(p for p in operation["parameters"] if p["name"] == "PublicationTypeIds")
    assert type_ids["schema"]["items"]["type"] == "integer"  # so names are looked up, not sent


@needs_shared
def test_the_real_answer_served_over_http(sendwatch, site, parliament_config):
    parliament_config()
    site.set("/api/Publications", Reply((REAL / "publications-committee-203.json").read_bytes(),
                                        content_type="application/json; charset=utf-8"))
    result = sendwatch("check")
    assert result.code == 0, result.err
    assert "first snapshot: 'Education Committee publications', 0 text blocks, 5 items" in result.out


# -- the pure parts ---------------------------------------------------------------------------


def test_publications_become_items_with_type_date_and_first_document():
    document = document_from_publications(own("publications-before.json"), committee_id=203)
    items = {i.key: i for i in document.items}
    assert set(items) == {"50101", "49876", "49500", "48800"}
    report = items["49876"]
    assert report == Item(PUBLICATION, "49876", "Fifth Report - Solving the SEND crisis",
                          url="https://committees.parliament.uk/publications/49876/documents/255500/default/",
                          date="2025-07-21T23:01:00Z",  # 00:01 BST
                          note="Report; inquiry 'Solving the SEND crisis'")
    assert items["48800"].note == "Estimate memoranda"


def test_a_publication_names_the_inquiry_it_belongs_to_and_is_matched_by_it():
    # Written evidence is titled by its author: the inquiry (the API's ``businesses``) is
    # what says it is part of the Committee's SEND work.
    evidence = {"id": 61234, "description": "Written evidence from Anonymous (SEN 94)",
                "type": {"id": 7, "name": "Written evidence"},
                "businesses": [{"id": 8684, "title": "Solving the SEND crisis"}, {"id": 1, "title": None}],
                "publicationStartDate": "2025-01-14T10:00:00", "documents": [{"documentId": 300001}]}
    item = document_from_publications({"items": [evidence]}, committee_id=203).items[0]
    assert item.note == "Written evidence; inquiry 'Solving the SEND crisis'"
    assert item.note_label == "publication type and inquiry"
    settings = parse_settings(embedded_watchlist_text(), origin="shipped", env={}, kinds=KINDS)
    change = diff_documents(Document("Education Committee publications", (), ()),
                            Document("Education Committee publications", (), (item,)))
    targets = [target(c) for c in settings.commitments]
    found = find_developments(change, source=settings.source("education-committee-publications"),
                              summary=change.summary, targets=targets, discovers=True)
    assert [(d.commitment_id, d.status) for d in found] == [("committee-scrutiny", "development")]
    without = document_from_publications({"items": [{**evidence, "businesses": []}]}, committee_id=203).items[0]
    assert (without.note, without.note_label) == ("Written evidence", "publication type")


def test_a_publication_without_documents_links_its_extra_content_or_nothing():
    base = {"id": 7, "description": "Oral evidence", "publicationStartDate": "2025-01-09T10:00:00+00:00",
            "type": {"name": "Oral evidence"}, "documents": []}
    (item,) = document_from_publications({"items": [base]}, committee_id=203).items
    assert item.url is None and item.date == "2025-01-09T10:00:00Z"
    linked = {**base, "additionalContentUrl": "https://parliamentlive.tv/event/index/abc"}
    assert document_from_publications({"items": [linked]}, committee_id=203).items[0].url == (
        "https://parliamentlive.tv/event/index/abc")


def test_a_page_without_items_keeps_the_previous_title_and_publications():
    first = document_from_publications(own("publications-before.json"), committee_id=203)
    empty = document_from_publications({"items": [], "totalResults": 0}, committee_id=203, previous=first)
    assert empty == first
    assert document_from_publications({"items": []}, committee_id=203).title == "Committee 203 publications"


@pytest.mark.parametrize("data", [[], {"results": []}, {"items": None}, "oops"])
def test_an_answer_that_is_not_a_publication_list_fails(data):
    with pytest.raises(CheckFailed, match="no 'items' list of publications"):
        document_from_publications(data, committee_id=203)


def test_publications_accumulate_and_order_never_counts():
    before = document_from_publications(own("publications-before.json"), committee_id=203)
    after = document_from_publications(own("publications-after.json"), committee_id=203, previous=before)
    change = diff_documents(before, after)
    assert [i.key for i in change.added_items] == ["50220"]
    assert not change.removed_items and not change.updated_items  # 48800 fell off the page: kept
    assert "48800" in {i.key for i in after.items}
    again = document_from_publications(own("publications-reordered.json"), committee_id=203, previous=after)
    assert again == after


def test_the_summary_names_type_title_and_uk_date():
    before = document_from_publications(own("publications-before.json"), committee_id=203)
    after = document_from_publications(own("publications-after.json"), committee_id=203, previous=before)
    kind = source()
    assert kind.summarise(diff_documents(before, after)) == SUMMARY
    # Newest first; a summer date is shown as the UK day, not the UTC one.
    empty = Document("Education Committee publications")
    assert kind.summarise(diff_documents(empty, before)) == (
        "4 new publications: Correspondence 'Letter from the Minister for School Standards on SEND reform, dated "
        "25 November 2025' (2 Dec 2025), Report 'Fifth Report - Solving the SEND crisis' (22 Jul 2025), "
        "Correspondence 'Letter to the Secretary of State for Education on the timeliness of EHC plans, dated 3 June "
        "2025' (10 Jun 2025) and 1 more")
    renamed = Document(before.title, (), tuple(
        Item(i.kind, i.key, i.title + " (corrected)" if i.key == "49876" else i.title, i.url, i.date, i.note)
        for i in before.items))
    assert kind.summarise(diff_documents(before, renamed)) == (
        "1 publication updated: Report 'Fifth Report - Solving the SEND crisis (corrected)' (22 Jul 2025)")


def test_the_query_url():
    url = publications_url("https://committees-api.parliament.uk", 203, [], None, 30)
    assert url == ("https://committees-api.parliament.uk/api/Publications?"
                   "CommitteeId=203&SortOrder=PublicationDateDescending&Take=30")
    url = publications_url("http://127.0.0.1:1", 203, [1, 12], "SEND reform", 10)
    assert url.endswith("Take=10&PublicationTypeIds=1&PublicationTypeIds=12&SearchTerm=SEND+reform")


@pytest.mark.parametrize("url", ["https://committees-api.parliament.uk", "https://committees-api.parliament.uk/",
                                 "https://committees-api.parliament.uk/api",
                                 "https://committees-api.parliament.uk/api/Publications"])
def test_the_base_url_may_be_written_with_or_without_the_api_path(url):
    settings = SourceSettings(id="e", kind="parliament-committee", url=url, committee_id=203)
    assert make_source(settings).api == "https://committees-api.parliament.uk"


def parliament_source_config(url: str, extra: str = "") -> str:
    return f'[[source]]\nid = "education-committee"\nkind = "parliament-committee"\nurl = "{url}"\n{extra}'


def test_a_publications_url_copied_from_the_browser_is_read_into_the_options():
    settings = parse_settings(parliament_source_config(
        "https://committees-api.parliament.uk/api/Publications?CommitteeId=203&PublicationTypeIds=1"
        "&PublicationTypeIds=12&searchTerm=SEND&Take=10&SortOrder=PublicationDateDescending&Skip=0"),
        origin="t", env={}, kinds=KINDS)
    source = make_source(settings.sources[0])
    assert source.api == "https://committees-api.parliament.uk"
    assert (source.options.committee_id, source.options.publication_types, source.options.search_term,
            source.options.take) == (203, (1, 12), "SEND", 10)


@pytest.mark.parametrize("url, extra, message", [
    ("https://committees-api.parliament.uk/api/Publications?CommitteeId=203&StartDate=2024-01-01", "",
     "field 'url': StartDate=2024-01-01: sendwatch cannot read this parameter; write the url as "
     "https://committees-api.parliament.uk and use the options committee_id, publication_types, "
     "search_term and take"),
    ("https://committees-api.parliament.uk/api/Publications?CommitteeId=203", "committee_id = 204\n",
     "field 'url': CommitteeId=203 in the url and committee_id = 204 disagree; give it once"),
    ("https://committees-api.parliament.uk/api/Publications?CommitteeId=education", "",
     "field 'url': CommitteeId=education is not a number"),
    ("https://committees-api.parliament.uk/api/Publications?CommitteeId=203&SortOrder=PublicationDateAscending", "",
     "field 'url': SortOrder=PublicationDateAscending: sendwatch always asks for "
     "SortOrder=PublicationDateDescending"),
    ("https://committees-api.parliament.uk/api/Publications?CommitteeId=203&Skip=30", "",
     "field 'url': Skip=30: sendwatch always reads the newest publications; remove it"),
])
def test_a_publications_url_that_cannot_be_read_is_refused_when_the_config_loads(url, extra, message):
    with pytest.raises(ConfigError) as caught:
        parse_settings(parliament_source_config(url, extra), origin="sendwatch.toml", env={}, kinds=KINDS)
    assert str(caught.value).startswith("sendwatch.toml: source 'education-committee' (sources[0]), ")
    assert message in str(caught.value)


def test_type_names_are_looked_up_in_any_case_singular_or_plural():
    types = own("publication-types.json")
    assert type_ids_by_name(types, ["government response", "Reports"]) == {12, 1}
    with pytest.raises(CheckFailed, match=r"unknown publication type 'Green paper'; the Committees API knows: "
                                          r"Correspondence, Estimate memoranda, Government Response, Report"):
        type_ids_by_name(types, ["Report", "Green paper"])


@pytest.mark.parametrize("options, field", [
    ({}, "committee_id"),
    ({"committee_id": 0}, "committee_id"),
    ({"committee_id": 203, "take": 0}, "take"),
    ({"committee_id": 203, "search_term": "x"}, "search_term"),
    ({"committee_id": 203, "publication_types": [" "]}, "publication_types"),
    ({"committee_id": 203, "committee": 203}, "committee"),
])
def test_options_are_checked(options, field):
    settings = SourceSettings(id="e", kind="parliament-committee", url="https://committees-api.parliament.uk",
                              **options)
    with pytest.raises(ValueError, match=field):
        make_source(settings)


# -- end to end, through the CLI against a local site ---------------------------------------------


@pytest.fixture
def parliament_config(tmp_path, site, database_url):
    def write(options: str = "", retries: int = 0):
        (tmp_path / "sendwatch.toml").write_text(config_head(database_url, retries=retries) + f'''
[[source]]
id = "education-committee"
kind = "parliament-committee"
url = "{site.base}"
committee_id = 203
{options}
''', encoding="utf-8")
    return write


def answer(data, status: int = 200, content_type: str = "application/json; charset=utf-8") -> Reply:
    return Reply(json.dumps(data).encode(), status=status, content_type=content_type)


def serve(site, name: str) -> None:
    site.set("/api/Publications", answer(own(name)))


def queries(site) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(path).query) for path, _ in site.requests if path.startswith("/api/Publications")]


def test_a_publications_url_with_its_query_asks_the_api_once_with_it(sendwatch, site, tmp_path, database_url):
    (tmp_path / "sendwatch.toml").write_text(config_head(database_url) + parliament_source_config(
        site.url("/api/Publications?CommitteeId=203&Take=5")), encoding="utf-8")
    serve(site, "publications-before.json")
    first = sendwatch("check")
    assert first.code == 0 and "first" in first.out, first.out + first.err
    assert [path.split("?")[0] for path, _ in site.requests] == ["/api/Publications"]
    assert queries(site) == [{"CommitteeId": ["203"], "SortOrder": ["PublicationDateDescending"], "Take": ["5"]}]


def test_a_committee_that_gains_a_government_response(sendwatch, site, parliament_config):
    parliament_config()
    serve(site, "publications-before.json")
    first = sendwatch("check")
    assert first.code == 0, first.err
    assert "first snapshot: 'Education Committee publications', 0 text blocks, 4 items" in first.out
    assert queries(site)[0] == {"CommitteeId": ["203"], "SortOrder": ["PublicationDateDescending"], "Take": ["30"]}
    assert site.requests[0][1]["accept"] == "application/json"

    page = own("publications-before.json")
    page["items"] = page["items"][:3][::-1]  # the oldest dropped by Take, the rest reordered
    site.set("/api/Publications", answer(page))
    assert "unchanged" in sendwatch("check").out

    serve(site, "publications-after.json")
    changed = sendwatch("check")
    assert "changed" in changed.out and SUMMARY in changed.out
    changes = json.loads(sendwatch("changes", "--json").out)
    assert len(changes) == 1
    assert changes[0]["summary"] == SUMMARY
    assert changes[0]["added_items"] == [{
        "kind": "publication", "key": "50220", "title": RESPONSE_TITLE, "date": "2025-12-11T10:00:00Z",
        "note": "Government Response; inquiry 'Solving the SEND crisis'", "note_kind": "publication type and inquiry",
        "url": "https://committees.parliament.uk/publications/50220/documents/262000/default/"}]
    assert changes[0]["removed_items"] == [] and changes[0]["updated_items"] == []

    serve(site, "publications-reordered.json")
    assert "unchanged" in sendwatch("check").out
    assert len(json.loads(sendwatch("changes", "--json").out)) == 1


def test_type_names_and_search_term_go_into_the_query(sendwatch, site, parliament_config):
    parliament_config('publication_types = ["Report", "government response", 3]\nsearch_term = "SEND"\ntake = 10')
    site.set("/api/PublicationType", answer(own("publication-types.json")))
    serve(site, "publications-before.json")
    result = sendwatch("check")
    assert "first" in result.out, result.out
    assert queries(site) == [{"CommitteeId": ["203"], "SortOrder": ["PublicationDateDescending"], "Take": ["10"],
                              "PublicationTypeIds": ["1", "3", "12"], "SearchTerm": ["SEND"]}]


def test_an_unknown_type_name_is_a_failed_check(sendwatch, site, parliament_config):
    parliament_config('publication_types = ["Green paper"]')
    site.set("/api/PublicationType", answer(own("publication-types.json")))
    result = sendwatch("check")
    assert "failed" in result.out and "unknown publication type 'Green paper'" in result.out
    assert queries(site) == []


def test_a_500_then_success_is_retried(sendwatch, site, parliament_config):
    parliament_config(retries=1)
    site.set("/api/Publications", [answer({"title": "An unexpected error occurred", "status": 500}, status=500),
                                   answer(own("publications-before.json"))])
    result = sendwatch("check")
    assert "first" in result.out and "4 items" in result.out, result.out
    assert len(queries(site)) == 2


PROBLEM_422 = {"type": "https://tools.ietf.org/html/rfc4918#section-11.2",
               "title": "One or more validation errors occurred.", "status": 422,
               "errors": {"SearchTerm": ["The field SearchTerm must be a string with a minimum length of 2."]}}


@pytest.mark.parametrize("reply, reason", [
    (answer(PROBLEM_422, status=422, content_type="application/problem+json; charset=utf-8"),
     "HTTP 422 Unprocessable Entity from http://127.0.0.1:"),
    (answer({"title": "An unexpected error occurred", "status": 500}, status=500),
     "HTTP 500 Internal Server Error from http://127.0.0.1:"),
    (answer({"title": "Not Found", "status": 404}, status=404), "HTTP 404 Not Found"),
], ids=["422", "500", "404"])
def test_a_persisting_error_is_a_failed_check_with_the_api_message(sendwatch, site, parliament_config,
                                                                  reply, reason):
    parliament_config(retries=1)
    serve(site, "publications-before.json")
    sendwatch("check")
    site.set("/api/Publications", reply)
    result = sendwatch("check")
    assert result.code == 0 and "failed" in result.out
    assert reason in result.out
    message = json.loads(reply.body)["title"]
    assert message in result.out
    sources = json.loads(sendwatch("sources", "--json").out)
    assert sources[0]["consecutive_failures"] == 1 and message in sources[0]["last_error"]
    assert json.loads(sendwatch("changes", "--json").out) == []


def test_an_answer_that_is_not_json_is_a_failed_check(sendwatch, site, parliament_config):
    parliament_config()
    site.page("/api/Publications", "<html><body>Service unavailable</body></html>")
    result = sendwatch("check")
    assert "failed" in result.out and "expected JSON" in result.out


def test_a_bad_option_is_a_config_error(sendwatch, site, parliament_config):
    parliament_config('committe = 5')
    result = sendwatch("check")
    assert result.code == 2
    assert "source 'education-committee' (sources[0]), field 'committe'" in result.err


def test_the_committee_kind_discovers_documents_for_every_commitment():
    from monitor.sources.parliament import ParliamentCommitteeSource

    assert ParliamentCommitteeSource.discovers is True
    assert "discovers = True" not in (ParliamentCommitteeSource.__doc__ or "")
