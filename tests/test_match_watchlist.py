"""The shipped watchlist against real titles: what must become a development, for which
commitments, and the near misses that must not.

Positives are real GOV.UK and Parliament titles from the issue and the seed timeline; the
descriptions are written in the way GOV.UK writes them. Each is scored the way it reaches
sendwatch: a search result or feed entry (title and description), a committee publication
(title and type), a change note on a watched page.
"""

import pytest

from config import parse_settings
from config.loader import embedded_watchlist_text
from monitor.core.diff import Change
from monitor.core.document import CHANGE_NOTE, PUBLICATION, RESULT, Item
from monitor.core.ledger import target
from monitor.core.match import THRESHOLD, Specificity, Subject, Target, match, score
from monitor.sources import KINDS

SETTINGS = parse_settings(embedded_watchlist_text(), origin="shipped", env={}, kinds=KINDS)
TARGETS = tuple(target(c) for c in SETTINGS.commitments)
SPECIFICITY = Specificity.of(TARGETS)
COMMITTEE = "committee-scrutiny"


def found(title, description=None):
    """A new search result or feed entry."""
    return Subject.of_item(Item(RESULT, "/x", title, note=description))


def published(title, kind):
    """A new Education Committee publication (its note is its type)."""
    return Subject.of_item(Item(PUBLICATION, "1", title, note=kind))


def change_note(text):
    return Subject.of_change(Change("Page", "Page", (), (), (Item(CHANGE_NOTE, text, text, note=text),)))


def developments(subject, bound=()):
    return {m.commitment_id for m in match(subject, TARGETS, bound, SPECIFICITY) if m.relevant}


def explained(subject, bound=()):
    return "\n".join(m.explain() for m in match(subject, TARGETS, bound, SPECIFICITY)[:4])


# Item 4: real developments whose titles lack the commitment's words.
WITHOUT_ANCHOR_WORDS = [
    ("send-review", found("New review into support for children with special educational needs",
                          "The Education Secretary has announced a major review of the support for children "
                          "with special educational needs and disabilities.")),
    ("send-review", found("Every child achieving and thriving",
                          "The schools white paper: our plans for schools, including reform of the SEND system so "
                          "that more children with special educational needs are supported in mainstream schools.")),
    ("send-inspection-framework", found("New framework for SEND inspections",
                                        "Ofsted and CQC have published the framework and handbook for inspecting "
                                        "local area SEND arrangements.")),
    ("childrens-social-care-review", found("The case for change",
                                           "The independent review of children's social care sets out what needs "
                                           "to change, and why.")),
    ("childrens-social-care-review", found("Paying the price",
                                           "The costs to children, families and the state of the children's "
                                           "social care system, from the independent review.")),
]


@pytest.mark.parametrize("commitment, subject", WITHOUT_ANCHOR_WORDS,
                         ids=[s.titles[0] for _c, s in WITHOUT_ANCHOR_WORDS])
def test_a_real_development_without_the_anchor_words_is_found_from_its_description_and_the_promise(
        commitment, subject):
    assert developments(subject) == {commitment}, explained(subject)


def test_one_publication_is_a_development_for_every_commitment_it_answers():
    plan = found("SEND and alternative provision improvement plan",
                 "Sets out the government's plans to change the special educational needs and disabilities "
                 "and alternative provision system in England.")
    assert developments(plan) == {"send-review", "code-of-practice", "notional-send-budget",
                                  "health-education-care"}, explained(plan)
    green_paper = found("SEND review: right support, right place, right time",
                        "A consultation on the government's proposals for the SEND and alternative provision system.")
    # The green paper proposed the standards and EHC plan process of a revised Code, the
    # notional budget's review, and local partnerships of health, education and care.
    assert developments(green_paper) == {"send-review", "code-of-practice", "notional-send-budget",
                                         "health-education-care"}, explained(green_paper)


# Items 1 and 2: SEND-adjacent DfE publications that name SEND, AP or tribunals, and bear
# on no commitment.
SEND_ADJACENT = [
    found("Special educational needs in England: January 2025",
          "Statistics on pupils with special educational needs (SEN) in schools in England."),
    found("Alternative provision census 2025: guide",
          "Guidance for local authorities on completing the alternative provision census."),
    found("Funding for SEND and alternative provision places in 2025 to 2026",
          "High needs funding allocations for specialist places."),
    found("SEND capital funding: allocations for 2025 to 2026",
          "Capital funding to create places for pupils with SEND."),
    found("National Professional Qualification for special educational needs co-ordinators (NPQ for SENCOs)",
          "Information about the NPQ for SENCOs, for teachers new to the role."),
    found("Home to school travel for children with special educational needs and disabilities",
          "Statutory guidance for local authorities on travel arrangements."),
    found("Tribunal statistics quarterly: April to June 2025",
          "Quarterly statistics on the volume of cases received and disposed of by tribunals, and their outcomes."),
    found("Tribunal statistics quarterly: January to March 2025",
          "Quarterly statistics on the volume of cases received and disposed of by tribunals, and their outcomes."),
    found("Teachers' pay award for 2026 to 2027 accepted in full",
          "The government accepts the pay review body's recommendation."),
]


@pytest.mark.parametrize("subject", SEND_ADJACENT, ids=[s.titles[0] for s in SEND_ADJACENT])
def test_a_send_adjacent_publication_that_bears_on_no_promise_is_no_development(subject):
    assert developments(subject) == set(), explained(subject)


