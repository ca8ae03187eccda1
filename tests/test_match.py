"""Matching changes to commitments: realistic changes, irrelevant ones and near misses.

The corpus below is also the measure of matching quality: the last test states the
precision and recall over it (reported in the issue note).
"""

import pytest

from monitor.core.diff import Change
from monitor.core.document import ATTACHMENT, CHANGE_NOTE, LINK, NOTE_DOCUMENT_TYPE, PUBLICATION, RESULT, Item
from monitor.core.match import THRESHOLD, Subject, Target, match, normalise, score

REVIEW = Target("send-review", phrases=("SEND review", "SEND green paper", "right support, right place, right time",
                                        "SEND and alternative provision improvement plan", "SEND reform"),
                documents=("SEND review: right support, right place, right time",
                           "SEND and alternative provision improvement plan"))
CODE = Target("code-of-practice", phrases=("SEND code of practice", "special educational needs code of practice",
                                           "SEN support"),
              documents=("SEND code of practice: 0 to 25 years",))
CARE = Target("childrens-social-care-review",
              phrases=("review of children's social care", "children's social care review",
                       "Stable Homes, Built on Love"),
              documents=("The independent review of children's social care: final report",))
INSPECT = Target("send-inspection-framework",
                 phrases=("area SEND inspection", "local area SEND inspection", "area SEND framework"),
                 documents=("Area SEND inspections: framework and handbook",))
NOTIONAL = Target("notional-send-budget", phrases=("notional SEN budget", "SEN support"))
TARGETS = (REVIEW, CODE, CARE, INSPECT)


def change(lines=(), docs=(), notes=(), results=()):
    items = tuple(Item(ATTACHMENT, f"https://www.gov.uk/{n}", title) for n, title in enumerate(docs))
    items += tuple(Item(CHANGE_NOTE, f"2026-01-0{n} {note}", date="2026-01-01", note=note)
                   for n, note in enumerate(notes))
    items += tuple(Item(RESULT, f"/r/{n}", title, note=desc) for n, (title, desc) in enumerate(results))
    return Change("Page", "Page", tuple(lines), (), items)


@pytest.mark.parametrize("text, expected", [
    ("SEND Review", "special educational need and disability review"),
    ("special educational needs and disabilities review", "special educational need and disability review"),
    ("Special Educational Needs and/or Disabilities (SEND) review",
     "special educational need and disability special educational need and disability review"),
    ("EHCPs", "education health and care plan"),
    ("EHC plans", "education health and care plan"),
    ("Children’s social care", "children social care"),
    ("send us your views", "send us your view"),  # the verb is not SEND
])
def test_normalise(text, expected):
    assert normalise(text) == expected


RELEVANT = [
    ("green paper published", REVIEW, change(docs=["SEND review: right support, right place, right time"])),
    ("improvement plan in a search", REVIEW,
     change(results=[("SEND and alternative provision improvement plan", "Our plan for SEND and AP reform.")])),
    ("long form in a change note", REVIEW,
     change(notes=["Added the special educational needs and disabilities review consultation outcome."])),
    ("plural and case in text", REVIEW,
     change(lines=["The SEND reforms set out in the White Paper will begin in 2027."])),
    ("code of practice revised", CODE, change(docs=["SEND code of practice: 0 to 25 years (2026 revision)"])),
    ("EHCP long form and code", CODE,
     change(lines=["We will consult on a revised Special Educational Needs Code of Practice this spring."])),
    ("social care final report", CARE,
     change(docs=["The independent review of children's social care: final report"])),
    ("stable homes strategy", CARE, change(results=[("Stable homes, built on love: strategy", "Government strategy")])),
    ("inspection framework updated", INSPECT,
     change(docs=["Area SEND inspections: framework and handbook"], notes=["Updated the handbook for June 2025."])),
    ("inspection long form", INSPECT,
     change(lines=["Local area special educational needs and disabilities inspections will start in January."])),
]

