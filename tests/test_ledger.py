"""The ledger's states and overdue events, with a controllable clock."""

from datetime import UTC, date, datetime, timedelta

import pytest

from config.settings import CommitmentSettings
from monitor.core.ledger import (
    AWAITING,
    DELIVERED,
    DROPPED,
    IN_PROGRESS,
    OVERDUE,
    Mark,
    Milestone,
    due_event,
    lateness,
    london_date,
    standing,
)

UPDATE = CommitmentSettings(
    id="send-review", title="The SEND Review", promise="An update later in the year.",
    made_in="Government response", made_on=date(2020, 7, 23), expected_by=date(2020, 12, 31),
    phrases=("SEND review",))
EVERY = timedelta(days=90)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("moment, state", [
    ("2020-12-31T23:59:59+00:00", AWAITING),  # still 31 December in London (GMT)
    ("2021-01-01T00:00:00+00:00", OVERDUE),
    ("2020-12-31T23:30:00-01:00", OVERDUE),  # 00:30 on 1 January in London
])
def test_overdue_starts_the_day_after_expected_by_in_london(moment, state):
    assert standing(UPDATE, [], None, at(moment)).state == state


def test_summer_time_is_london_time():
    summer = UPDATE.model_copy(update={"expected_by": date(2021, 6, 30)})
    assert standing(summer, [], None, at("2021-06-30T22:59:00+00:00")).state == AWAITING  # 23:59 BST
    assert standing(summer, [], None, at("2021-06-30T23:00:00+00:00")).state == OVERDUE  # 00:00 BST
    assert london_date(at("2021-06-30T23:00:00+00:00")) == date(2021, 7, 1)


def test_days_overdue_and_since_promise():
    position = standing(UPDATE, [], None, at("2021-01-10T12:00:00+00:00"))
    assert position.days_overdue == 10
    assert position.days_since_promise == (date(2021, 1, 10) - date(2020, 7, 23)).days


def test_a_development_puts_it_in_progress_and_is_the_last_one_shown():
    developments = [Milestone(date(2022, 3, 29), "green paper", "https://www.gov.uk/gp"),
                    Milestone(date(2021, 3, 1), "early note")]
    position = standing(UPDATE, developments, None, at("2023-01-01T00:00:00+00:00"))
    assert position.state == IN_PROGRESS and position.days_overdue is None
    assert position.last.title == "green paper"


def test_known_facts_from_the_watchlist_count_as_developments():
    known = CommitmentSettings.model_validate(
        {**UPDATE.model_dump(), "known": [{"date": date(2022, 3, 29), "title": "green paper"}]})
    position = standing(known, [], None, at("2023-01-01T00:00:00+00:00"))
    assert position.state == IN_PROGRESS and not position.last.recorded


def test_a_persons_mark_wins_and_can_be_taken_back():
    now = at("2023-01-01T00:00:00+00:00")
    delivered = Mark(DELIVERED, "Improvement plan published", now)
    assert standing(UPDATE, [], delivered, now).state == DELIVERED
    assert standing(UPDATE, [], delivered, now).note == "Improvement plan published"
    assert standing(UPDATE, [], Mark(DROPPED, "Abandoned", now), now).state == DROPPED
    assert standing(UPDATE, [], Mark("open", "", now), now).state == OVERDUE


def test_the_watchlists_status_applies_until_a_person_reopens_it():
    done = UPDATE.model_copy(update={"status": "delivered", "status_note": "Done in 2023"})
    now = at("2024-01-01T00:00:00+00:00")
    assert standing(done, [], None, now).state == DELIVERED
    assert standing(done, [], Mark("open", "", now), now).state == OVERDUE


def test_overdue_is_recorded_once_then_reminded_every_period():
    now = at("2021-01-01T09:00:00+00:00")
    position = standing(UPDATE, [], None, now)
    first = due_event(position, [], now, EVERY)
    assert (first.kind, first.expected_by) == ("overdue", date(2020, 12, 31))
    past = [("overdue", date(2020, 12, 31), now)]
    later = now + timedelta(days=89, hours=23)
    assert due_event(standing(UPDATE, [], None, later), past, later, EVERY) is None
    later = now + EVERY
    assert due_event(standing(UPDATE, [], None, later), past, later, EVERY).kind == "reminder"
    past.append(("reminder", date(2020, 12, 31), later))
    assert due_event(standing(UPDATE, [], None, later + timedelta(days=1)), past,
                     later + timedelta(days=1), EVERY) is None


