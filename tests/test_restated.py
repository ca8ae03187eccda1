"""Restatements: which sentences of a matched answer or statement, or which moves of a
statistics release, restate a commitment, and what they do to the date it is expected by.
Pure: plain data in, plain data out, the clock an argument."""

from datetime import UTC, date, datetime, timedelta

import pytest

from config.settings import CommitmentSettings
from monitor.core.document import (
    CHANGE_NOTE,
    NOTE_ANSWER,
    NOTE_CORRECTED_ANSWER,
    NOTE_HOLDING_ANSWER,
    NOTE_STATEMENT,
    WRITTEN_ANSWER,
    WRITTEN_STATEMENT,
    Document,
    Item,
)
from monitor.core.ledger import (
    DELIVERED,
    IN_PROGRESS,
    OVERDUE,
    Mark,
    Milestone,
    Restated,
    between,
    due_event,
    expectation,
    standing,
)
from monitor.core.restated import (
    RELEASE_CANCELLED,
    RELEASE_MOVED,
    item_document,
    release_day,
    release_moves,
    said_in,
    spoken,
)

REVIEW = CommitmentSettings(
    id="send-review", title="The SEND Review", promise="An update later in the year.",
    made_in="Government response", made_on=date(2020, 7, 23), expected_by=date(2020, 12, 31),
    phrases=("SEND review",))


def said(on: str, resolves: str | None, sentence: str = "The SEND Review will be published soon.",
         by: str | None = "Vicky Ford") -> Restated:
    return Restated(date.fromisoformat(on), date.fromisoformat(resolves) if resolves else None, "quarter",
                    sentence, by, "https://questions-statements.parliament.uk/x")


FOUR = [said("2021-03-11", "2021-05-31"), said("2021-06-24", "2021-12-31"), said("2021-09-06", None),
        said("2021-12-06", "2022-03-31")]


# -- the arithmetic ---------------------------------------------------------------------------


def test_four_restatements_move_the_date_to_the_latest_said():
    expected = expectation(date(2020, 12, 31), FOUR)
    assert expected.current == date(2022, 3, 31) and expected.times == 4
    assert expected.words() == ("expected by 31 Dec 2020; restated 4 times; now expected by 31 Mar 2022, "
                                "15 months later")


def test_the_latest_said_wins_even_when_an_earlier_one_gave_a_later_date():
    # Pulled forward: a later answer gives an earlier date; that is now the date.
    expected = expectation(date(2020, 12, 31), [said("2021-01-10", "2022-12-31"), said("2021-06-01", "2021-09-30")])
    assert expected.current == date(2021, 9, 30)
    assert expected.words().endswith("now expected by 30 Sep 2021, 9 months later")
    assert between(date(2022, 3, 31), date(2022, 1, 31)) == "2 months earlier"


def test_of_two_dates_said_the_same_day_the_later_counts():
    expected = expectation(None, [said("2021-06-01", "2021-09-30"), said("2021-06-01", "2021-12-31")])
    assert expected.current == date(2021, 12, 31)
    assert expected.words() == "no date given; restated twice; now expected by 31 Dec 2021"


def test_vague_words_count_as_restatements_but_move_no_date():
    vague = [said("2021-03-01", None), said("2021-04-01", None)]
    assert expectation(date(2020, 12, 31), vague).words() == "expected by 31 Dec 2020; restated twice, without a date"
    assert expectation(date(2020, 12, 31), [*FOUR, said("2022-05-01", None)]).current == date(2022, 3, 31)
    assert expectation(date(2020, 12, 31), [said("2020-09-01", "2020-12-31")]).words() == \
        "expected by 31 Dec 2020; restated once; still expected by 31 Dec 2020"


@pytest.mark.parametrize("before, after, words", [
    (date(2020, 12, 31), date(2022, 3, 31), "15 months later"),  # month ends: calendar months
    (date(2021, 1, 31), date(2021, 2, 28), "1 month later"),
    (date(2021, 5, 31), date(2021, 6, 12), "12 days later"),
    (date(2021, 6, 12), date(2021, 6, 11), "1 day earlier"),
    (date(2021, 6, 12), date(2021, 6, 12), "the same day"),
])
def test_how_far_a_date_moved(before, after, words):
    assert between(before, after) == words


