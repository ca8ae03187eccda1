"""Several years of SEND events on a simulated GOV.UK and Parliament, found by every route
sendwatch has (a saved search, a finder feed, a watched page, followed documents, two
searches of a committee's publications), each run through ``sendwatch check`` and the
outbox into a Maildir: each real event is one email per subscriber per commitment it
bears on, and unrelated publications, even on a watched source, are none."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections import Counter
from html import escape

from storage import Store
from tests.conftest import Reply, config_head
from tests.govuk_site import PageContent, render_govuk_page

JSON_TYPE = "application/json; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
SUBSCRIBERS = ("parent-forum@example.org", "journalist@example.org")

GREEN_PAPER = "/government/consultations/send-review-right-support-right-place-right-time"
PLAN = "/government/publications/send-and-alternative-provision-improvement-plan"
PAY = "/government/publications/teachers-pay-award-2023"
REVIEW_PAGE = "/government/publications/send-review"
NEWS = "/government/organisations/department-for-education/news"
PLAN_UPDATED = "2025-03-10T09:30:00Z"

# What GOV.UK published, step by step ("year" by year): (step, path, title, date, commitment
# or None for an unrelated publication).
DOCUMENTS = [
    (1, GREEN_PAPER, "SEND review: right support, right place, right time", "2022-03-29T10:00:00Z", "send-review"),
    (2, PLAN, "SEND and alternative provision improvement plan", "2023-03-02T00:30:00Z", "send-review"),
    (2, PAY, "Teachers' pay award for 2023 to 2024", "2023-07-13T15:00:00Z", None),
]
# The Education Committee's publications: (step, id, title, type).
PUBLICATIONS = [
    (3, 501, "Special educational needs and disabilities: Education Committee report", "Report"),
    (3, 502, "Teacher recruitment, training and retention", "Report"),
]

CONFIG = """
[[commitment]]
id = "send-review"
title = "The SEND Review"
promise = "The SEND Review will take up the Committee's concerns."
made_in = "Government response to the Education Committee's report on SEND"
made_on = 2020-07-23
phrases = ["SEND review"]
documents = ["SEND and alternative provision improvement plan"]

[[commitment]]
id = "committee-scrutiny"
title = "The Committee's scrutiny of SEND"
promise = "The Committee will report on the SEND system."
made_in = "Education Committee"
made_on = 2020-07-23
phrases = ["special educational needs and disabilities: Education Committee report"]

[[source]]
id = "send-search"
kind = "govuk-search"
url = "{base}/api/search.json"
[source.params]
q = "SEND"

[[source]]
id = "send-feed"
kind = "feed"
url = "{base}/search/all.atom"

[[source]]
id = "send-review-page"
url = "{base}{review_page}"
commitments = ["send-review"]

[[source]]
id = "dfe-news"
url = "{base}{news}"
commitments = ["send-review"]

[[source]]
id = "committee-reports"
kind = "parliament-committee"
url = "{base}"
committee_id = 203