def test_a_new_expected_by_date_is_a_new_overdue_event():
    past = [("overdue", date(2020, 12, 31), at("2021-01-01T00:00:00+00:00"))]
    moved = UPDATE.model_copy(update={"expected_by": date(2021, 6, 30)})
    now = at("2021-07-02T00:00:00+00:00")
    assert due_event(standing(moved, [], None, now), past, now, EVERY).kind == "overdue"


def test_no_event_once_there_is_a_development_or_a_verdict():
    now = at("2021-02-01T00:00:00+00:00")
    progress = standing(UPDATE, [Milestone(date(2021, 1, 20), "x")], None, now)
    assert due_event(progress, [], now, EVERY) is None
    dropped = standing(UPDATE, [], Mark(DROPPED, "gone", now), now)
    assert due_event(dropped, [], now, EVERY) is None


def test_commitment_config_needs_something_to_match():
    with pytest.raises(ValueError, match="needs phrases or documents"):
        CommitmentSettings(id="x", title="X", promise="p", made_in="m", made_on=date(2020, 1, 1))
    with pytest.raises(ValueError, match="'delivered' or 'dropped'"):
        UPDATE.model_validate({**UPDATE.model_dump(), "status": "done"})


def test_now_is_aware():
    assert standing(UPDATE, [], None, datetime(2021, 1, 1, tzinfo=UTC)).today == date(2021, 1, 1)


@pytest.mark.parametrize("expected, today, words", [
    (date(2020, 12, 31), date(2020, 12, 31), None),  # due today: on time until midnight
    (date(2020, 12, 31), date(2021, 1, 1), "1 day past the date it was expected"),
    (date(2020, 12, 31), date(2021, 1, 30), "30 days past the date it was expected"),
    (date(2020, 12, 31), date(2021, 1, 31), "1 month past the date it was expected"),
    # the end of one month to the end of the next is a month, however long February is
    (date(2021, 1, 31), date(2021, 2, 27), "27 days past the date it was expected"),
    (date(2021, 1, 31), date(2021, 2, 28), "1 month past the date it was expected"),
    (date(2024, 1, 31), date(2024, 2, 29), "1 month past the date it was expected"),
    (date(2020, 12, 31), date(2021, 12, 30), "11 months past the date it was expected"),
    (date(2020, 12, 31), date(2021, 12, 31), "1 year past the date it was expected"),
    (date(2020, 12, 31), date(2023, 2, 28), "2 years 2 months past the date it was expected"),
    (date(2020, 12, 31), date(2026, 11, 29), "5 years 10 months past the date it was expected"),
    (date(2020, 12, 31), date(2026, 11, 30), "5 years 11 months past the date it was expected"),
    (date(2020, 12, 31), date(2026, 12, 30), "5 years 11 months past the date it was expected"),
    (date(2020, 12, 31), date(2026, 12, 31), "6 years past the date it was expected"),
    (date(2020, 2, 29), date(2021, 2, 28), "1 year past the date it was expected"),  # no 29th: the 28th
])
def test_lateness_in_years_months_and_days(expected, today, words):
    assert lateness(expected, today) == words


def test_lateness_stays_beside_the_state_once_developments_exist():
    developments = [Milestone(date(2022, 3, 29), "green paper")]
    position = standing(UPDATE, developments, None, at("2026-12-01T12:00:00+00:00"))
    assert position.state == IN_PROGRESS
    assert position.lateness == "5 years 11 months past the date it was expected"
    assert standing(UPDATE, [], None, at("2021-01-01T00:30:00+00:00")).lateness == \
        "1 day past the date it was expected"  # overdue too, in London time
    assert standing(UPDATE, [], None, at("2020-12-31T23:59:00+00:00")).lateness is None


def test_lateness_ends_when_delivered_or_dropped():
    now = at("2026-12-01T12:00:00+00:00")
    for state in (DELIVERED, DROPPED):
        assert standing(UPDATE, [], Mark(state, "done", now), now).lateness is None
    undated = UPDATE.model_copy(update={"expected_by": None})
    assert standing(undated, [Milestone(date(2022, 3, 29), "green paper")], None, now).lateness is None