def test_lateness_counts_from_the_latest_restated_date():
    now = datetime(2024, 4, 1, 12, tzinfo=UTC)
    plain = standing(REVIEW, [], None, now)
    assert plain.lateness == "3 years 3 months past the date it was expected"
    restated = standing(REVIEW, [], None, now, FOUR)
    assert restated.expected_by == date(2022, 3, 31)
    assert restated.state == OVERDUE and restated.days_overdue == (date(2024, 4, 1) - date(2022, 3, 31)).days
    assert restated.lateness == "2 years past the date it was expected"
    # Not yet due by the restated date: not overdue, though the watchlist's date is long past.
    early = standing(REVIEW, [], None, datetime(2022, 3, 1, tzinfo=UTC), FOUR)
    assert early.state != OVERDUE and early.lateness is None


def test_a_restated_date_is_overdue_anew_once_it_passes():
    now = datetime(2022, 4, 2, tzinfo=UTC)
    position = standing(REVIEW, [], None, now, FOUR)
    past = [("overdue", date(2020, 12, 31), datetime(2021, 1, 1, tzinfo=UTC))]
    event = due_event(position, past, now, reminder_every=timedelta(days=90))
    assert event is not None and event.kind == "overdue" and event.expected_by == date(2022, 3, 31)


def test_once_delivered_a_date_given_after_the_mark_moves_nothing():
    mark = Mark(DELIVERED, "Published", datetime(2021, 10, 1, tzinfo=UTC))
    position = standing(REVIEW, [Milestone(date(2021, 9, 30), "published")], mark,
                        datetime(2023, 1, 1, tzinfo=UTC), FOUR)
    assert position.state == DELIVERED and position.lateness is None
    assert len(position.restated) == 3 and position.expected_by == date(2021, 12, 31)
    in_progress = standing(REVIEW, [Milestone(date(2021, 9, 30), "found")], None, datetime(2023, 1, 1, tzinfo=UTC),
                           list(reversed(FOUR)))
    assert in_progress.state == IN_PROGRESS
    assert [r.said_on for r in in_progress.restated] == sorted(r.said_on for r in FOUR)  # history, oldest first


# -- what is read -----------------------------------------------------------------------------


def answer(note: str, kind: str = NOTE_ANSWER, day: str = "2021-12-06") -> Item:
    return Item(WRITTEN_ANSWER, "1400020", title="Special Educational Needs: Reviews",
                url="https://questions-statements.parliament.uk/written-questions/detail/2021-11-29/80000",
                date=day, note=note, note_kind=kind, by="Vicky Ford")


QUESTION = "Question: To ask the Secretary of State for Education, whether the SEND Review will be published by " \
           "the end of 2021."


def test_only_the_ministers_answer_is_read_not_the_question():
    item = answer(f"{QUESTION} Answer: The SEND Review will be published in the first quarter of 2022. We will "
                  "consult on its proposals.")
    assert spoken(item) == ("The SEND Review will be published in the first quarter of 2022. We will consult on "
                            "its proposals.")
    (found,) = said_in(item, "send-review", item_document(item))
    assert (found.rule, found.words, found.resolves_to) == ("quarter", "the first quarter of 2022",
                                                            date(2022, 3, 31))
    assert found.sentence == "The SEND Review will be published in the first quarter of 2022."
    assert (found.by, found.said_on, found.url) == ("Vicky Ford", date(2021, 12, 6), item.url)
    assert found.document_key == "parliament-written-question:1400020"


def test_a_holding_answer_promises_a_reply_not_the_commitment():
    held = answer(f"{QUESTION} Answer: I will reply to the hon. Member as soon as possible.", NOTE_HOLDING_ANSWER)
    assert said_in(held, "send-review", item_document(held)) == ()


