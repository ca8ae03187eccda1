"""Diffs and summaries: pure functions over Documents."""

import pickle
from dataclasses import replace

from monitor.core.diff import Change, diff_documents, render_text
from monitor.core.document import ATTACHMENT, CHANGE_NOTE, NOTICE, Document, Item


def doc(*blocks, items=(), title="SEND code of practice"):
    return Document(title=title, blocks=blocks, items=items)


PLAN = Item(ATTACHMENT, "https://www.gov.uk/plan.pdf", "SEND and AP improvement plan", "https://www.gov.uk/plan.pdf")
ANNEX = Item(ATTACHMENT, "https://www.gov.uk/annex.pdf", "Annex A: data", "https://www.gov.uk/annex.pdf")
NOTE = Item(CHANGE_NOTE, "2023-03-02 Added the improvement plan.", date="2023-03-02",
            note="Added the improvement plan.")


def test_identical_documents_have_no_change():
    a = doc("One.", "Two.", items=(PLAN,))
    change = diff_documents(a, doc("One.", "Two.", items=(PLAN,)))
    assert change.is_empty
    assert change.summary == "no change"


def test_added_and_removed_lines():
    change = diff_documents(doc("Intro.", "Old sentence.", "End."), doc("Intro.", "New sentence.", "End."))
    assert change.added_lines == ("New sentence.",)
    assert change.removed_lines == ("Old sentence.",)
    assert change.summary == "1 line added, 1 line removed"


def test_summary_leads_with_documents_then_the_change_note():
    old = doc("Body.", items=(PLAN,))
    new = doc("Body.", "A new paragraph.", items=(PLAN, ANNEX, NOTE))
    change = diff_documents(old, new)
    assert change.added_items == (ANNEX, NOTE) or set(change.added_items) == {ANNEX, NOTE}
    assert change.summary == (
        "1 document added: 'Annex A: data'; change note: 'Added the improvement plan.'; 1 line added"
    )


def test_many_documents_are_counted_not_all_listed():
    items = tuple(Item(ATTACHMENT, f"https://x/{n}.pdf", f"Part {n}") for n in range(5))
    summary = diff_documents(doc("x"), doc("x", items=items)).summary
    assert summary.startswith("5 documents added: 'Part 0', 'Part 1', 'Part 2' and 2 more")


def test_an_item_with_a_new_title_is_updated_not_added_and_removed():
    renamed = Item(ATTACHMENT, PLAN.key, "SEND and AP improvement plan (accessible)", PLAN.url)
    change = diff_documents(doc("x", items=(PLAN,)), doc("x", items=(renamed,)))
    assert change.added_items == () and change.removed_items == ()
    assert change.updated_items == ((PLAN, renamed),)
    assert change.summary == "1 document updated: 'SEND and AP improvement plan (accessible)'"


def test_withdrawal_and_title_change_are_named():
    notice = Item(NOTICE, "withdrawn", "This publication was withdrawn on 1 May 2024")
    change = diff_documents(doc("x"), doc("x", items=(notice,), title="SEND code (withdrawn)"))
    assert change.summary == ("title changed to 'SEND code (withdrawn)'; "
                              "notice: 'This publication was withdrawn on 1 May 2024'")


def test_change_round_trips_through_json_form():
    change = diff_documents(doc("a", items=(PLAN,)), doc("b", items=(ANNEX, NOTE)))
    assert Change.from_dict(change.to_dict()) == change


def test_rendered_diff_shows_lines_and_documents():
    text = render_text(doc("Intro.", "Old."), doc("Intro.", "New.", items=(ANNEX,)))
    assert "-Old." in text and "+New." in text
    assert "+ document added: Annex A: data <https://www.gov.uk/annex.pdf>" in text


def test_document_hash_ignores_item_order_and_duplicates():
    a = Document("T", ("x",), (PLAN, ANNEX))
    b = Document("T", ("x",), (ANNEX, PLAN, ANNEX))
    assert a.content_hash() == b.content_hash()
    assert Document.from_json(a.to_json()) == a
    assert a.content_hash() != Document("T", ("y",), (PLAN, ANNEX)).content_hash()


def test_a_documents_hash_is_kept_with_it_but_never_given_to_a_changed_copy():
    """The hash a worker process computed travels with the page it read; a copy with other
    content (dataclasses.replace) is hashed on its own content, so no change is hidden."""
    read = doc("Intro.", "Old.", items=(PLAN,))
    hashed = read.content_hash()
    sent = pickle.loads(pickle.dumps(read))  # as a worker process sends it
    assert sent == read and sent.content_hash() == hashed
    changed = replace(sent, blocks=("Intro.", "New."))
    assert changed.content_hash() == doc("Intro.", "New.", items=(PLAN,)).content_hash() != hashed
    assert diff_documents(sent, changed).added_lines == ("New.",)
    assert "_hash" not in read.to_json() and Document.from_json(read.to_json()) == read


def test_lines_that_only_repeat_a_new_documents_title_and_size_are_not_counted_again():
    with_doc = Item(ATTACHMENT, "https://www.gov.uk/a.pdf", "Annex A", note="PDF, 1 MB")
    change = diff_documents(doc("x"), doc("x", "Documents", "Annex A", "PDF, 1 MB", items=(with_doc,)))
    assert change.added_lines == ("Documents", "Annex A", "PDF, 1 MB")  # the diff keeps them all
    assert change.summary == "1 document added: 'Annex A'; 1 line added"


def test_very_long_documents_are_compared_as_lines_not_aligned():
    from monitor.core.diff import SEQUENCE_LIMIT

    rows = tuple(f"Row {n}: local authority figures" for n in range(SEQUENCE_LIMIT))
    old, new = doc(*rows), doc(*rows[:100], "A new row", *rows[101:], "Row 5: local authority figures")
    change = diff_documents(old, new)
    assert sorted(change.added_lines) == ["A new row", "Row 5: local authority figures"]
    assert change.removed_lines == ("Row 100: local authority figures",)
