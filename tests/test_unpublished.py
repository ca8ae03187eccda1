"""A page promised and not yet published (``expected = true``), end to end: a real local
site answers 404 until the day the page appears, and mail goes to a real Maildir."""

from __future__ import annotations

import mailbox

from tests.conftest import CODE_OF_PRACTICE
from tests.govuk_site import PageContent, render_govuk_page

PLAN = render_govuk_page(PageContent(
    title="SEND and alternative provision improvement plan", body=["How the system will change."],
    change_history=[("2023-03-02T09:30:00Z", "First published.")]))


def write_config(tmp_path, site, database_url, expected="expected = true\n"):
    path = tmp_path / "sendwatch.toml"
    path.write_text(f'database_url = "{database_url}"\n[fetch]\nper_host_delay = 0\nretries = 0\n'
                    '[email]\nbroken_after = 2\nmaildir = "mail"\n'
                    + CODE_OF_PRACTICE
                    + '[[recipient]]\nemail = "forum@example.org"\n[[operator]]\nemail = "ops@example.org"\n'
                    + f'[[source]]\nid = "plan"\nurl = "{site.url("/plan")}"\ncommitments = ["code-of-practice"]\n'
                    + expected)
    return path


def mail(tmp_path) -> list:
    folder = tmp_path / "xdg" / "sendwatch" / "mail"
    return list(mailbox.Maildir(folder, factory=None, create=False)) if folder.exists() else []


def test_an_expected_page_is_not_yet_published_until_it_appears_and_its_appearance_is_a_development(
        sendwatch, site, tmp_path, database_url):
    write_config(tmp_path, site, database_url)
    for _ in range(3):  # broken_after = 2: a broken source would have said so by now
        result = sendwatch("check")
        assert result.code == 0
        assert "unpublished  plan  not yet published (HTTP 404)" in result.out
        assert "failed" not in result.out
    sources = sendwatch("sources").out
    assert "consecutive failures" not in sources and "HTTP 404" not in sources
    assert mail(tmp_path) == []  # no "source broken" email

    site.page("/plan", PLAN)
    appeared = sendwatch("check")
    assert "changed      plan  published 'SEND and alternative provision improvement plan': the expected " \
           "page appeared" in appeared.out
    assert "development for: code-of-practice" in appeared.out
    (message,) = mail(tmp_path)
    assert message["Subject"] == ("A revised SEND Code of Practice: published 'SEND and alternative provision "
                                  "improvement plan' on 127.0.0.1")
    assert site.url("/plan") in message.get_payload()[0].get_payload(decode=True).decode()
    ledger = sendwatch("commitments").out
    assert "code-of-practice  [in progress]" in ledger and "published 'SEND and alternative provision" in ledger

    assert "unchanged    plan" in sendwatch("check").out
    # Once it has appeared, the page going missing is a failure like any other.
    site.page("/plan", "gone", status=404)
    gone = sendwatch("check")
    assert "failed       plan" in gone.out and "HTTP 404" in gone.out
    sendwatch("check")
    assert "sendwatch: source plan has failed 2 checks in a row" in {m["Subject"] for m in mail(tmp_path)}


def test_a_410_is_not_yet_published_too_and_a_page_there_from_the_start_is_only_a_first_snapshot(
        sendwatch, site, tmp_path, database_url):
    write_config(tmp_path, site, database_url, expected=(
        f'expected = true\n[[source]]\nid = "there"\nurl = "{site.url("/there")}"\n'
        'commitments = ["code-of-practice"]\nexpected = true\n'))
    site.page("/plan", "gone", status=410)
    site.page("/there", PLAN)
    result = sendwatch("check")
    assert "unpublished  plan   not yet published (HTTP 410)" in result.out
    # Already there when sendwatch first looked: nothing says it appeared today.
    assert "first        there  first snapshot" in result.out and "development" not in result.out
    assert mail(tmp_path) == []


def test_an_awaited_page_that_appears_is_known_by_the_address_a_search_would_give_it():
    # One development per commitment whichever route sees the page first: the appearance
    # and a search result for the same page are the same document.
    from config.settings import SourceSettings
    from monitor.core.developments import item_key
    from monitor.core.document import RESULT, Document, Item
    from monitor.core.unpublished import appearance

    page = "https://www.gov.uk/government/publications/send-national-standards"
    source = SourceSettings(id="standards", url=page, commitments=["send-review"], expected=True)
    _summary, (draft,) = appearance(source, Document("SEND national standards", ("The standards.",)), page)
    found = Item(RESULT, "/government/publications/send-national-standards", "SEND national standards",
                 "https://www.gov.uk/government/publications/send-national-standards/?utm_source=search")
    assert draft.document_key == item_key(found) == "gov.uk:/government/publications/send-national-standards"


def test_an_expected_address_that_leads_elsewhere_is_only_a_possible_development(sendwatch, site, tmp_path,
                                                                                  database_url):
    from tests.conftest import Reply

    write_config(tmp_path, site, database_url)
    assert "not yet published (HTTP 404)" in sendwatch("check").out
    site.set("/plan", Reply(b"", status=301, headers={"Location": site.url("/collections")}))
    site.page("/collections", render_govuk_page(PageContent(title="Education collections", body=["Lists."])))
    moved = sendwatch("check")
    assert f"the expected address now leads to {site.url('/collections')}: 'Education collections'" in moved.out
    assert "possible development for: code-of-practice" in moved.out
    assert "\n                     development for" not in moved.out and mail(tmp_path) == []  # nobody told
    assert "Education collections" in sendwatch("review").out
