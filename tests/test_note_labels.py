"""Each text is labelled by what it is: only the publisher's change note is a change note;
a search result's description and a feed entry's summary are named as such in
developments, emails, the Atom feed, the API and the dashboard."""

from __future__ import annotations

import email
import email.policy
import mailbox

import httpx
from bs4 import BeautifulSoup

from config import load_settings
from config.settings import SourceSettings
from monitor.app.web import create_app
from monitor.core.developments import find_developments
from monitor.core.diff import diff_documents
from monitor.core.document import CHANGE_NOTE, RESULT, Document, Item
from monitor.core.ledger import target
from monitor.core.match import Subject, match
from monitor.sources import KINDS
from monitor.sources.feed import entry_item
from monitor.sources.govuk import result_items
from storage import Store
from tests.conftest import CODE_OF_PRACTICE, Reply, config_head
from tests.test_feed import ATOM, atom, entry
from tests.test_web import serving

SEARCH = SourceSettings(id="search", kind="govuk-search", url="https://www.gov.uk/api/search.json")


def code_of_practice():
    from config.settings import CommitmentSettings

    return CommitmentSettings(id="code-of-practice", title="A revised SEND Code of Practice", promise="Revise it.",
                              made_in="Government response", made_on="2020-07-23",
                              phrases=("SEND code of practice", "SEN support"))


def developments(old: Document, new: Document, source=SEARCH):
    return find_developments(diff_documents(old, new), source=source, summary="", targets=[target(code_of_practice())],
                             discovers=True)


def test_a_search_results_description_is_a_description_and_an_updates_change_note_a_change_note():
    (found,) = result_items({"results": [{
        "link": "/guidance/sen-support", "title": "Guidance for schools", "public_timestamp": "2026-01-05T10:00:00Z",
        "description": "How schools give SEN support."}]}, base_url="https://www.gov.uk/api/search.json")
    assert (found.note, found.note_kind) == ("How schools give SEN support.", "description")
    (new,) = developments(Document("search"), Document("search", items=(found,)))
    assert new.title == "new document 'Guidance for schools'"
    assert [(hit["where"], hit["phrase"]) for hit in new.evidence] == [("description", "SEN support")]

    noted = Item(RESULT, found.key, title=found.title, url=found.url, date="2026-02-01T10:00:00Z",
                 note="Added a section on SEN support.", note_kind="change note")
    (updated,) = developments(Document("search", items=(found,)), Document("search", items=(noted,)))
    assert updated.title == "updated document 'Guidance for schools' (change note: 'Added a section on SEN support.')"
    assert [hit["where"] for hit in updated.evidence] == ["change note"]


def test_a_feed_entrys_summary_is_a_summary():
    import feedparser

    parsed = feedparser.parse(atom(entry("a", "Guidance for schools", summary="How schools give SEN support.")))
    item = entry_item(parsed.entries[0])
    assert (item.note, item.note_kind) == ("How schools give SEN support.", "summary")
    subject = Subject.of_item(item)
    (scored,) = match(subject, [target(code_of_practice())])
    assert [(h.where, h.phrase) for h in scored.hits] == [("summary", "SEN support")]


def test_a_page_change_note_stays_a_change_note_and_an_unlabelled_note_of_an_old_record_is_a_description():
    note = Item(CHANGE_NOTE, "2026 Added SEN support", title="Added SEN support", note="Added SEN support")
    assert note.note_label == "change note"
    old = Item.from_dict({"kind": "result", "key": "/x", "title": "X", "note": "About SEN support"})
    assert old.note_kind is None and old.note_label == "description"


def test_labels_are_not_content_a_snapshot_stored_before_them_reads_the_same():
    labelled = Document("search", items=(Item(RESULT, "/x", title="X", note="About it", note_kind="description"),))
    stored_before = Document.from_dict({"title": "search", "items": [
        {"kind": "result", "key": "/x", "title": "X", "note": "About it"}]})
    assert labelled.content_hash() == stored_before.content_hash()
    assert diff_documents(stored_before, labelled).is_empty
    assert Document.from_json(labelled.to_json()).items[0].note_kind == "description"


def test_a_feed_summary_is_called_a_summary_in_the_email_feed_api_and_dashboard(
        sendwatch, site, tmp_path, database_url):
    path = tmp_path / "sendwatch.toml"
    path.write_text(config_head(database_url) + '[email]\nmaildir = "mail"\n' + CODE_OF_PRACTICE
                    + '[[recipient]]\nemail = "forum@example.org"\n'
                    + f'[[source]]\nid = "dfe-send"\nkind = "feed"\nurl = "{site.url("/feed.atom")}"\n')
    site.set("/feed.atom", Reply(atom(entry("a", "Guidance for schools", summary="Who to contact.")),
                                 content_type=ATOM))
    sendwatch("check")
    site.set("/feed.atom", Reply(atom(entry("a", "Guidance for schools", updated="2026-01-05T10:00:00Z",
                                            summary="How schools give SEN support.")), content_type=ATOM))
    assert "development for: code-of-practice" in sendwatch("check").out

    (raw,) = list(mailbox.Maildir(tmp_path / "xdg" / "sendwatch" / "mail", factory=None, create=False))
    message = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
    assert message["Subject"] == ("A revised SEND Code of Practice: updated document 'Guidance for schools' "
                                  "(summary: 'How schools give SEN support.') on example.org")
    plain = " ".join(message.get_body(("plain",)).get_content().split())
    assert "Why sendwatch links it to this commitment: summary 'SEN support'." in plain
    assert "change note" not in plain.lower()

    settings = load_settings(path, env={"XDG_DATA_HOME": str(tmp_path / "xdg")}, kinds=KINDS)
    with Store(settings.database_url) as store, serving(create_app(lambda: settings, store)) as base:
        (development,) = httpx.get(f"{base}/api/developments").json()
        assert [(h["where"], h["phrase"]) for h in development["evidence"]] == [("summary", "SEN support")]
        detail = httpx.get(f"{base}/api/changes/{development['change_id']}").json()["detail"]
        [[before, after]] = detail["updated_items"]
        assert (before["note_kind"], after["note_kind"]) == ("summary", "summary")
        feed = httpx.get(f"{base}/feed.atom").text
        assert "summary 'SEN support'" in feed and "change note" not in feed
        page = BeautifulSoup(httpx.get(f"{base}/changes/{development['change_id']}").text, "html.parser")
        text = " ".join(page.get_text(" ").split())
        assert "summary: How schools give SEN support." in text and "change note" not in text.lower()