IRRELEVANT = [
    ("a different review", change(results=[("Review of post-16 qualifications at level 3",
                                             "The outcome of the review of qualifications.")])),
    ("consultation on another subject", change(results=[("School uniform costs: consultation",
                                                          "Consultation on the cost of school uniforms.")])),
    ("the verb send", change(lines=["Send us your views on the school uniform guidance by 1 March."])),
    ("careers review", change(notes=["Updated the careers guidance review."])),
    ("social care for adults", change(docs=["Adult social care reform white paper"])),
    ("inspection of colleges", change(lines=["Ofsted's inspection framework for further education is updated."])),
    ("code of conduct", change(docs=["Teachers' standards: code of conduct"])),
    ("footer-only tweak", change(lines=["Print this page"])),
]


@pytest.mark.parametrize("name, target, subject_change", RELEVANT, ids=[r[0] for r in RELEVANT])
def test_relevant_changes_match_their_commitment(name, target, subject_change):
    best = match(Subject.of_change(subject_change), TARGETS)[0]
    assert best.commitment_id == target.id and best.relevant, best.explain()


@pytest.mark.parametrize("name, subject_change", IRRELEVANT, ids=[r[0] for r in IRRELEVANT])
def test_near_misses_and_irrelevant_changes_do_not(name, subject_change):
    results = match(Subject.of_change(subject_change), TARGETS)
    assert not any(m.relevant for m in results), "\n".join(m.explain() for m in results)


def test_a_watched_source_publishing_a_change_note_without_other_evidence_is_no_development():
    # Being watched for a commitment is not evidence on its own (it used to add the whole
    # threshold, so every change note of the Code page was a Code of Practice development).
    subject = Subject.of_change(change(notes=["Updated to reflect the Children and Families Act amendments."]))
    bound = score(subject, CODE, bound=True)
    assert not bound.relevant and bound.score == 0, bound.explain()


def test_a_watched_source_strengthens_weak_evidence():
    subject = Subject.of_change(change(notes=["Added support for pupils with SEN to the early years section."]))
    alone, bound = score(subject, NOTIONAL), score(subject, NOTIONAL, bound=True)
    assert not alone.relevant and bound.relevant, (alone.explain(), bound.explain())
    assert bound.hits[-1].where == "watched source"


def test_a_link_added_to_a_watched_page_is_a_publication_there():
    # An inquiry's publications page lists each new letter as a link: the page publishing it
    # strengthens the weak evidence of its title, as an attachment would.
    letter = Item(LINK, "https://committees.parliament.uk/letter", title="Letter from the Minister on SEND",
                  url="https://committees.parliament.uk/letter")
    subject = Subject.of_change(Change("Publications", "Publications", added_items=(letter,)))
    scrutiny = Target("committee-scrutiny", phrases=("special educational needs and disabilities",))
    alone, bound = score(subject, scrutiny), score(subject, scrutiny, bound=True)
    assert not alone.relevant and bound.relevant, (alone.explain(), bound.explain())
    assert bound.hits[-1].where == "watched source"


def test_a_watched_source_whose_text_changes_without_the_phrases_stays_a_plain_change():
    subject = Subject.of_change(change(lines=["Contact us at the address below."]))
    assert not score(subject, CODE, bound=True).relevant


def test_explanations_name_phrase_place_and_text():
    subject = Subject.of_change(change(docs=["SEND code of practice: 0 to 25 years"],
                                       lines=["SEN support expectations are clarified."]))
    text = score(subject, CODE).explain()
    assert "code-of-practice: score 1.00 matches" in text
    assert "+1.00 expected document: 'SEND code of practice: 0 to 25 years'" in text
    # A further phrase adds 0.1, and is shown with the 0.1 it adds.
    assert "+0.10 added text: 'SEN support' in 'SEN support expectations are clarified.' (a further phrase)" in text


def test_a_publication_is_scored_by_its_title_and_type():
    item = Item(PUBLICATION, "9", "Solving the SEND crisis: Government Response", note="Government Response")
    target = Target("committee", phrases=("Solving the SEND crisis",))
    assert score(Subject.of_item(item), target).relevant


def test_precision_and_recall_over_the_corpus():
    found = [match(Subject.of_change(c), TARGETS)[0] for _n, _t, c in RELEVANT]
    true_positive = sum(1 for m, (_n, t, _c) in zip(found, RELEVANT, strict=True)
                        if m.relevant and m.commitment_id == t.id)
    false_positive = sum(1 for _n, c in IRRELEVANT
                         if any(m.relevant for m in match(Subject.of_change(c), TARGETS)))
    precision = true_positive / (true_positive + false_positive)
    recall = true_positive / len(RELEVANT)
    assert (precision, recall) == (1.0, 1.0), (precision, recall)
    assert THRESHOLD == 0.5