[[source]]
id = "committee-send"
kind = "parliament-committee"
url = "{base}"
committee_id = 203
search_term = "SEND"
""" + "".join(f'\n[[recipient]]\nemail = "{r}"\n' for r in SUBSCRIBERS)


def published(step):
    return [d for d in DOCUMENTS if d[0] <= step]


def updated(path, step):
    return step >= 4 and path == PLAN


def search(base, step):
    results = [{"title": title, "link": path, "description": "", "public_timestamp": PLAN_UPDATED
                if updated(path, step) else when, "content_store_document_type": "policy_paper"}
               for _s, path, title, when, _c in reversed(published(step))]
    return {"results": results, "total": len(results), "start": 0}


def feed(base, step):
    entries = "".join(
        f"<entry><id>tag:www.gov.uk,2005:{path}</id><title>{escape(title)}</title>"
        f"<updated>{PLAN_UPDATED if updated(path, step) else when}</updated>"
        f'<link rel="alternate" type="text/html" href="{base}{path}"/></entry>'
        for _s, path, title, when, _c in reversed(published(step)))
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>SEND on GOV.UK</title><id>tag:www.gov.uk,2005:/search/all</id>{entries}</feed>")


def history(path, step, when):
    notes = [{"public_timestamp": when, "note": "First published."}]
    if updated(path, step):
        notes.append({"public_timestamp": PLAN_UPDATED, "note": "Added the second progress report."})
    return notes


def content_item(path, title, step, when):
    return {"base_path": path, "title": title, "document_type": "policy_paper", "description": "",
            "details": {"body": "<p>Sets out what the government will do.</p>",
                        "change_history": history(path, step, when)}}


def html_page(path, title, step, when):
    return render_govuk_page(PageContent(
        title=title, base_path=path, body=["Sets out what the government will do."],
        change_history=[(n["public_timestamp"], n["note"]) for n in reversed(history(path, step, when))]),
        noise_seed=step)


def review_page(step):
    links = [f"- [{title}]({path})" for _s, path, title, _w, c in published(step) if c == "send-review"][:1]
    return render_govuk_page(PageContent(title="SEND review", base_path=REVIEW_PAGE,
                                         body=["The review of the SEND system.", *links]))


def news_page(step):
    stories = ["- [Free breakfast clubs: the next schools](/government/news/breakfast-clubs)"]
    if step >= 2:  # an unrelated story on a source watched for the SEND Review
        stories.insert(0, f"- [Teachers' pay award for 2023 to 2024]({PAY})")
    return render_govuk_page(PageContent(title="Department for Education news", base_path=NEWS,
                                         body=["The latest news.", *stories]))


def publications(step):
    return {"items": [{"id": pid, "description": title, "type": {"id": 1, "name": kind},
                       "publicationStartDate": "2024-05-01T00:01:00", "committee": {"id": 203,
                                                                                 "name": "Education Committee"},
                       "documents": [{"documentId": pid * 10}]}
                      for s, pid, title, kind in reversed(PUBLICATIONS) if s <= step],
            "totalResults": 0}


def serve(site, step):
    base = site.base
    site.set("/api/search.json", Reply(json.dumps(search(base, step)).encode(), content_type=JSON_TYPE))
    site.set("/search/all.atom", Reply(feed(base, step).encode(), content_type=ATOM))
    site.page(REVIEW_PAGE, review_page(step))
    site.page(NEWS, news_page(step))
    site.set("/api/Publications", Reply(json.dumps(publications(step)).encode(), content_type=JSON_TYPE))
    for _s, path, title, when, _c in published(step):
        # A document found is followed through the Content API or as a page, by whichever
        # route found it first.
        site.set("/api/content" + path, Reply(json.dumps(content_item(path, title, step, when)).encode(),
                                              content_type=JSON_TYPE))
        site.page(path, html_page(path, title, step, when))


def mail(maildir):
    messages = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
                for f in sorted((maildir / "new").iterdir())]
    return Counter((m["To"], m["Subject"]) for m in messages)


def test_each_real_event_is_one_email_per_subscriber_per_commitment_whatever_route_finds_it(
        sendwatch, site, tmp_path, database_url):
    config = tmp_path / "sendwatch.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n' + config_head(database_url) + CONFIG.format(
        base=site.base, review_page=REVIEW_PAGE, news=NEWS))
    outputs = []
    for step in range(5):
        serve(site, step)
        run = sendwatch("--config", str(config), "check")
        assert run.code == 0 and "failed" not in run.out.replace("0 failed", ""), run.out
        outputs.append(run.out)
    # Once more with nothing new: nothing is found twice.
    again = sendwatch("--config", str(config), "check")
    assert "development for" not in again.out and "email via" not in again.out

    got = mail(tmp_path / "data" / "mail")
    assert sum(got.values()) == 4 * len(SUBSCRIBERS)
    assert set(got.values()) == {1}  # no subscriber got any email twice
    assert Counter(to for to, _subject in got) == Counter({r: 4 for r in SUBSCRIBERS})
    subjects = {subject for _to, subject in got}
    assert not any("Teachers" in s or "Teacher recruitment" in s for s in subjects), subjects
    # Step 2's unrelated story on the watched news page is a change, and nothing more.
    assert re.search(r"^changed +dfe-news .*Teachers' pay.*\n(?! +development for)", outputs[2], re.M), outputs[2]

    with Store(database_url) as store:
        developments = store.ledger.developments()
        # The followed documents were checked too: a real route, not a route left out.
        assert {s.url for s in store.sources.followed()} == {site.url(GREEN_PAPER), site.url(PLAN)}
        found = Counter((d.commitment_id, d.document_key.split(":", 2)[-1]) for d in developments)
        sightings = store.ledger.sightings()
    port = site.base.rsplit(":", 1)[1]
    assert found == Counter({
        ("send-review", f"{port}{GREEN_PAPER}"): 1,  # search, feed and the watched review page
        ("send-review", f"{port}{PLAN}"): 1,  # search, feed
        ("send-review", f"{port}{PLAN}@2025-03-10"): 1,  # its update: search, feed, the followed page
        ("committee-scrutiny", "501"): 1,  # both searches of the committee's publications
    }), found
    assert len(sightings) >= 4  # the other routes are kept as evidence
