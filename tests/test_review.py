"""``sendwatch review`` end to end: a saved search on a local GOV.UK finds documents, a
person rejects one, a document like it comes back as a possible development, is listed,
explained, confirmed and only then emailed."""

from __future__ import annotations

import email
import email.policy
import json

from storage import Store
from tests.conftest import Reply, config_head

JSON_TYPE = "application/json; charset=utf-8"
CALL = "/government/consultations/send-review-call-for-evidence"
CLOSED = "/government/consultations/send-review-call-for-evidence-closed"
CONFIG = """
[[commitment]]
id = "send-review"
title = "The SEND Review"
promise = "The SEND Review will take up the Committee's concerns."
made_in = "Government response to the Education Committee's report on SEND"
made_on = 2020-07-23
phrases = ["SEND review"]

[[source]]
id = "send-search"
kind = "govuk-search"
url = "{base}/api/search.json"
[source.params]
q = "SEND"

[ledger]
follow = false

[[recipient]]
email = "forum@example.org"
"""


def answer(site, *results):
    site.set("/api/search.json", Reply(json.dumps({"results": [
        {"title": title, "link": link, "description": "", "public_timestamp": "2026-01-05T09:00:00Z"}
        for title, link in results]}).encode(), content_type=JSON_TYPE))


def subjects(tmp_path):
    folder = tmp_path / "data" / "mail" / "new"
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["Subject"]
            for f in sorted(folder.iterdir())] if folder.exists() else []


def test_a_rejected_document_teaches_the_scorer_and_a_possible_one_waits_for_a_person(
        sendwatch, site, tmp_path, database_url):
    (tmp_path / "sendwatch.toml").write_text(f'data_dir = "{tmp_path / "data"}"\n' + config_head(database_url)
                                             + CONFIG.format(base=site.base))
    answer(site)
    sendwatch("check")
    answer(site, ("SEND review: call for evidence", CALL))
    assert "development for: send-review" in sendwatch("check").out
    assert len(subjects(tmp_path)) == 1  # the email it was, before anyone could say otherwise

    assert sendwatch("review").out == "nothing to review: no possible developments\n"
    rejected = sendwatch("review", "reject", "1")
    assert rejected.code == 0
    assert "development 1 rejected for send-review: new document 'SEND review: call for evidence'" in rejected.out
    assert "last development" not in sendwatch("commitments").out  # no longer counts in the ledger

    # A document titled like the rejected one: 0.90 for its phrase and a promise word, brought down
    # to 0.40 by the rejection: a possible development, not an email.
    answer(site, ("SEND review: call for evidence", CALL), ("SEND review: call for evidence (closed)", CLOSED))
    found = sendwatch("check")
    assert "possible development for: send-review (confirm or reject: sendwatch review)" in found.out
    assert "development for: send-review\n" not in found.out
    assert len(subjects(tmp_path)) == 1  # not emailed

    listed = sendwatch("review").out
    assert "possible developments (1)" in listed
    assert "    2  send-review" in listed and "new document 'SEND review: call for evidence (closed)'" in listed
    assert "score 0.40 (a development from 0.5)" in listed
    assert "-0.50 rejected before: 'SEND review: call for evidence' (by a person on " in listed
    assert "5 of 6 words as in 'SEND review: call for evidence (closed)')" in listed
    explained = sendwatch("explain", "2").out
    assert "send-review: new document 'SEND review: call for evidence (closed)' (score 0.40) [possible]" in explained
    assert "-0.50 rejected before:" in explained and "= score 0.40: a possible development" in explained

    confirmed = sendwatch("review", "confirm", "2")
    assert confirmed.code == 0, confirmed.err
    assert "development 2 confirmed for send-review" in confirmed.out and "1 email(s) queued" in confirmed.out
    # Maildir file names do not say which email came first: compare the set.
    assert sorted(subjects(tmp_path)) == ["The SEND Review: new document 'SEND review: call for evidence (closed)' "
                                          "on 127.0.0.1",
                                          "The SEND Review: new document 'SEND review: call for evidence' on 127.0.0.1"]
    assert "nothing to review" in sendwatch("review").out
    with Store(database_url) as store:
        assert [(d.id, d.status) for d in store.ledger.developments()] == [(2, "confirmed")]
        assert [(d.id, d.status) for d in store.ledger.developments(statuses=("rejected",))] == [(1, "rejected")]


def test_review_refuses_what_it_cannot_do_in_one_line_with_exit_2(sendwatch, site, tmp_path, database_url):
    (tmp_path / "sendwatch.toml").write_text(config_head(database_url) + CONFIG.format(base=site.base))
    answer(site)
    sendwatch("check")
    answer(site, ("SEND review: call for evidence", CALL))
    sendwatch("check")  # development 1
    for args, message in [
        (("confirm", "99"), "sendwatch: there is no development 99 (see: sendwatch review)"),
        (("confirm", "1"), "sendwatch: development 1 is development, not possible: only a possible development "
                           "can be confirmed"),
        (("confirm",), "sendwatch: give the id of each development to confirm (see: sendwatch review)"),
        (("confirm", "abc"), "sendwatch review: argument ID: 'abc' is not a development id (a whole number) "
                             "(see: sendwatch review --help)"),
        (("reject", "0"), "sendwatch review: argument ID: there is no development 0 (development ids run from 1 "
                          "to 2147483647) (see: sendwatch review --help)"),
        (("reject", "1", "99"), "sendwatch: there is no development 99 (see: sendwatch review)"),
        (("list", "1"), "sendwatch: review lists every possible development; give ids only to confirm or reject"),
    ]:
        run = sendwatch("review", *args)
        assert (run.code, run.err, run.out) == (2, message + "\n", ""), args
    # "reject 1 99" changed nothing: every id is checked before any is changed.
    assert sendwatch("review", "reject", "1").code == 0
    again = sendwatch("review", "reject", "1")
    assert (again.code, again.err) == (2, "sendwatch: development 1 is rejected already\n")