def test_a_corrected_answer_is_read_on_the_day_of_its_correction_with_vague_words_kept():
    fixed = answer(f"{QUESTION} Answer: The SEND Review will be published in the spring. Further details will "
                   "follow in due course.", NOTE_CORRECTED_ANSWER, day="2022-01-12")
    found = said_in(fixed, "send-review", item_document(fixed))
    assert [(f.rule, f.resolves_to) for f in found] == [("season", date(2022, 5, 31)), ("vague", None)]


def test_a_statement_is_read_whole():
    statement = Item(WRITTEN_STATEMENT, "2001", title="SEND Review", date="2022-03-29", note_kind=NOTE_STATEMENT,
                     note="Today we publish the SEND Review green paper. The consultation will close on 1 July "
                          "2022.", by="Will Quince (Minister for Children and Families)")
    (found,) = said_in(statement, "send-review", item_document(statement))
    assert (found.rule, found.resolves_to, found.by) == ("day", date(2022, 7, 1),
                                                         "Will Quince (Minister for Children and Families)")


# -- statistics releases ----------------------------------------------------------------------

URL = "https://www.gov.uk/government/statistics/announcements/special-educational-needs-in-england-2026"


def announcement(*lines: str, notes: tuple[str, ...] = ()) -> Document:
    return Document("Special educational needs in England: January 2026", ("Statistics on SEN.", *lines),
                    tuple(Item(CHANGE_NOTE, n, title=n, note=n) for n in notes))


def test_a_moved_release_date_restates_each_commitment_watching_it():
    before = announcement("Release date: 12 June 2026 9:30am", "Release status: confirmed")
    after = announcement("Release date: 9 July 2026 9:30am", "Previous release date: 12 June 2026 9:30am",
                         "Release status: confirmed", notes=("Data quality checks need more time.",))
    found = release_moves(before, after, ("send-review", "tribunal"), date(2026, 6, 1), URL)
    assert [(f.commitment_id, f.rule, f.resolves_to) for f in found] == [
        ("send-review", RELEASE_MOVED, date(2026, 7, 9)), ("tribunal", RELEASE_MOVED, date(2026, 7, 9))]
    assert found[0].sentence == ("The release of 'Special educational needs in England: January 2026' moved from "
                                 "12 June 2026 9:30am to 9 July 2026 9:30am (change note: 'Data quality checks "
                                 "need more time.')")
    assert found[0].document_key == "gov.uk:/government/statistics/announcements/special-educational-needs-in-" \
                                    "england-2026" and found[0].url == URL


def test_a_cancelled_release_is_a_restatement_without_a_date():
    before = announcement("Release date: June 2026 (provisional)", "Release status: provisional")
    after = announcement("Release date: June 2026 (provisional)", "Release status: cancelled",
                         "Reason for cancellation: The collection was not run.")
    (found,) = release_moves(before, after, ("send-review",), date(2026, 5, 2), URL)
    assert (found.rule, found.resolves_to) == (RELEASE_CANCELLED, None)
    assert found.sentence.endswith("was cancelled: The collection was not run.")


def test_other_changes_to_an_announcement_or_another_page_restate_nothing():
    before = announcement("Release date: 12 June 2026 9:30am", "Release status: provisional")
    confirmed = announcement("Release date: 12 June 2026 9:30am", "Release status: confirmed")
    assert release_moves(before, confirmed, ("send-review",), date(2026, 6, 1), URL) == ()
    assert release_moves(Document("A page", ("Old text",)), Document("A page", ("New text",)), ("send-review",),
                         date(2026, 6, 1), URL) == ()
    assert release_moves(before, announcement("Release date: 19 June 2026 9:30am"), (), date(2026, 6, 1), URL) == ()


@pytest.mark.parametrize("display, day", [
    ("20 January 2016 9:30am", date(2016, 1, 20)),
    ("January 2016 (provisional)", date(2016, 1, 31)),
    ("June to July 2016 (provisional)", date(2016, 7, 31)),
    ("December 2025", date(2025, 12, 31)),
    ("to be confirmed", None),
])
def test_a_release_date_as_govuk_displays_it(display, day):
    assert release_day(display) == day
