"""The ledger part of the record: one development per document, sightings, possible
developments and a person's review, what is followed, events.

Runs on SQLite, and on PostgreSQL when SENDWATCH_TEST_DATABASE_URL is set.
"""

from datetime import UTC, datetime, timedelta

from config import SourceSettings
from monitor.core.diff import diff_documents
from monitor.core.document import Document
from storage import Store
from tests.stored import SOURCE, T0, at, open_store


def test_an_overdue_event_is_recorded_once_even_when_two_processes_find_it(database_url):
    from datetime import date

    with open_store(database_url) as store, Store(database_url) as other:
        due = date(2020, 12, 31)
        assert store.ledger.record_event("update", "overdue", due, T0) is not None
        assert other.ledger.record_event("update", "overdue", due, T0) is None
        later = T0 + timedelta(days=90)
        assert store.ledger.record_event("update", "reminder", due, later,
                                         unless_since=later - timedelta(days=90)) is None
        assert store.ledger.record_event("update", "reminder", due, later,
                                         unless_since=later - timedelta(days=90) + timedelta(seconds=1)) is not None
        assert [e.kind for e in store.ledger.events("update")] == ["overdue", "reminder"]


FEED = SourceSettings(id="feed", url="https://www.gov.uk/search/all.atom")
PLAN_KEY = "gov.uk:/government/publications/send-and-alternative-provision-improvement-plan"


def _sighted(store, source_id, hours, draft):
    """Record on ``source_id`` a change that carries ``draft``."""
    before = Document(source_id, (f"before {hours}",))
    after = Document(source_id, (f"after {hours}",))
    store.history.record_document(source_id, before, None, at(hours))
    return store.history.record_document(source_id, after, diff_documents(before, after), at(hours + 1),
                                         developments=[draft])


def _plan(commitment="send-review", status="development", title="new document 'The plan'"):
    from monitor.core.drafts import DevelopmentDraft, NotificationDraft

    return DevelopmentDraft(commitment_id=commitment, title=title, score=0.8 if status == "development" else 0.4,
                            evidence=[], document_key=PLAN_KEY, status=status, url="https://www.gov.uk/plan",
                            notify=(NotificationDraft("a@example.org", "development", commitment),
                                    NotificationDraft("b@example.org", "development", commitment)))


def test_a_document_seen_again_by_another_source_is_one_development_with_a_further_sighting(database_url):
    with open_store(database_url) as store:
        store.sources.sync([SOURCE, FEED])
        first = _sighted(store, "code", 0, _plan())
        again = _sighted(store, "feed", 24, _plan(title="new document 'The plan' (feed)"))
        (development,) = store.ledger.developments()
        assert first.development_ids == (development.id,) and first.queued == 2
        assert again.development_ids == () and again.seen_again == (development.id,) and again.queued == 0
        assert [n.recipient for n in store.outbox.notifications()] == ["a@example.org", "b@example.org"]
        (sighting,) = store.ledger.sightings(development_id=development.id)
        assert (sighting.source_id, sighting.title) == ("feed", "new document 'The plan' (feed)")
        assert [s.id for s in store.ledger.sightings(change_id=again.change_id)] == [sighting.id]
        # The same document for another commitment is that commitment's development.
        other = _sighted(store, "feed", 48, _plan(commitment="code-of-practice"))
        assert len(other.development_ids) == 1 and len(store.outbox.notifications()) == 4
        # A change that names no document is never merged with another.
        from dataclasses import replace
        _sighted(store, "code", 72, replace(_plan(), document_key=None))
        assert len(store.ledger.developments(commitment_id="send-review")) == 2
        # Its sightings are evidence: pruning keeps the changes they came from.
        store.history.prune(T0 + timedelta(days=365))
        assert store.history.change(again.change_id) is not None


def test_a_possible_development_is_emailed_only_once_a_person_confirms_it(database_url):
    from monitor.core.drafts import CONFIRMED, POSSIBLE, NotificationDraft

    with open_store(database_url) as store:
        recorded = _sighted(store, "code", 0, _plan(status=POSSIBLE))
        (possible,) = store.ledger.developments(statuses=(POSSIBLE,))
        assert recorded.possible_ids == (possible.id,) and recorded.development_ids == ()
        assert store.ledger.developments() == [] and store.outbox.notifications() == []
        later = datetime(2026, 2, 1, tzinfo=UTC)
        assert store.ledger.review(possible.id, CONFIRMED, later, [NotificationDraft("a@example.org", "development")])
        assert [n.development_id for n in store.outbox.notifications()] == [possible.id]
        (confirmed,) = store.ledger.developments()
        assert (confirmed.status, confirmed.reviewed_at) == (CONFIRMED, later)
        # Confirming twice (two people at once) queues the email once.
        again = [NotificationDraft("a@example.org", "development")]
        assert not store.ledger.review(possible.id, CONFIRMED, later, again)
        assert len(store.outbox.notifications()) == 1


