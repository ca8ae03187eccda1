"""The ``feed`` kind: Atom and RSS, GOV.UK finder feeds, new and updated entries."""

import json
from pathlib import Path

import pytest

from config.settings import SourceSettings
from monitor.core.diff import diff_documents
from monitor.core.document import RESULT, Document, Item
from monitor.core.errors import CheckFailed
from monitor.sources import make_source
from monitor.sources.feed import FeedSource, document_from_feed
from tests.conftest import Reply, config_head, stored_followed_source

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
ATOM = "application/atom+xml; charset=utf-8"
FINDER_URL = "https://www.gov.uk/search/all.atom?keywords=special+educational+needs"
PLAN = "tag:www.gov.uk,2005:/government/publications/send-and-alternative-provision-improvement-plan-progress-report"


def fixture(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def parse(name: str, previous: Document | None = None, content_type: str = ATOM) -> Document:
    return document_from_feed(fixture(name), url=FINDER_URL, content_type=content_type, previous=previous)


def atom(*entries: str, title: str = "SEND updates") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>{title}</title><id>tag:example.org,2005:/feed</id>{"".join(entries)}</feed>').encode()


def entry(key: str, title: str, updated: str = "2025-12-01T10:00:00Z", summary: str = "",
          content: str = "") -> str:
    parts = [f"<id>{key}</id><title>{title}</title><updated>{updated}</updated>",
             f'<link rel="alternate" href="https://example.org/{key}"/>']
    if summary:
        parts.append(f"<summary>{summary}</summary>")
    if content:
        parts.append(f'<content type="html">{content}</content>')
    return f"<entry>{''.join(parts)}</entry>"


# -- reading a feed ---------------------------------------------------------------------------


def test_a_govuk_finder_feed_becomes_one_result_per_entry():
    document = parse("govuk-finder.atom")
    assert document.title == "Search with keywords special educational needs from Department for Education"
    assert document.blocks == ()
    assert len(document.items) == 4 and {i.kind for i in document.items} == {RESULT}
    plan = {i.key: i for i in document.items}[PLAN]
    assert plan.title == "SEND and alternative provision improvement plan: progress report"
    assert plan.url == ("https://www.gov.uk/government/publications/"
                        "send-and-alternative-provision-improvement-plan-progress-report")
    assert plan.date == "2025-03-20T10:00:00Z"
    assert plan.note == "An update on the delivery of the SEND and alternative provision improvement plan."


def test_dates_are_utc_instants_and_summaries_plain_text():
    items = {i.title: i for i in parse("govuk-finder.atom").items}
    ehcp = items["Education, health and care plans: reporting year 2025"]
    assert ehcp.date == "2025-06-26T08:30:00Z"  # 09:30 BST
    assert ehcp.note.endswith("new requests, assessments & timeliness.")  # double-escaped by GOV.UK
    area = items["Area SEND inspections: framework and handbook"]
    assert "local area partnerships' arrangements" in area.note


def test_an_rss_feed_keys_items_by_guid_or_link_and_strips_html():
    document = parse("send-news.rss", content_type="application/rss+xml")
    assert document.title == "SEND policy news"
    items = {i.key: i for i in document.items}
    assert set(items) == {"send-news-2025-0412", "https://news.example.org/send/2025/06/ehc-plans-rise"}
    response = items["send-news-2025-0412"]
    assert response.title == "Government responds to the Education Committee’s SEND report"
    assert response.url == "https://news.example.org/send/2025/12/government-responds"
    assert response.date == "2025-12-11T10:00:00Z"
    # The description as text; the full content is fingerprinted, not stored.
    assert response.note.startswith("The Department for Education has published its response to the Committee’s "
                                    "report Solving the SEND crisis. It accepts most recommendations. [text ")
    assert "<" not in response.note and "Faster EHC" not in response.note
    rise = items["https://news.example.org/send/2025/06/ehc-plans-rise"]
    assert rise.date == "2025-06-26T08:30:00Z"  # +0100 in pubDate
    assert rise.note == "The number of education, health and care plans rose by 10.8% in the year to January 2025."


def test_relative_links_resolve_against_the_feed_url():
    body = atom('<entry><id>urn:x:1</id><title>One</title><link href="/government/news/one"/></entry>')
    document = document_from_feed(body, url="https://www.gov.uk/search/news.atom")
    assert document.items[0].url == "https://www.gov.uk/government/news/one"


def test_an_entry_without_an_id_is_keyed_by_its_link():
    body = b"""<rss version="2.0"><channel><title>T</title>
      <item><title>A</title><link>https://example.org/a</link></item></channel></rss>"""
    (item,) = document_from_feed(body, url="https://example.org/feed").items
    assert item.key == "https://example.org/a" and item.date is None and item.note is None


def test_a_malformed_feed_with_entries_is_still_read():
    body = atom(entry("a", "Caf&eacute; &amp; SEND"), entry("b", "Second"))  # &eacute; is not XML
    document = document_from_feed(body, url="https://example.org/feed")
    assert [i.key for i in document.items] == ["https://example.org/a", "https://example.org/b"]


@pytest.mark.parametrize("body, content_type, reason", [
    (b"<!DOCTYPE html><html><head><title>Search - GOV.UK</title></head><body><p>Hi</p></body></html>",
     "text/html; charset=utf-8", "expected an Atom or RSS feed but got an HTML page (text/html"),
    (b"\x00\x01garbage\xff", "application/octet-stream", "expected an Atom or RSS feed but got "
                                                          "application/octet-stream (10 bytes) that is not a feed"),
    (b'{"results": []}', "application/json", "got application/json (15 bytes) that is not a feed"),
    (b"", "application/atom+xml", "got an empty body"),
    (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</tit',
     "application/atom+xml", "the feed does not parse and has no readable entries"),
    # A body naming a file (here a real feed) is read as a body, never opened.
    (str(FEEDS / "govuk-finder.atom").encode(), None, "expected an Atom or RSS feed but got no Content-Type"),
], ids=["html", "garbage", "json", "empty", "broken-feed", "file-name"])
def test_a_response_that_is_not_a_feed_fails_the_check(body, content_type, reason):
    with pytest.raises(CheckFailed) as caught:
        document_from_feed(body, url="https://example.org/feed", content_type=content_type)
    assert reason in str(caught.value)


def test_an_empty_but_valid_feed_is_a_document_without_items():
    document = document_from_feed(atom(), url="https://example.org/feed")
    assert document == Document("SEND updates")


# -- accumulating across checks -----------------------------------------------------------------


def test_entries_leaving_the_window_stay_and_current_values_win():
    first = parse("govuk-finder.atom")
    moved = parse("govuk-finder-window-moved.atom", previous=first)
    assert moved == first  # two gone from the feed, the rest reordered: the same document
    updated = parse("govuk-finder-updated-entry.atom", previous=moved)
    change = diff_documents(moved, updated)
    assert not change.added_items and not change.removed_items
    [(before, after)] = change.updated_items
    assert before.key == after.key == PLAN
    assert (before.date, after.date) == ("2025-03-20T10:00:00Z", "2025-12-01T14:00:00Z")


def test_a_change_of_content_alone_is_an_update():
    old = document_from_feed(atom(entry("a", "A", summary="Short", content="<p>Version one</p>")),
                             url="https://example.org/feed")
    new = document_from_feed(atom(entry("a", "A", summary="Short", content="<p>Version two</p>")),
                             url="https://example.org/feed", previous=old)
    change = diff_documents(old, new)
    assert len(change.updated_items) == 1 and not change.added_items
    assert old.items[0].note.startswith("Short [text ") and old.items[0].note != new.items[0].note


def test_markup_that_does_not_change_the_text_is_not_a_change():
    old = document_from_feed(atom(entry("a", "A", content="<p>Same   words</p>")), url="https://example.org/f")
    new = document_from_feed(atom(entry("a", "A", content='<p class="x">Same <b>words</b></p>')),
                             url="https://example.org/f", previous=old)
    assert new == old


def test_only_results_are_carried_over_from_a_previous_document():
    previous = Document("Old page", ("a line",), (Item("attachment", "https://example.org/a.pdf", "A"),
                                                  Item(RESULT, "https://example.org/kept", "Kept")))
    document = document_from_feed(atom(entry("a", "A")), url="https://example.org/feed", previous=previous)
    assert {i.key for i in document.items} == {"https://example.org/a", "https://example.org/kept"}


def test_the_summary_names_new_and_updated_documents_newest_first():
    source = FeedSource(SourceSettings(id="f", kind="feed", url=FINDER_URL))
    old = document_from_feed(atom(entry("c", "C", "2025-01-01T00:00:00Z")), url=FINDER_URL)
    new = document_from_feed(atom(entry("a", "A", "2025-03-01T00:00:00Z"), entry("b", "B", "2025-04-01T00:00:00Z"),
                                  entry("c", "C", "2025-02-01T00:00:00Z")), url=FINDER_URL, previous=old)
    assert source.summarise(diff_documents(old, new)) == "2 new documents: 'B', 'A'; 1 document updated: 'C'"
    many = document_from_feed(atom(*(entry(f"n{i}", f"N{i}", f"2025-05-0{i}T00:00:00Z") for i in range(1, 6))),
                              url=FINDER_URL, previous=new)
    assert source.summarise(diff_documents(new, many)) == "5 new documents: 'N5', 'N4', 'N3' and 2 more"
    retitled = document_from_feed(atom(entry("a", "A", "2025-03-01T00:00:00Z"), title="Renamed"),
                                  url=FINDER_URL, previous=new)
    assert source.summarise(diff_documents(new, retitled)) == "title changed to 'Renamed'"


def test_the_feed_kind_takes_no_options():
    with pytest.raises(ValueError, match="selector"):
        make_source(SourceSettings(id="f", kind="feed", url=FINDER_URL, selector="main"))


# -- end to end, through the CLI against a local site ---------------------------------------------


@pytest.fixture
def feed_config(tmp_path, site, database_url):
    def write(path_on_site: str = "/search/all.atom?keywords=SEND&organisations%5B%5D=department-for-education"):
        (tmp_path / "sendwatch.toml").write_text(config_head(database_url) + f'''
[[source]]
id = "dfe-send"
kind = "feed"
url = "{site.url(path_on_site)}"
''', encoding="utf-8")
    return write


def serve(site, name: str) -> None:
    site.set("/search/all.atom", Reply(fixture(name), content_type="application/atom+xml; charset=utf-8"))


def test_a_feed_end_to_end(sendwatch, site, feed_config):
    feed_config()
    serve(site, "govuk-finder.atom")
    first = sendwatch("check")
    assert first.code == 0, first.err
    assert "first" in first.out and "4 items" in first.out
    sent = site.requests[0]
    assert sent[0] == "/search/all.atom?keywords=SEND&organisations%5B%5D=department-for-education"
    assert sent[1]["accept"].startswith("application/atom+xml")

    serve(site, "govuk-finder-window-moved.atom")  # two dropped out, the rest reordered
    assert "unchanged" in sendwatch("check").out

    serve(site, "govuk-finder-new-entry.atom")
    changed = sendwatch("check")
    assert "1 new document: 'SEND reform: consultation on the schools white paper proposals'" in changed.out
    changes = json.loads(sendwatch("changes", "--json").out)
    assert len(changes) == 1
    assert [i["title"] for i in changes[0]["added_items"]] == [
        "SEND reform: consultation on the schools white paper proposals"]
    assert changes[0]["added_items"][0]["url"] == "https://www.gov.uk/government/consultations/send-reform-consultation"
    assert changes[0]["removed_items"] == [] and changes[0]["updated_items"] == []

    serve(site, "govuk-finder-updated-entry.atom")
    updated = sendwatch("check")
    assert "1 document updated: 'SEND and alternative provision improvement plan: progress report'" in updated.out
    changes = json.loads(sendwatch("changes", "--json").out)
    assert len(changes) == 2
    latest = next(c for c in changes if c["updated_items"])
    assert latest["added_items"] == [] and latest["removed_items"] == []
    [[before, after]] = latest["updated_items"]
    assert (before["date"], after["date"]) == ("2025-03-20T10:00:00Z", "2025-12-01T14:00:00Z")


def test_an_html_page_at_the_feed_url_is_a_failed_check(sendwatch, site, feed_config):
    feed_config()
    serve(site, "govuk-finder.atom")
    sendwatch("check")
    site.page("/search/all.atom", "<!DOCTYPE html><html><head><title>Search - GOV.UK</title></head>"
                                  "<body><main id='content'><h1>Search</h1></main></body></html>")
    result = sendwatch("check")
    assert result.code == 0
    assert "failed" in result.out
    assert "expected an Atom or RSS feed but got an HTML page (text/html" in result.out
    assert json.loads(sendwatch("changes", "--json").out) == []
    sources = json.loads(sendwatch("sources", "--json").out)
    assert sources[0]["consecutive_failures"] == 1

    serve(site, "govuk-finder.atom")
    assert "unchanged" in sendwatch("check").out


# -- following what a feed finds -------------------------------------------------------------------


@pytest.fixture
def following_feed(tmp_path, site, database_url):
    from tests.conftest import CODE_OF_PRACTICE

    (tmp_path / "sendwatch.toml").write_text(config_head(database_url) + CODE_OF_PRACTICE + f'''
[[source]]
id = "dfe-send"
kind = "feed"
url = "{site.url("/feed.atom")}"

[[source]]
id = "other"
url = "{site.url("/other")}"
''', encoding="utf-8")
    site.page("/other", "<html><head><title>Other</title></head><body><main><p>Unrelated.</p></main></body></html>")
    site.set("/feed.atom", Reply(atom(entry("a", "Teachers' pay")), content_type=ATOM))
    return database_url


def test_a_matching_entry_whose_link_is_not_a_web_address_is_a_development_but_never_followed(
        sendwatch, site, following_feed):
    assert sendwatch("check").code == 0
    hostile = ("<entry><id>tag:x,2005:/cop</id><title>SEND code of practice: 0 to 25 years</title>"
               "<updated>2026-01-05T10:00:00Z</updated><link rel=\"alternate\" href=\"javascript:alert(1)\"/></entry>")
    site.set("/feed.atom", Reply(atom(hostile, entry("a", "Teachers' pay")), content_type=ATOM))
    found = sendwatch("check")
    assert found.code == 0, found.err
    assert "development for: code-of-practice" in found.out
    assert "now following" not in found.out
    assert "followed by sendwatch" not in sendwatch("sources").out

    later = sendwatch("check", "other")
    assert later.code == 0 and "unchanged" in later.out and "Traceback" not in later.err


def test_a_stored_followed_source_that_is_not_valid_is_skipped_and_stops_nothing(
        sendwatch, site, following_feed, caplog):
    assert sendwatch("check").code == 0
    stored_followed_source(following_feed, "followed-alert-1-0000aaaa", "javascript:alert(1)")
    stored_followed_source(following_feed, "followed-unknown-kind-0000bbbb", site.url("/other"), kind="pdf")
    stored_followed_source(following_feed, "followed-report-0000cccc", site.url("/report"))
    site.page("/report", "<html><head><title>Report</title></head><body><main><p>A report.</p></main></body></html>")

    one = sendwatch("check", "other")
    assert one.code == 0 and "unchanged" in one.out and "Traceback" not in one.err

    caplog.clear()
    every = sendwatch("check")
    assert every.code == 0, every.err
    assert "first        followed-report-0000cccc" in every.out  # the good followed source is checked
    assert "unchanged    other" in every.out and "unchanged    dfe-send" in every.out
    skipped = [r.getMessage() for r in caplog.records if "skipping followed source" in r.getMessage()]
    assert len(skipped) == 2 and "Traceback" not in every.err
    assert any("followed-alert-1-0000aaaa" in line and "'javascript:alert(1)' is not an http:// or https:// URL"
               in line for line in skipped)
    assert any("followed-unknown-kind-0000bbbb" in line and "unknown kind 'pdf'" in line for line in skipped)
