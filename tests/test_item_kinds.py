"""The table of item kinds (monitor/core/document.py, ITEM_KINDS): every kind is described
whole, and each use (summaries, diffs, matching, developments, the dashboard, note labels)
reads the table, so a kind added there is handled everywhere without another edit."""

import pytest

from config import SourceSettings
from monitor.app.web.app import _environment
from monitor.core import document
from monitor.core.developments import find_developments, item_key
from monitor.core.diff import diff_documents, render_text
from monitor.core.document import (
    ATTACHMENT,
    CHANGE_NOTE,
    ITEM_KINDS,
    LINK,
    NOTE_DESCRIPTION,
    NOTE_LABELS,
    NOTICE,
    PUBLICATION,
    RESULT,
    WRITTEN_ANSWER,
    WRITTEN_STATEMENT,
    Document,
    Item,
    ItemKind,
    Noun,
    item_kind,
)
from monitor.core.match import Subject, Target

SOURCE = SourceSettings(id="outcomes", kind="page", url="https://www.gov.uk/outcomes", commitments=("review",))
REVIEW = Target("review", phrases=("SEND review",))


def test_every_kind_is_in_the_table_and_fully_described():
    assert set(ITEM_KINDS) == {ATTACHMENT, LINK, CHANGE_NOTE, NOTICE, RESULT, PUBLICATION, WRITTEN_ANSWER,
                               WRITTEN_STATEMENT}
    ranks = [kind.rank for kind in ITEM_KINDS.values()]
    assert len(set(ranks)) == len(ranks)  # a summary's order is never a tie
    for name, kind in ITEM_KINDS.items():
        assert kind.name == name
        assert kind.noun.one and kind.noun.many and kind.noun.one != kind.noun.many
        assert kind.label and kind.label[0].isupper()
        assert kind.default_note in NOTE_LABELS
        # A discovered kind says what it is as a document; only a discovered kind is known by a key space.
        assert (kind.document_noun is not None) == kind.discovered
        assert kind.discovered or not (kind.named_by_note or kind.key_space)
        # Something of every kind is evidence for matching: its title or its note.
        assert kind.title_is_evidence or kind.note_is_evidence


def test_the_dashboard_labels_are_the_nouns_of_summaries():
    assert {name: kind.label for name, kind in ITEM_KINDS.items()} == {
        ATTACHMENT: "Document", LINK: "Link", CHANGE_NOTE: "Change note", NOTICE: "Notice",
        RESULT: "New document", PUBLICATION: "Publication", WRITTEN_ANSWER: "Written answer",
        WRITTEN_STATEMENT: "Written statement"}


def test_a_kind_no_row_holds_is_a_plain_item_never_summarised_or_matched():
    stored = Item("consultation-outcome", "/o", "SEND review: outcome", url="https://www.gov.uk/o")
    assert item_kind(stored.kind).label == "Item"
    change = diff_documents(Document("Page"), Document("Page", items=(stored,)))
    assert change.summary == "no change"
    assert "+ item added: SEND review: outcome" in render_text(Document("Page"), Document("Page", items=(stored,)))
    assert Subject.of_change(change) == Subject()


OUTCOME = ItemKind("consultation-outcome", Noun("consultation outcome", "consultation outcomes"), rank=-1,
                   is_note=False, quoted=False, discovered=True, note_is_evidence=True,
                   document_noun=Noun("outcome", "outcomes"), key_space="outcome")
MINUTE = ItemKind("minute", Noun("minute", "minutes"), rank=99, is_note=True, default_note="summary",
                  quoted=True, additions_only=True, title_is_evidence=False, note_is_evidence=True)


@pytest.fixture
def new_kinds(monkeypatch):
    monkeypatch.setitem(document.ITEM_KINDS, OUTCOME.name, OUTCOME)
    monkeypatch.setitem(document.ITEM_KINDS, MINUTE.name, MINUTE)


def test_a_row_added_to_the_table_drives_summaries_and_diffs(new_kinds):
    outcome = Item(OUTCOME.name, "/o", "SEND review: outcome", url="https://www.gov.uk/o")
    minute = Item(MINUTE.name, "m1", "Minute", date="2026-01-02", note="Agreed the SEND review's terms.")
    link = Item(LINK, "/l", "Elsewhere", url="https://www.gov.uk/l")
    old, new = Document("Page", items=(link,)), Document("Page", items=(outcome, minute))
    change = diff_documents(old, new)
    # Ranked first, counted with its own noun; quoted whole as a note; a link removed, last.
    assert change.summary == ("1 consultation outcome added: 'SEND review: outcome'; "
                              "1 link removed: 'Elsewhere'; minute: 'Agreed the SEND review's terms.'")
    diff = render_text(old, new)
    assert "+ consultation outcome added: SEND review: outcome <https://www.gov.uk/o>" in diff
    assert "+ minute added: 2026-01-02: Agreed the SEND review's terms." in diff
    # A minute removed goes unsaid (additions only); its note's label is its kind's default.
    assert diff_documents(new, Document("Page", items=(outcome,))).summary == "no change"
    assert minute.note_label == "summary" and outcome.note_label == NOTE_DESCRIPTION


def test_a_row_added_to_the_table_drives_matching_and_developments(new_kinds):
    outcome = Item(OUTCOME.name, "/o", "SEND review: outcome", url="https://www.gov.uk/o",
                   note="What the SEND review heard", note_kind="summary")
    minute = Item(MINUTE.name, "m1", "Minute", date="2026-01-02", note="Agreed the SEND review's terms.")
    subject = Subject.of_change(diff_documents(Document("Page"), Document("Page", items=(outcome, minute))))
    assert subject.titles == ("SEND review: outcome",)  # a minute's title is no document's
    # Each note is read as what its label says: here both are summaries (the minute's by its kind's default).
    assert subject.notes == ()
    assert subject.described == (("summary", "What the SEND review heard"),
                                 ("summary", "Agreed the SEND review's terms."))
    assert subject.publishes

    change = diff_documents(Document("Search"), Document("Search", items=(outcome,)))
    (draft,) = find_developments(change, source=SOURCE, summary=change.summary, targets=[REVIEW], discovers=True)
    assert draft.title == "new outcome 'SEND review: outcome'"
    assert draft.document_key == item_key(outcome) == "outcome:/o"


def test_a_row_added_to_the_table_drives_the_dashboard(new_kinds):
    env = _environment()
    page = env.from_string('{% import "_macros.html" as m %}'
                           '{{ item_kind(item.kind).label }}: {% include "_item.html" %}')
    minute = Item(MINUTE.name, "m1", "Minute", date="2026-01-02", note="Agreed the terms.")
    assert page.render(item=minute) == "Minute: 2026-01-02: Agreed the terms."
    outcome = Item(OUTCOME.name, "/o", "SEND review: outcome", url="https://www.gov.uk/o")
    shown = page.render(item=outcome)
    assert shown.startswith("Consultation outcome: <a href=\"https://www.gov.uk/o\"")
