"""The ledger end to end: a watched page changes, the change becomes a development (or
not), and the ledger, explanations and exports say so."""

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

from config import load_settings
from monitor.app.check import record_due_events
from monitor.core.ledger import lateness, london_date
from monitor.sources import KINDS
from storage import Store
from tests.conftest import CODE_OF_PRACTICE, UPDATE_LATER
from tests.govuk_site import PageContent, render_govuk_page

COMMITMENTS = CODE_OF_PRACTICE + UPDATE_LATER


def code_page(attachments=(), lines=("The code explains the duties of local authorities.",)):
    return render_govuk_page(PageContent(
        title="SEND code of practice: 0 to 25 years", body=list(lines), attachments=list(attachments),
        change_history=[("2015-01-01T00:00:00Z", "First published.")]))


def write_config(tmp_path, site, database_url):
    path = tmp_path / "sendwatch.toml"
    path.write_text(f'database_url = "{database_url}"\n[fetch]\nper_host_delay = 0\nretries = 0\n'
                    + COMMITMENTS
                    + f'[[source]]\nid = "code"\nurl = "{site.url("/code")}"\ncommitments = ["code-of-practice"]\n')
    return path


def test_a_relevant_change_becomes_a_development_and_an_irrelevant_one_does_not(
        sendwatch, site, tmp_path, database_url):
    write_config(tmp_path, site, database_url)
    site.page("/code", code_page())
    sendwatch("check")

    site.page("/code", code_page(lines=("The code explains the duties of local authorities.",
                                        "Contact the SEND unit by email.")))
    plain = sendwatch("check")
    assert "changed" in plain.out and "development for" not in plain.out

    site.page("/code", code_page(
        attachments=[("SEND code of practice: 0 to 25 years (2026 revision)", "/media/code-2026.pdf", "PDF")],
        lines=("The code explains the duties of local authorities.", "Contact the SEND unit by email.")))
    relevant = sendwatch("check")
    assert "development for: code-of-practice" in relevant.out

    explained = sendwatch("explain", "2")
    assert "recorded developments:\n  code-of-practice:" in explained.out
    assert "+1.00 expected document: 'SEND code of practice: 0 to 25 years'" in explained.out
    not_explained = sendwatch("explain", "1")
    assert "no development was recorded for this change" in not_explained.out
    assert "does not match" in not_explained.out

    ledger = json.loads(sendwatch("commitments", "--json").out)
    code = next(c for c in ledger if c["id"] == "code-of-practice")
    assert code["state"] == "in progress"
    assert code["last_development"]["url"] == site.url("/media/code-2026.pdf")


def test_marking_needs_a_note_and_changes_the_state(sendwatch, site, tmp_path, database_url):
    write_config(tmp_path, site, database_url)
    refused = sendwatch("commitments", "mark", "code-of-practice", "delivered")
    assert refused.code == 2 and "--note" in refused.err
    unknown = sendwatch("commitments", "mark", "no-such", "delivered", "--note", "x")
    assert unknown.code == 2 and "unknown commitment: no-such" in unknown.err
    wrong = sendwatch("commitments", "mark", "code-of-practice", "kept", "--note", "x")
    assert (wrong.code, wrong.err) == (2, "sendwatch commitments mark: argument STATE: 'kept' is not one of "
                                          "'delivered', 'dropped', 'open' (see: sendwatch commitments mark --help)\n")
    done = sendwatch("commitments", "mark", "code-of-practice", "delivered", "--note", "Revised code laid")
    assert done.code == 0
    out = sendwatch("commitments").out
    assert "code-of-practice  [delivered]" in out and "delivered: Revised code laid" in out
    sendwatch("commitments", "mark", "code-of-practice", "open")
    assert "code-of-practice  [awaiting]" in sendwatch("commitments").out


def test_an_overdue_commitment_is_an_event_once_then_a_reminder(sendwatch, site, tmp_path, database_url):
    path = write_config(tmp_path, site, database_url)
    site.page("/code", code_page())
    sendwatch("check")
    sendwatch("check")
    out = sendwatch("commitments").out
    assert "update-later-in-the-year  [overdue; " in out and "days overdue" in out

    settings = load_settings(path, env={}, kinds=KINDS)
    with Store(settings.database_url) as store:
        events = store.ledger.events("update-later-in-the-year")
        assert [e.kind for e in events] == ["overdue"]  # two checks, one event
        later = events[0].at + timedelta(days=90)
        assert [e.kind for e in record_due_events(settings, store, now=later - timedelta(minutes=1))] == []
        assert [e.kind for e in record_due_events(settings, store, now=later)] == ["reminder"]
        assert [e.kind for e in store.ledger.events("update-later-in-the-year")] == ["overdue", "reminder"]


def test_export_round_trips_as_json_and_csv(sendwatch, site, tmp_path, database_url):
    write_config(tmp_path, site, database_url)
    site.page("/code", code_page())
    sendwatch("check")
    site.page("/code", code_page(attachments=[("SEND code of practice: 0 to 25 years (2026)", "/c.pdf", "")]))
    sendwatch("check")

    assert sendwatch("export", "--format", "json", "--output", "ledger.json").code == 0
    data = json.loads((tmp_path / "ledger.json").read_text())
    by_id = {c["id"]: c for c in data["commitments"]}
    assert set(by_id) == {"code-of-practice", "update-later-in-the-year"}
    (development,) = by_id["code-of-practice"]["developments"]
    assert development["url"] == site.url("/c.pdf")
    assert development["evidence"][0]["where"] == "expected document"

    rows = list(csv.DictReader(io.StringIO(sendwatch("export", "--format", "csv").out)))
    assert len(rows) == 2  # one development, and one row for the commitment without any
    row = next(r for r in rows if r["commitment_id"] == "code-of-practice")
    assert row["development_title"] == development["title"]
    assert row["development_url"] == development["url"]
    assert int(row["development_id"]) == development["id"]
    assert float(row["score"]) == development["score"]
    assert datetime.fromisoformat(row["development_date"]) == datetime.fromisoformat(development["detected_at"])
    overdue = next(r for r in rows if r["commitment_id"] == "update-later-in-the-year")
    assert overdue["state"] == "overdue" and overdue["development_id"] == ""
    assert int(overdue["days_overdue"]) > 2000


def test_lateness_stays_beside_the_state_of_a_commitment_in_progress(sendwatch, tmp_path, database_url):
    path = tmp_path / "sendwatch.toml"
    path.write_text(f'database_url = "{database_url}"\n' + UPDATE_LATER
                    + '[[commitment.known]]\ndate = 2022-03-29\ntitle = "Green paper published"\n')
    late = lateness(date(2020, 12, 31), london_date(datetime.now(UTC)))
    assert late.endswith("past the date it was expected") and "year" in late
    out = sendwatch("commitments").out
    assert f"update-later-in-the-year  [in progress; {late}]  An update later in the year" in out
    (entry,) = json.loads(sendwatch("commitments", "--json").out)
    assert (entry["state"], entry["lateness"]) == ("in progress", late)

    sendwatch("commitments", "mark", "update-later-in-the-year", "dropped", "--note", "Replaced by the Review")
    assert "update-later-in-the-year  [dropped]  An update" in sendwatch("commitments").out
    assert json.loads(sendwatch("commitments", "--json").out)[0]["lateness"] is None