PLAN = "https://www.gov.uk/government/publications/send-and-alternative-provision-improvement-plan"
FRAMEWORK = "https://www.gov.uk/government/publications/area-send-framework-and-handbook"
CODE_PAGE = "https://www.gov.uk/government/publications/send-code-of-practice-0-to-25"
KNOWN_REVIEW = Target("send-review", phrases=("SEND review",), known=(PLAN,))
KNOWN_INSPECT = Target("send-inspection-framework", phrases=("area SEND framework",), known=(FRAMEWORK,))
CODE_UNDELIVERED = Target("code-of-practice", phrases=("SEND code of practice",), documents=(), known=())


def test_a_part_published_under_a_known_document_is_news_of_its_commitment_whatever_its_words():
    roadmap = Item(RESULT, "r", "SEND and alternative provision roadmap",
                   url=PLAN + "/send-and-alternative-provision-roadmap")
    found = score(Subject.of_item(roadmap), KNOWN_REVIEW)
    assert found.relevant and found.hits[0].where == "part of a known document"
    assert PLAN in found.explain() and "roadmap" in found.explain()
    # The same title anywhere else, the known document itself, or an address that merely
    # starts with the same letters, is no part of it.
    for url in ("https://www.gov.uk/government/publications/send-and-alternative-provision-roadmap", PLAN,
                PLAN + "-easy-read", "https://example.org/government/publications/"
                                     "send-and-alternative-provision-improvement-plan/roadmap"):
        assert not score(Subject.of_item(Item(RESULT, "r", roadmap.title, url=url)), KNOWN_REVIEW).relevant, url


def test_a_change_note_on_a_known_document_is_news_but_not_on_a_page_that_did_not_deliver_it():
    note = change(notes=["See 'Summary of changes'."])
    on_framework = score(Subject.of_change(note, FRAMEWORK), KNOWN_INSPECT)
    assert on_framework.relevant and on_framework.hits[0].where == "change note on a known document"
    # The Code's page is the 2015 Code, not the revised one promised: a note there is no news by itself.
    assert not score(Subject.of_change(note, CODE_PAGE), CODE_UNDELIVERED).relevant
    # An attachment added to the known page without a change note is not its change note.
    attachment = change(docs=["Area SEND person-level data guidance and template"])
    assert not score(Subject.of_change(attachment, FRAMEWORK), KNOWN_INSPECT).relevant


def _result(title, url, note=None, note_kind=None):
    return Subject.of_item(Item(RESULT, url, title, url=url, note=note, note_kind=note_kind))


def test_a_statistical_release_is_at_most_a_possible_development_unless_the_promise_is_about_data():
    inspect = Target("send-inspection-framework", phrases=("area SEND inspection",),
                     promise="Design a new local area SEND inspection framework.")
    tribunal = Target("tribunal-data", phrases=("SEND tribunal",),
                      promise="Work with the Ministry of Justice to improve the data on SEND Tribunal appeals.")
    statistics = _result("Main findings: area SEND inspections and outcomes in England as at 31 December 2024",
                         "https://www.gov.uk/government/statistics/area-send-inspections-and-outcomes-2024")
    capped = score(statistics, inspect)
    assert capped.score == 0.4 and not capped.relevant
    assert "-0.60 statistical release: 'https://www.gov.uk/government/statistics/" in capped.explain()
    # The same title published as a framework document is a development.
    assert score(_result(statistics.titles[0], "https://www.gov.uk/government/publications/x"), inspect).relevant
    # A type that says statistics caps it too, wherever it is published.
    typed = _result(statistics.titles[0], "https://example.org/x", "official statistics", NOTE_DOCUMENT_TYPE)
    assert score(typed, inspect).score == 0.4
    # A promise about data is what statistics deliver.
    appeals = _result("Tribunal statistics: SEND tribunal appeals 2024",
                      "https://www.gov.uk/government/statistics/tribunal-statistics-2024")
    assert score(appeals, tribunal).relevant