def test_a_rejected_document_is_never_raised_again_for_that_commitment(database_url):
    from monitor.core.drafts import POSSIBLE, REJECTED

    with open_store(database_url) as store:
        store.sources.sync([SOURCE, FEED])
        _sighted(store, "code", 0, _plan(status=POSSIBLE))
        (possible,) = store.ledger.developments(statuses=(POSSIBLE,))
        assert store.ledger.review(possible.id, REJECTED, T0 + timedelta(hours=5))
        # Seen again, even as strong evidence: a sighting of the rejected document, no email.
        again = _sighted(store, "feed", 24, _plan())
        assert again.development_ids == () and again.seen_again == (possible.id,)
        assert store.ledger.developments() == [] and store.outbox.notifications() == []
        (rejection,) = store.ledger.rejections()
        assert (rejection.commitment_id, rejection.document_key, rejection.title) == \
            ("send-review", PLAN_KEY, "new document 'The plan'")
        assert rejection.rejected_at == T0 + timedelta(hours=5)


def test_a_possible_development_seen_again_with_enough_evidence_becomes_a_development(database_url):
    from monitor.core.drafts import DEVELOPMENT, POSSIBLE

    with open_store(database_url) as store:
        store.sources.sync([SOURCE, FEED])
        _sighted(store, "code", 0, _plan(status=POSSIBLE))
        again = _sighted(store, "feed", 24, _plan())
        (development,) = store.ledger.developments()
        assert development.status == DEVELOPMENT and again.development_ids == (development.id,)
        assert len(store.outbox.notifications()) == 2


def test_a_rejected_development_is_no_longer_followed(database_url):
    from dataclasses import replace

    from monitor.core.drafts import REJECTED

    with open_store(database_url) as store:
        follow = {"id": "followed-plan", "kind": "govuk-content", "url": "https://www.gov.uk/plan",
                  "interval": 3600.0, "commitments": ["send-review"], "enabled": True}
        recorded = _sighted(store, "code", 0, replace(_plan(), follow=follow))
        assert recorded.followed == ("followed-plan",) and [s.id for s in store.sources.followed()] == ["followed-plan"]
        assert store.ledger.review(recorded.development_ids[0], REJECTED, T0)
        assert store.sources.followed() == []


def test_a_document_rejected_for_one_commitment_is_still_followed_for_another(database_url):
    from dataclasses import replace

    from monitor.core.drafts import REJECTED

    follow = {"id": "followed-plan", "kind": "govuk-content", "url": "https://www.gov.uk/plan",
              "interval": 3600.0, "commitments": ["send-review"], "enabled": True}
    with open_store(database_url) as store:
        review = _sighted(store, "code", 0, replace(_plan(), follow=follow))
        code = _sighted(store, "code", 10, replace(_plan("code-of-practice"), follow=follow))
        assert code.followed == ()  # already followed for the Review
        assert store.ledger.review(review.development_ids[0], REJECTED, T0)
        (followed,) = store.sources.followed()  # still wanted: now for the Code
        assert followed.settings["commitments"] == ["code-of-practice"]
        assert store.ledger.review(code.development_ids[0], REJECTED, T0)
        assert store.sources.followed() == []
        again = _sighted(store, "code", 20, replace(_plan("health-education-care"), follow=follow))
        assert again.followed == ("followed-plan",)  # a document set aside can be followed again
        assert [s.id for s in store.sources.followed()] == ["followed-plan"]


def test_a_confirmed_possible_development_is_followed_and_is_news_the_day_it_is_confirmed(database_url):
    from dataclasses import replace

    from monitor.core.drafts import CONFIRMED

    follow = {"id": "followed-plan", "kind": "govuk-content", "url": "https://www.gov.uk/plan",
              "interval": 3600.0, "commitments": ["send-review"], "enabled": True}
    with open_store(database_url) as store:
        possible = _sighted(store, "code", 0, replace(_plan(status="possible"), follow=follow))
        assert possible.followed == () and store.sources.followed() == []
        confirmed_at = T0 + timedelta(days=30)
        assert store.ledger.review(possible.possible_ids[0], CONFIRMED, confirmed_at)
        assert [s.id for s in store.sources.followed()] == ["followed-plan"]
        (development,) = store.ledger.developments(since=confirmed_at - timedelta(days=1))  # a feed polled since
        assert development.announced_at == confirmed_at