def test_only_the_december_tribunal_statistics_are_a_tribunal_data_development():
    december = found("Tribunal statistics quarterly: July to September 2025",
                     "Quarterly statistics on tribunals, with the annual special educational needs and disability "
                     "tribunal figures.")
    assert developments(december) == {"tribunal-data"}, explained(december)


def test_the_long_form_of_send_alone_is_weak_evidence_wherever_it_is_found():
    subject = found("Special educational needs and disabilities: an introduction for parents",
                    "What special educational needs and disabilities (SEND) support is, and how to ask for it.")
    committee = score(subject, next(t for t in TARGETS if t.id == COMMITTEE), specificity=SPECIFICITY)
    assert not committee.relevant
    assert committee.hits[0].where == "names only SEND" and committee.hits[0].weight < THRESHOLD


# Item 3: a source watched for a commitment publishes something that is not about it.
def test_a_change_note_on_the_code_page_that_is_not_about_the_code_is_no_development():
    subject = change_note("Added a link to the SENCO qualification guidance")
    assert developments(subject, bound=["code-of-practice"]) == set(), explained(subject, ["code-of-practice"])


@pytest.mark.parametrize("note", ["Code of practice: corrected paragraph numbering in the process chapter",
                                  "Code of practice: fixed broken links"])
def test_the_promise_words_and_being_watched_together_are_no_development(note):
    # Each is weak evidence alone; two weak pieces without a phrase are not news either.
    subject = change_note(note)
    assert developments(subject, bound=["code-of-practice"]) == set(), explained(subject, ["code-of-practice"])


def test_a_phrase_of_function_words_only_is_not_said_to_name_only_send():
    own = Target("response", ("Government response to the Committee's report",), ())
    (found_,) = match(found("Government response to the Committee's report"), [own])
    assert found_.relevant and all(hit.where != "names only SEND" for hit in found_.hits), found_.explain()


@pytest.mark.parametrize("title, kind", [
    ("Teacher recruitment, training and retention", "Report"),
    ("Teacher recruitment, training and retention: Government Response to the Committee's Fifth Report",
     "Government Response"),
    ("Letter from the Minister for Skills on further education funding, 4 March 2025", "Correspondence"),
    ("Letter from the Secretary of State on school rebuilding", "Correspondence"),
])
def test_an_education_committee_publication_on_something_else_is_no_scrutiny_development(title, kind):
    subject = published(title, kind)
    assert developments(subject, bound=[COMMITTEE]) == set(), explained(subject, [COMMITTEE])


@pytest.mark.parametrize("title, kind", [
    ("Solving the SEND crisis", "Report"),
    ("Solving the SEND crisis: Government Response to the Committee's Fifth Report of Session 2024-26",
     "Government Response"),
    ("Special educational needs and disabilities: Government Response to the Committee's First Report of "
     "Session 2019", "Government Response"),
])
def test_an_education_committee_publication_on_send_is_a_scrutiny_development(title, kind):
    subject = published(title, kind)
    assert COMMITTEE in developments(subject, bound=[COMMITTEE]), explained(subject, [COMMITTEE])


# Item 2: how common a phrase is among the documents sendwatch has discovered.
def test_a_phrase_in_many_discovered_documents_weighs_less_and_says_why():
    targets = (Target("local-offer", phrases=("local offer",)), Target("other", phrases=("supported internships",)))
    subject = found("Local offer: what councils must publish")
    rare = Specificity.of(targets, [f"Document {n}" for n in range(40)] + ["Your local offer"])
    assert score(subject, targets[0], specificity=rare).score == 0.8
    common = Specificity.of(targets, [f"Document {n}" for n in range(30)] + [f"Local offer {n}" for n in range(10)])
    weighed = score(subject, targets[0], specificity=common)
    assert not weighed.relevant and weighed.score == 0.32, weighed.explain()
    assert "(in 10 of 40 discovered documents: x0.40)" in weighed.explain()


def test_too_few_discovered_documents_say_nothing_about_how_common_a_phrase_is():
    targets = (Target("local-offer", phrases=("local offer",)),)
    few = Specificity.of(targets, ["Local offer 1", "Local offer 2", "Something else"])
    assert score(found("Local offer: what councils must publish"), targets[0], specificity=few).score == 0.8


def test_a_phrase_several_commitments_share_weighs_less_for_each():
    subject = found("SEN support: a guide for schools")
    by_id = {m.commitment_id: m for m in match(subject, TARGETS, (), SPECIFICITY)}
    for commitment in ("code-of-practice", "notional-send-budget"):
        hit = by_id[commitment].hits[0]
        assert hit.phrase == "SEN support" and hit.weight == 0.57 and "shared by 2 commitments" in hit.why


ALL_SUBJECTS = ([s for _c, s in WITHOUT_ANCHOR_WORDS] + SEND_ADJACENT
                + [change_note("Added a link to the SENCO qualification guidance"),
                   published("Solving the SEND crisis", "Report")])


@pytest.mark.parametrize("bound", [(), tuple(t.id for t in TARGETS)])
def test_every_point_of_every_score_is_a_named_hit(bound):
    for subject in ALL_SUBJECTS:
        for m in match(subject, TARGETS, bound, SPECIFICITY):
            assert m.score == round(min(sum(h.weight for h in m.hits), 1.0), 2), m.explain()
            assert all(h.where and h.phrase and h.weight > 0 for h in m.hits), m.explain()
            watched = [h for h in m.hits if h.where == "watched source"]
            assert not watched or len(m.hits) > 1, m.explain()  # never the only evidence
