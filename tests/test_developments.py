"""What identifies a development's document, and what a person's rejection does to a score
(pure functions, no I/O)."""

from datetime import UTC, datetime

import pytest

from config import SourceSettings
from monitor.core.addresses import document_key
from monitor.core.developments import Judgement, find_developments, item_key, judge
from monitor.core.diff import diff_documents
from monitor.core.document import PUBLICATION, RESULT, Document, Item
from monitor.core.drafts import DEVELOPMENT, POSSIBLE, Rejection
from monitor.core.match import Hit, Match, Target

PLAN = "/government/publications/send-and-alternative-provision-improvement-plan"


@pytest.mark.parametrize("url", [
    f"https://www.gov.uk{PLAN}", f"https://WWW.GOV.UK{PLAN}/", f"http://gov.uk{PLAN}?utm_source=feed#details",
])
def test_every_spelling_of_a_govuk_address_is_one_document(url):
    assert document_key(url) == f"gov.uk:{PLAN}"


def test_other_addresses_keep_their_host_and_unsafe_ones_are_no_document():
    assert document_key("http://127.0.0.1:8080/a/b/?x=1") == "127.0.0.1:8080/a/b"
    assert document_key("https://assets.publishing.service.gov.uk/f.pdf") == "assets.publishing.service.gov.uk/f.pdf"
    assert document_key("javascript:alert(1)") is None and document_key(None) is None


def test_a_committee_publication_is_known_by_its_id_and_an_update_by_its_day():
    publication = Item(PUBLICATION, "501", "Report", url="https://committees.parliament.uk/publications/501/d/")
    assert item_key(publication) == "parliament-publication:501"
    result = Item(RESULT, PLAN, "Plan", url=f"https://www.gov.uk{PLAN}", date="2025-03-10T09:30:00Z")
    assert item_key(result) == f"gov.uk:{PLAN}"
    assert item_key(result, updated=True) == f"gov.uk:{PLAN}@2025-03-10"


REJECTED = Rejection("send-review", "gov.uk:/x", "SEND review: call for evidence", datetime(2026, 1, 2, tzinfo=UTC))


def test_a_title_like_a_rejected_one_loses_weight_for_that_commitment_and_says_why():
    strong = Match("send-review", 0.8, (Hit("SEND review", "document title", "SEND review: call for evidence", 0.8),))
    judged = judge(strong, ("SEND review: call for evidence (closed)",), [REJECTED])
    assert (judged.score, judged.status) == (0.4, POSSIBLE)
    assert "-0.40 rejected before: 'SEND review: call for evidence' (by a person on 2026-01-02; " \
           "5 of 6 words as in 'SEND review: call for evidence (closed)')" in judged.explain()
    assert "= score 0.40: a possible development" in judged.explain()
    # Another commitment, or a title not alike, keeps its score.
    assert judge(Match("code", 0.8), ("SEND review: call for evidence",), [REJECTED]).score == 0.8
    assert judge(strong, ("SEND review: the government's response",), [REJECTED]).status == DEVELOPMENT


@pytest.mark.parametrize("score, status", [(0.5, DEVELOPMENT), (0.49, POSSIBLE), (0.3, POSSIBLE), (0.29, None)])
def test_a_score_below_the_threshold_but_close_is_a_possible_development(score, status):
    assert Judgement(Match("c", score)).status == status


def test_a_discovered_document_is_drafted_with_its_key_and_status():
    source = SourceSettings(id="search", kind="govuk-search", url="https://www.gov.uk/api/search.json")
    before = Document("s")
    after = Document("s", (), (Item(RESULT, PLAN, "SEND and alternative provision improvement plan",
                                    url=f"https://www.gov.uk{PLAN}/"),))
    targets = [Target("send-review", ("SEND review",), ("SEND and alternative provision improvement plan",))]
    (draft,) = find_developments(diff_documents(before, after), source=source, summary="", targets=targets,
                                 discovers=True)
    assert (draft.document_key, draft.status) == (f"gov.uk:{PLAN}", DEVELOPMENT)


def test_a_link_on_a_watched_page_that_is_updated_is_news_of_its_own():
    # The same address, a new title: the consultation's outcome, not a sighting of the
    # consultation already reported.
    from monitor.core.document import LINK

    source = SourceSettings(id="review", url="https://www.gov.uk/government/groups/send-review",
                            commitments=["send-review"])
    targets = [Target("send-review", ("SEND review",))]
    url = "https://www.gov.uk/government/consultations/send-review-consultation"
    page = Document("Review", (), ())
    consultation = Document("Review", (), (Item(LINK, url, "SEND review: consultation", url=url),))
    outcome = Document("Review", (), (Item(LINK, url, "SEND review: consultation outcome and government response",
                                           url=url),))
    (first,) = find_developments(diff_documents(page, consultation), source=source, summary="", targets=targets,
                                 discovers=False)
    (then,) = find_developments(diff_documents(consultation, outcome), source=source, summary="", targets=targets,
                                discovers=False)
    assert first.document_key == "gov.uk:/government/consultations/send-review-consultation"
    assert then.document_key.startswith(first.document_key + "#") and then.status == DEVELOPMENT