def test_an_event_is_recorded_with_its_email_and_read_back_per_commitment(database_url):
    from datetime import date

    from monitor.core.drafts import NotificationDraft

    with open_store(database_url) as store:
        overdue = store.ledger.record_event("update", "overdue", date(2020, 12, 31), T0,
                                            [NotificationDraft("a@example.org", "overdue", "update")])
        store.ledger.record_event("code-of-practice", "overdue", date(2021, 3, 31), T0 + timedelta(hours=1))
        assert [(n.ledger_event_id, n.commitment_id) for n in store.outbox.notifications()] == [(overdue, "update")]
        assert [e.commitment_id for e in store.ledger.events()] == ["update", "code-of-practice"]
        (event,) = store.ledger.events("code-of-practice")
        assert (event.kind, event.expected_by) == ("overdue", date(2021, 3, 31))


def test_a_commitment_stands_as_its_latest_mark_says(database_url):
    with open_store(database_url) as store:
        store.ledger.mark("send-review", "delivered", "Published.", T0)
        store.ledger.mark("code-of-practice", "dropped", "", T0)
        store.ledger.mark("send-review", "open", "Withdrawn again.", T0 + timedelta(days=2))
        marks = store.ledger.latest_marks()
        assert {c: (m.state, m.note) for c, m in marks.items()} == \
            {"send-review": ("open", "Withdrawn again."), "code-of-practice": ("dropped", "")}


def _said(sentence: str, resolves, key="parliament-written-question:1400020", said_on=None):
    from datetime import date

    from monitor.core.drafts import RestatementDraft

    return RestatementDraft("send-review", key, said_on or date(2021, 12, 6), sentence, "words", "quarter",
                            resolves, by="Vicky Ford", url="https://questions-statements.parliament.uk/q")


def test_a_restatement_is_recorded_once_per_commitment_document_and_sentence(database_url):
    from dataclasses import replace
    from datetime import date

    from monitor.core.drafts import POSSIBLE, REJECTED

    answer = _said("The SEND Review will be published in the first quarter of 2022.", date(2022, 3, 31))
    with open_store(database_url) as store:
        store.sources.sync([SOURCE, FEED])
        first = _sighted(store, "code", 0, replace(_plan(), restatements=(answer,)))
        # The same answer read again (another route, or the same text once more): nothing new.
        _sighted(store, "feed", 24, replace(_plan(), restatements=(answer,)))
        (recorded,) = store.ledger.restatements()
        assert (recorded.said_by, recorded.said_on, recorded.resolves_to, recorded.change_id) == \
            ("Vicky Ford", date(2021, 12, 6), date(2022, 3, 31), first.change_id)
        # A correction's new sentence is a restatement of its own; the old one stays in the history.
        spring = _said("The SEND Review will be published in the spring.", date(2022, 5, 31),
                       said_on=date(2022, 1, 12))
        _sighted(store, "feed", 48, replace(_plan(), restatements=(spring, answer)))
        assert [r.resolves_to for r in store.ledger.restatements()] == [date(2022, 3, 31), date(2022, 5, 31)]
        assert store.ledger.restated()["send-review"][-1].resolves_to == date(2022, 5, 31)
        # Its evidence is kept when old changes are pruned.
        store.history.prune(T0 + timedelta(days=365))
        assert store.history.change(first.change_id) is not None

        # Of a possible development, or a rejected one, it is recorded but moves no date.
        soon = replace(_said("It will be published soon.", None, key="other"), commitment_id="code-of-practice")
        possible = _sighted(store, "code", 100, replace(_plan(commitment="code-of-practice", status=POSSIBLE),
                                                        restatements=(soon,)))
        assert [r.commitment_id for r in store.ledger.restatements(commitment_id="code-of-practice")] == \
            ["code-of-practice"]
        assert store.ledger.restatements(commitment_id="code-of-practice", counted=True) == []
        assert store.ledger.review(possible.possible_ids[0], REJECTED, T0 + timedelta(days=5))
        assert "code-of-practice" not in store.ledger.restated()


def test_a_sentence_that_gives_two_dates_is_two_restatements(database_url):
    from dataclasses import replace
    from datetime import date

    sentence = "The consultation will close by the end of March 2022 and we will respond in the summer."
    close = replace(_said(sentence, date(2022, 3, 31)), words="the end of March 2022", rule="month")
    respond = replace(_said(sentence, date(2022, 8, 31)), words="the summer", rule="season")
    with open_store(database_url) as store:
        _sighted(store, "code", 0, replace(_plan(), restatements=(close, respond)))
        _sighted(store, "code", 10, replace(_plan(), restatements=(close, respond)))  # read again: nothing new
        assert [(r.rule, r.resolves_to) for r in store.ledger.restatements()] == [
            ("month", date(2022, 3, 31)), ("season", date(2022, 8, 31))]
