"""Extraction of GOV.UK and Parliament pages: content kept, chrome and noise dropped."""

from __future__ import annotations

import re

import pytest

from monitor.core.document import ATTACHMENT, CHANGE_NOTE, LINK, NOTICE
from monitor.core.errors import ExtractError
from monitor.core.extract import collapse, decode_html, extract_html, extract_page
from tests import govuk_site
from tests.govuk_site import PageContent, render_govuk_page, render_parliament_page

PAGE_URL = "https://www.gov.uk/government/publications/send-code-of-practice-0-to-25"


def send_code(**changes) -> PageContent:
    fields = dict(
        title="SEND code of practice: 0 to 25 years",
        summary="Statutory guidance for organisations working with young people with SEND.",
        body=[
            "## Overview",
            "The code explains the duties of local authorities, health bodies and schools.",
            "Read the [guide for parents](/government/publications/send-guide-for-parents-and-carers#intro).",
            "### Who it applies to",
            "- Local authorities",
            "- Early years providers & schools",
            "> Inset: this guidance is statutory.",
            "| Year | EHC plans |",
            "| 2023 | 517,049 |",
        ],
        attachments=[
            (
                "SEND code of practice: 0 to 25 years",
                "https://assets.publishing.service.gov.uk/media/5a7dcb85ed915d2ac884d995/SEND_Code_of_Practice_January_2015.pdf",
                "PDF, 2.7 MB, 292 pages",
            ),
            ("Easy read summary", "/government/publications/send-code/easy-read", ""),
        ],
        change_history=[
            ("2020-04-30T14:00:00.000+01:00", "Added a coronavirus note."),
            ("2015-01-01T00:00:00.000+00:00", "Updated for January 2015."),
            ("2014-06-11T09:30:00.000+01:00", "First published."),
        ],
        base_path="/government/publications/send-code-of-practice-0-to-25",
    )
    fields.update(changes)
    return PageContent(**fields)


def extract(html: str, selector: str | None = None):
    return extract_html(html, url=PAGE_URL, selector=selector)


# --- stable across fetches ----------------------------------------------------------------


def test_noise_navigation_and_banners_do_not_change_the_document():
    content = send_code()
    pages = [
        render_govuk_page(content, noise_seed=1),
        render_govuk_page(content, noise_seed=2),
        render_govuk_page(content, noise_seed=3, nav_variant=1),
        render_govuk_page(content, noise_seed=4, nav_variant=5, banner=True),
        render_govuk_page(content, noise_seed=5, nav_variant=2, pad_to=50_000),
    ]
    assert len(set(pages)) == len(pages)  # the bytes really do differ
    documents = [extract(page) for page in pages]
    assert {d.content_hash() for d in documents} == {documents[0].content_hash()}
    assert documents[0] == documents[-1]


def test_unseeded_pages_differ_but_extract_equal():
    content = send_code()
    first, second = render_govuk_page(content), render_govuk_page(content)
    assert first != second
    assert extract(first).content_hash() == extract(second).content_hash()


def test_a_changed_paragraph_changes_the_document():
    before = send_code()
    after = send_code(body=[line.replace("schools.", "colleges.") for line in before.body])
    old, new = extract(render_govuk_page(before)), extract(render_govuk_page(after))
    assert old.content_hash() != new.content_hash()
    changed = set(new.blocks) - set(old.blocks)
    assert changed == {"The code explains the duties of local authorities, health bodies and colleges."}


def test_a_new_attachment_or_change_note_changes_the_items():
    before = send_code()
    after = send_code(
        attachments=before.attachments + [("Annex A", "/media/annex-a.pdf", "PDF, 10 KB")],
        change_history=[("2024-09-13T10:00:00.000+01:00", "Added annex A.")] + before.change_history,
    )
    old, new = extract(render_govuk_page(before)), extract(render_govuk_page(after))
    added = set(new.items) - set(old.items)
    assert {(i.kind, i.key) for i in added} == {
        (ATTACHMENT, "https://www.gov.uk/media/annex-a.pdf"),
        (CHANGE_NOTE, "2024-09-13 Added annex A."),
    }


# --- content ------------------------------------------------------------------------------


def test_title_and_body_blocks_in_reading_order():
    doc = extract(render_govuk_page(send_code(), noise_seed=7))
    assert doc.title == "SEND code of practice: 0 to 25 years"
    blocks = list(doc.blocks)
    expected_in_order = [
        "SEND code of practice: 0 to 25 years",
        "Statutory guidance for organisations working with young people with SEND.",
        "Overview",
        "The code explains the duties of local authorities, health bodies and schools.",
        "Read the guide for parents.",
        "Who it applies to",
        "Local authorities",
        "Early years providers & schools",
        "Inset: this guidance is statutory.",
        "Year | EHC plans",
        "2023 | 517,049",
    ]
    positions = [blocks.index(text) for text in expected_in_order]
    assert positions == sorted(positions)


def test_attachments_have_absolute_urls_titles_and_metadata():
    doc = extract(render_govuk_page(send_code(), noise_seed=7))
    attachments = {item.key: item for item in doc.items_of(ATTACHMENT)}
    pdf = attachments[
        "https://assets.publishing.service.gov.uk/media/5a7dcb85ed915d2ac884d995/SEND_Code_of_Practice_January_2015.pdf"
    ]
    assert pdf.title == "SEND code of practice: 0 to 25 years"
    assert pdf.note == "PDF, 2.7 MB, 292 pages"
    assert pdf.url == pdf.key
    easy = attachments["https://www.gov.uk/government/publications/send-code/easy-read"]
    assert easy.title == "Easy read summary"
    assert easy.note is None
    assert len(attachments) == 2
    # The accessible-format boilerplate repeated in every attachment is not content.
    assert "accessible format" not in doc.text
    assert "may not be suitable" not in doc.text


def test_change_history_entries_become_change_notes():
    doc = extract(render_govuk_page(send_code(), noise_seed=7))
    notes = doc.items_of(CHANGE_NOTE)
    assert [(n.key, n.date, n.note) for n in notes] == [
        ("2014-06-11 First published.", "2014-06-11", "First published."),
        ("2015-01-01 Updated for January 2015.", "2015-01-01", "Updated for January 2015."),
        ("2020-04-30 Added a coronavirus note.", "2020-04-30", "Added a coronavirus note."),
    ]


def test_body_links_are_items_without_fragment_and_chrome_links_are_not():
    doc = extract(render_govuk_page(send_code(), noise_seed=7, banner=True))
    links = {item.key: item.title for item in doc.items_of(LINK)}
    assert links == {
        "https://www.gov.uk/government/publications/send-guide-for-parents-and-carers": ("guide for parents"),
        "https://www.gov.uk/government/organisations/department-for-education": ("Department for Education"),
    }


def test_withdrawn_notice_becomes_a_notice_item():
    content = send_code(withdrawn=("2024-02-01", "Replaced by the [new code](/new-code)."))
    doc = extract(render_govuk_page(content, noise_seed=3))
    (notice,) = doc.items_of(NOTICE)
    assert notice.key == "withdrawn"
    assert notice.date == "2024-02-01"
    assert "This guidance was withdrawn on 1 February 2024" in notice.title
    assert "Replaced by the new code." in notice.title
    assert "https://www.gov.uk/new-code" in {i.key for i in doc.items_of(LINK)}
    assert not extract(render_govuk_page(send_code(), noise_seed=3)).items_of(NOTICE)


# --- chrome and noise ---------------------------------------------------------------------


CHROME_TEXTS = [
    govuk_site.COOKIE_BANNER_TEXT,
    "Accept additional cookies",
    "Skip to main content",
    "Navigation menu",
    "Search GOV.UK",
    "Government activity",
    govuk_site.BREADCRUMB_TEXT,
    govuk_site.EMERGENCY_BANNER_TEXT,
    govuk_site.GLOBAL_BANNER_TEXT,
    govuk_site.RELATED_TEXT,
    "Explore the topic",
    "Print this page",
    "Share this page",
    "opens in new tab",
    govuk_site.EMAILS_TEXT,
    govuk_site.FEEDBACK_TEXT,
    "Report a problem with this page",
    "Help us improve GOV.UK",
    "What were you doing?",
    govuk_site.FOOTER_TEXT,
    "Crown copyright",
    "show all updates",
    "See all updates",
    "Updates to this page",
]


def test_chrome_text_never_reaches_the_document():
    html = render_govuk_page(send_code(), noise_seed=11, banner=True, pad_to=50_000)
    text = extract(html).to_json()
    for chrome in CHROME_TEXTS:
        assert chrome in html, chrome  # the generator does render it
        assert chrome not in text, chrome


def test_per_response_noise_never_reaches_the_document():
    html = render_govuk_page(send_code(), noise_seed=12, banner=True)
    tokens = re.findall(r'name="authenticity_token" value="([^"]+)"', html)
    nonces = re.findall(r'nonce="([^"]+)"', html)
    assert tokens and nonces
    data = extract(html).to_json()
    for noise in tokens + nonces:
        assert noise not in data
    for fragment in ("inset-text-", "govuk-notification-banner-title-", "ga4", "/assets/"):
        assert fragment not in data


# --- selector -----------------------------------------------------------------------------


def test_control_characters_never_reach_the_document():
    # Terminal escapes, BEL and BS in page text would be printed raw by the CLI and mailed.
    html = ("<html><head><title>x</title></head><body><main><h1>Code\x1b]0;owned\x07 of practice</h1>"
            "<p>Local \x1b[2J authorities\x08 must act.\x85\x9b</p><pre>keep\ttab\x0c</pre>"
            "<a href='/doc.pdf'>The\x7f plan\x1b</a></main></body></html>")
    document = extract_page(html.encode("utf-8"), "utf-8", url=PAGE_URL)
    assert document.title == "Code]0;owned of practice"
    assert document.blocks == ("Code]0;owned of practice", "Local [2J authorities must act.", "keep tab",
                               "The plan")
    assert [item.title for item in document.items] == ["The plan"]


def test_selector_narrows_the_document():
    html = render_govuk_page(send_code(), noise_seed=2)
    doc = extract(html, selector=".gem-c-govspeak")
    assert doc.title == "SEND code of practice: 0 to 25 years"
    assert doc.blocks[0] == "Overview"
    assert doc.blocks[-1] == "2023 | 517,049"
    assert "First published." not in doc.blocks
    assert {i.kind for i in doc.items} == {LINK}


def test_selector_may_name_ancestors_of_main():
    html = render_govuk_page(send_code(), noise_seed=2)
    doc = extract(html, selector=".govuk-width-container .gem-c-govspeak h2")
    assert doc.blocks == ("Overview",)


def test_selector_may_pick_the_content_element_through_its_ancestors():
    html = render_govuk_page(send_code(), noise_seed=2)
    assert extract(html, selector=".govuk-width-container main") == extract(html)


@pytest.mark.parametrize("depth", [300, 5000])
def test_selector_on_deeply_nested_markup(depth):
    nested = "<div class='x'>" * depth + "deep" + "</div>" * depth
    html = f"<html><body><main>{nested}<p class='after'>after</p></main></body></html>"
    assert extract(html, selector="main").blocks == ("deep", "after")
    assert extract(html, selector="main > p").blocks == ("after",)


def test_selector_features_cssselect_lacks_are_refused():
    html = render_govuk_page(send_code(), noise_seed=2)
    for selector in ("p:nth-child(2 of .x)", "input:required", "svg|rect"):
        with pytest.raises(ExtractError, match=r"invalid selector '.+': .+"):
            extract(html, selector=selector)


def test_nested_matches_are_read_once():
    html = render_govuk_page(send_code(), noise_seed=2)
    doc = extract(html, selector=".gem-c-govspeak, .gem-c-govspeak ul")
    assert doc.blocks.count("Local authorities") == 1


def test_selector_matching_nothing_raises():
    html = render_govuk_page(send_code(), noise_seed=2)
    with pytest.raises(ExtractError, match=r"selector '\.no-such-thing' matched nothing"):
        extract(html, selector=".no-such-thing")


def test_selector_cannot_pick_chrome():
    html = render_govuk_page(send_code(), noise_seed=2)
    with pytest.raises(ExtractError, match="matched nothing"):
        extract(html, selector=".gem-c-feedback")


def test_selector_cannot_pick_chrome_through_ancestors_of_main():
    html = render_govuk_page(send_code(), noise_seed=2)
    for selector in ("body .gem-c-related-navigation", ".govuk-width-container .gem-c-feedback"):
        with pytest.raises(ExtractError, match="matched nothing"):
            extract(html, selector=selector)


def test_invalid_selector_raises_with_reason():
    html = render_govuk_page(send_code(), noise_seed=2)
    with pytest.raises(ExtractError, match=r"invalid selector 'div\[': .+"):
        extract(html, selector="div[")


def test_page_without_text_raises():
    with pytest.raises(ExtractError, match="the page has no text content"):
        extract_html(
            "<html><head><title>x</title><script>var a = 1;</script></head><body>"
            "<main id='content'><img src='a.png'><input value='csrf'></main></body></html>",
            url=PAGE_URL,
        )
    with pytest.raises(ExtractError, match="no text content"):
        extract_html("", url=PAGE_URL)


# --- a hand-written page ------------------------------------------------------------------

HAND_WRITTEN = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Area SEND inspections   –   GOV.UK</title>
<base href="https://www.gov.uk/government/consultations/">
<link rel="stylesheet" href="/assets/frontend/application-3f2a9c1d.css">
</head><body>
<div id="global-cookie-message" class="gem-c-cookie-banner" hidden><p>Cookies on GOV.UK</p></div>
<a href="#content" class="govuk-skip-link">Skip to main content</a>
<header class="govuk-header"><a href="/">GOV.UK</a></header>
<nav class="govuk-breadcrumbs"><ol><li><a href="/education">Education</a></li></ol></nav>
<main id="content" class="govuk-main-wrapper">
  <div class="gem-c-heading"><h1 class="govuk-heading-xl">Area SEND
     inspections</h1></div>
  <div class="gem-c-govspeak govuk-govspeak">
    <p>Ofsted&nbsp;and&nbsp;CQC inspect local\u200b areas.<!-- editor note --></p>
    <p>Read <a href="/guidance/x">this<span class="govuk-visually-hidden"> (opens in new tab)</span></a> now</p>
    <ul>
      <li><p>Inspections every <strong>5</strong> years</p></li>
      <li>Outcomes:
        <ul><li>positive</li><li>inconsistent</li></ul>
      </li>
    </ul>
    <table><tr><th>Outcome</th><th>Meaning</th></tr>
      <tr><td><p>Positive</p><p>overall</p></td><td>Typically <br>good</td></tr>
      <tr><td>Nested <table><tr><td>inner 1</td><td>inner 2</td></tr></table></td><td>x</td></tr>
    </table>
    <dl><dt>CQC</dt><dd>Care Quality Commission</dd></dl>
    <blockquote><p>Quoted text</p></blockquote>
    <p>See <a href="framework#annex">the framework</a>,
       <a href="#top">the top</a>, <a href="mailto:a@b.gov.uk">email us</a>
       and <a href="/assets/frontend/app-3f2a9c1d.js">a script</a>.</p>
    <p>Download <span class="gem-c-attachment-link"><a class="govuk-link"
      href="https://assets.publishing.service.gov.uk/media/abc/handbook.pdf">the handbook</a>
      (<span class="gem-c-attachment-link__attribute"><abbr title="Portable Document Format"
      >PDF</abbr></span>, <span class="gem-c-attachment-link__attribute">1 MB</span>)</span></p>
    <div hidden><p>Hidden text</p></div>
    <p aria-hidden="true">Decoration</p>
    <p style="display: none">Invisible</p>
    <details><summary>More detail</summary><p>Details text</p></details>
    <script>document.write("script text")</script>
    <form><label>Your name</label><input type="hidden" name="csrf" value="tok123">
      <button>Send it</button></form>
  </div>
  <header class="gem-c-inverse-header"><h1>Second heading</h1><nav>Jump to</nav></header>
  <div class="govuk-accordion__section-content" hidden="until-found"><p>Accordion text</p></div>
  <div class="gem-c-share-links"><h2>Share this page</h2><a href="https://facebook.com/x">Facebook</a></div>
  <div class="gem-c-feedback"><h2>Is this page useful?</h2><a href="/contact">Report a problem</a></div>
  Loose text in main
  <br>after a break
  <div class="gem-c-print-link"><button>Print this page</button></div>
</main>
<footer class="govuk-footer"><p>Footer words</p></footer>
</body></html>"""


def test_hand_written_govuk_page():
    # The <base> puts relative links under /government/consultations/, not the page's own.
    doc = extract_html(HAND_WRITTEN, url="https://www.gov.uk/area-send")
    assert doc.title == "Area SEND inspections"
    assert doc.blocks == (
        "Area SEND inspections",
        "Ofsted and CQC inspect local areas.",
        "Read this now",
        "Inspections every 5 years",
        "Outcomes:",
        "positive",
        "inconsistent",
        "Outcome | Meaning",
        "Positive overall | Typically good",
        "Nested inner 1 inner 2 | x",
        "CQC",
        "Care Quality Commission",
        "Quoted text",
        "See the framework, the top, email us and a script.",
        "Download the handbook (PDF, 1 MB)",
        "More detail",
        "Details text",
        "Second heading",
        "Accordion text",
        "Loose text in main",
        "after a break",
    )
    assert [(i.kind, i.key, i.title, i.note) for i in doc.items] == [
        (
            ATTACHMENT,
            "https://assets.publishing.service.gov.uk/media/abc/handbook.pdf",
            "the handbook",
            "PDF, 1 MB",
        ),
        (LINK, "https://www.gov.uk/government/consultations/framework", "the framework", None),
        (LINK, "https://www.gov.uk/guidance/x", "this", None),
    ]


def test_welsh_change_history_dates_come_from_datetime():
    html = """<html><body><main id="content"><h1>Canllawiau</h1>
      <div class="app-c-published-dates app-c-published-dates--history" lang="cy">
        <div class="app-c-published-dates__change-history" id="full-history">
          <ol class="app-c-published-dates__list">
            <li class="app-c-published-dates__change-item">
              <time class="app-c-published-dates__change-date" datetime="2023-03-02T23:30:00.000+00:00"
                >2 Mawrth 2023</time>
              <p class="app-c-published-dates__change-note">Diweddarwyd.</p>
            </li>
            <li><time datetime="2020-01-01">1 Ionawr 2020</time> Cyhoeddwyd gyntaf.</li>
          </ol>
        </div>
      </div></main></body></html>"""
    doc = extract_html(html, url="https://www.gov.uk/guidance/canllawiau.cy")
    assert [(n.key, n.date, n.note) for n in doc.items_of(CHANGE_NOTE)] == [
        ("2020-01-01 Cyhoeddwyd gyntaf.", "2020-01-01", "Cyhoeddwyd gyntaf."),
        ("2023-03-02 Diweddarwyd.", "2023-03-02", "Diweddarwyd."),
    ]


def test_old_style_notice_without_a_time_element():
    html = """<html><body><main id="content"><h1>Old guidance</h1>
      <section class="gem-c-notice" aria-label="Notice">
        <h2 class="gem-c-notice__title">This guidance was withdrawn on 12 March 2021</h2>
        <p>It is out of date.</p></section>
      <div class="govuk-notification-banner"><p>Consultation closes soon</p></div>
      <p>Body</p></main></body></html>"""
    doc = extract_html(html, url=PAGE_URL)
    notices = {n.key: n for n in doc.items_of(NOTICE)}
    assert notices["withdrawn"].date == "2021-03-12"
    assert notices["withdrawn"].title == ("This guidance was withdrawn on 12 March 2021 It is out of date.")
    assert notices["consultation closes soon"].date is None


def test_title_falls_back_to_the_head_title():
    html = "<html><head><title>Some page - GOV.UK</title></head><body><p>Text</p></body></html>"
    assert extract_html(html, url=PAGE_URL).title == "Some page"


def test_page_without_main_is_read_whole_without_chrome():
    html = (
        "<html><body><header><a href='/'>Site</a></header><nav>Menu</nav>"
        "<div><h2>Heading</h2><p>Body <a href='/doc.pdf'>doc</a></p></div>"
        "<footer>Foot</footer></body></html>"
    )
    doc = extract_html(html, url="https://example.org/page")
    assert doc.blocks == ("Heading", "Body doc")
    assert [i.key for i in doc.items] == ["https://example.org/doc.pdf"]


@pytest.mark.parametrize("wrapper", ["body", "main"])
@pytest.mark.parametrize("depth", [300, 5000])  # libxml2 limits: 255, 2048 with huge_tree
def test_deeply_nested_markup_is_read_whole(wrapper, depth):
    nested = "<div>" * depth + "deep" + "</div>" * depth
    html = f"<html><body><{wrapper}>{nested}<p>after</p></{wrapper}></body></html>"
    assert extract_html(html, url=PAGE_URL).blocks == ("deep", "after")


# --- Parliament ---------------------------------------------------------------------------


def test_parliament_page_keeps_publications_and_drops_chrome():
    html = render_parliament_page(
        "Education Committee publications",
        ["The committee scrutinises the [Department for Education](/committee/203/news/)."],
        [
            ("Solving the SEND crisis", "/publications/45678/documents/226789/default/"),
            ("Government response", "https://committees.parliament.uk/publications/46000/"),
        ],
        noise_seed=4,
    )
    doc = extract_html(html, url="https://committees.parliament.uk/committee/203/education-committee/publications/")
    assert doc.title == "Education Committee publications"
    assert [(i.kind, i.key) for i in doc.items] == [
        (LINK, "https://committees.parliament.uk/publications/45678/documents/226789/default/"),
        (LINK, "https://committees.parliament.uk/publications/46000/"),
    ]
    text = doc.text
    for chrome in ("We use necessary cookies", "All publications", "Accept all", "© UK Parliament"):
        assert chrome not in text
    assert "The committee scrutinises the Department for Education." in doc.blocks
    other = render_parliament_page(
        "Education Committee publications",
        ["The committee scrutinises the [Department for Education](/committee/203/news/)."],
        [
            ("Solving the SEND crisis", "/publications/45678/documents/226789/default/"),
            ("Government response", "https://committees.parliament.uk/publications/46000/"),
        ],
        noise_seed=5,
    )
    assert other != html
    assert extract_html(other, url="https://committees.parliament.uk/x/").content_hash() == (
        extract_html(html, url="https://committees.parliament.uk/x/").content_hash()
    )


# --- how the tree is read -----------------------------------------------------------------


def test_default_path_and_selector_path_read_alike():
    # A selector that picks the content element reads it as the page is read without one.
    for seed in range(3):
        content = send_code(withdrawn=("2024-02-01", "Replaced by the [new code](/new-code)."))
        html = render_govuk_page(content, noise_seed=seed, nav_variant=seed, banner=True)
        assert extract(html, selector="#content") == extract(html)


def test_hidden_text_inside_words_leaves_no_gap():
    html = (
        "<main><p>SEND<span class='govuk-visually-hidden'> (hidden)</span>policy and <b>more</b></p>"
        "<section class='gem-c-attachment'><h3 class='gem-c-attachment__title'>"
        "<a class='gem-c-attachment__link' href='/a.pdf'>Annual<span hidden> x</span>report</a></h3>"
        "<span class='gem-c-attachment__attribute'>PDF</span></section></main>"
    )
    doc = extract(html)
    assert doc.blocks == ("SENDpolicy and more", "Annualreport", "PDF")
    (attachment,) = doc.items
    assert (attachment.title, attachment.note) == ("Annualreport", "PDF")


def test_ruby_annotations_are_not_text():
    html = (
        "<main><p>Tokyo <ruby>東京<rp>(</rp><rt>Tōkyō</rt><rp>)</rp></ruby> office, "
        "<a href='/t'>see <ruby>東<rt>tō</rt></ruby></a></p></main>"
    )
    doc = extract(html)
    assert doc.blocks == ("Tokyo 東京 office, see 東",)
    assert [(i.key, i.title) for i in doc.items] == [("https://www.gov.uk/t", "see 東")]


def test_hrefs_are_percent_encoded_in_item_keys():
    doc = extract("<main><p><a href=' /docs/café guide.pdf'>Guide</a></p></main>")
    assert [i.key for i in doc.items] == ["https://www.gov.uk/docs/caf%C3%A9%20guide.pdf"]


def test_a_header_whose_h1_is_hidden_is_chrome():
    html = (
        "<main><header><div hidden><h1>Hidden</h1></div><p>Header text</p></header>"
        "<header><h1>Shown</h1><p>Sub</p></header><p>Body</p></main>"
    )
    doc = extract(html)
    assert doc.title == "Shown"
    assert doc.blocks == ("Shown", "Sub", "Body")


def test_title_and_base_come_from_the_first_usable_elements():
    # An svg's title is not the page's; an empty title gives way to the next one.
    html = (
        "<html><head><title></title></head><body><svg><title>Icon</title></svg>"
        "<title>Second</title><p>x</p></body></html>"
    )
    assert extract(html).title == "Second"
    # The first <base href> counts, wherever it is.
    html = (
        "<html><body><main><p><a href='doc'>d</a></p><base href='https://example.org/one/'>"
        "<base href='https://example.org/two/'></main></body></html>"
    )
    assert [i.key for i in extract(html).items] == ["https://example.org/one/doc"]


def test_content_element_preference():
    # main#content wins over everything before it; an <a name> is not an id.
    html = (
        "<html><body><div id='content'><p>div</p></div><a name='main-content'>anchor</a>"
        "<main><p>plain main</p></main><div id='main-content'><p>main-content</p></div>"
        "<main id='content'><p>main content</p></main></body></html>"
    )
    assert extract(html).blocks == ("main content",)
    html = (
        "<html><body><a name='content'>x</a><main><p>plain main</p></main>"
        "<section id='main-content'><p>section</p></section></body></html>"
    )
    assert extract(html).blocks == ("section",)
    with pytest.raises(ExtractError, match="no text content"):
        extract("<html><body><main hidden><p>hidden main</p></main></body></html>")


def test_markup_is_read_as_the_parser_built_it():
    # An empty banner followed by text: the text is not in the banner, so not a notice.
    doc = extract("<main><p>Intro</p><li class='govuk-notification-banner'></li>Closes 1 May 2020</main>")
    assert doc.blocks == ("Intro", "Closes 1 May 2020")
    assert not doc.items_of(NOTICE)
    # <xmp> holds raw text: what it says is what is read, not an escaped copy.
    assert extract("<main><xmp>if a < b &amp;&amp; c</xmp></main>").blocks == ("if a < b &amp;&amp; c",)


# --- decoding -----------------------------------------------------------------------------


def test_utf8_page_wins_over_a_lying_header():
    body = "<p>café – “quoted”</p>".encode()
    assert decode_html(body, "iso-8859-1") == "<p>café – “quoted”</p>"


def test_latin1_bytes_with_a_utf8_header():
    assert decode_html("<p>café</p>".encode("latin-1"), "utf-8") == "<p>café</p>"


def test_header_charset_used_when_utf8_fails():
    # "iso-8859-1" is read as windows-1252, as browsers do: 0x93/0x94 are curly quotes.
    body = "<p>“café”</p>".encode("cp1252")
    assert decode_html(body, "ISO-8859-1") == "<p>“café”</p>"


def test_meta_charset_without_header():
    body = (
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        b"</head><body><p>caf\xe9 \x92s</p></body></html>"
    )
    assert "<p>café ’s</p>" in decode_html(body, None)
    body = b'<meta charset="iso-8859-15"><p>\xa4uro</p>'
    assert decode_html(body, None).endswith("<p>€uro</p>")


def test_byte_order_marks_win():
    assert decode_html(b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "iso-8859-1") == "<p>café</p>"
    assert decode_html("<p>café</p>".encode("utf-16"), "utf-8") == "<p>café</p>"
    assert decode_html(b"\xff\xfe\x00\x00" + "<p>é</p>".encode("utf-32-le"), None) == "<p>é</p>"


def test_unknown_or_unusable_codec_names_do_not_raise():
    body = "<p>café</p>".encode("cp1252")
    for label in ("x-no-such-charset", "base64", "zlib", "", "utf-8\x00", '"'):
        assert decode_html(body, label) == "<p>café</p>"
    assert decode_html(b'<meta charset="bogus"><p>caf\xe9</p>', "nonsense").endswith("café</p>")


def test_latin1_header_reads_bytes_undefined_in_windows_1252():
    assert decode_html(b"<p>a\x81 caf\xe9</p>", "iso-8859-1") == "<p>a\x81 café</p>"


def test_bomless_utf16_with_its_header():
    # ASCII in UTF-16 is valid UTF-8 (with NULs): only the header tells them apart.
    assert decode_html("<p>hi</p>".encode("utf-16-le"), "utf-16-le") == "<p>hi</p>"


def test_undecodable_bytes_are_replaced_not_raised():
    # 0x81 is undefined in windows-1252; the last resort must still give text.
    text = decode_html(b"<p>a\x81b\xe9</p>", None)
    assert text.startswith("<p>a") and text.endswith("bé</p>")


def test_windows_1252_page_end_to_end():
    content = send_code(summary="Guidance for the café’s staff.")
    html = render_govuk_page(content, noise_seed=1, charset="windows-1252")
    body = html.encode("cp1252")
    doc = extract_html(decode_html(body, None), url=PAGE_URL)
    assert "Guidance for the café’s staff." in doc.blocks


_PAGE = ("<html><head><title>T</title></head><body><main id='content'><h1>Café – “plan”</h1><p>{}</p></main>"
         "</body></html>")


@pytest.mark.parametrize("body, charset", [
    (_PAGE.format("UTF-8, as the header says").encode(), "utf-8"),
    (_PAGE.format("UTF-8 under a lying header").encode(), "iso-8859-1"),
    (b"\xef\xbb\xbf" + _PAGE.format("UTF-8 with a byte-order mark").encode(), None),
    (_PAGE.format("windows-1252").encode("cp1252"), "windows-1252"),
    (_PAGE.format("UTF-8 with one broken byte").encode().replace(b"broken", b"br\xffoken"), "utf-8"),
    (_PAGE.format("UTF-16").encode("utf-16"), None),
    # ASCII in UTF-16 without a byte-order mark is valid UTF-8 too: only the header tells.
    ("<html><body><main id='content'><h1>Plain</h1><p>UTF-16 by its header</p></main></body></html>"
     .encode("utf-16-le"), "utf-16le"),
])
def test_a_response_body_reads_as_its_decoded_text(body, charset):
    # extract_page hands lxml the response's own bytes when they are the decoded text in
    # UTF-8, and otherwise the decoded text: either way the Document is the same.
    expected = extract_html(decode_html(body, charset), url=PAGE_URL)
    assert extract_page(body, charset, url=PAGE_URL) == expected
    assert expected.title in ("Café – “plan”", "Plain")


def test_collapse():
    assert collapse(" a\u00a0\u00a0b\n\t c\u200bd\u00ad e ") == "a b cd e"
    assert collapse("cafe\u0301") == "café"


def test_a_malformed_link_or_base_is_ignored_not_a_failed_page():
    html = ('<html><head><base href="http://[broken/"></head><body><main id="content"><h1>Guidance</h1>'
            '<p>See <a href="http://[oops/x">this</a> and <a href="/ok">that</a>.</p></main></body></html>')
    document = extract_html(html, url="https://www.gov.uk/guidance")
    assert document.title == "Guidance"
    assert [item.url for item in document.items] == ["https://www.gov.uk/ok"]


def test_a_utf8_page_with_one_broken_byte_stays_utf8():
    body = "<p>The council’s plan – “SEND” café</p>".encode() + b"\xff<p>more</p>"
    text = decode_html(body, "utf-8")
    assert "The council’s plan – “SEND” café" in text
    assert "â€" not in text
    # Text that is all windows-1252 (no valid UTF-8 sequence) is still read as such.
    assert decode_html("café crème".encode("cp1252"), "utf-8") == "café crème"


# --- govspeak a reader sees that is easy to lose --------------------------------------------

STATISTICS_BODY = (
    '<aside class="stat-headline"><p><em>638,700</em> EHC plans in January 2026</p></aside>'
    '<p>Observations<sup id="fnref:3"><a href="#fn:3" class="footnote" rel="footnote">3</a></sup> cover every '
    'council.</p>'
    '<p>Plans issued within 20 weeks<sup id="fnref:4" role="doc-noteref"><a href="#fn:4" class="footnote" '
    'rel="footnote">[footnote 4]</a></sup> fell.</p>'
    '<p>Classrooms of 60 m<sup>2</sup> and CO<sub>2</sub> levels.</p>'
)


def statistics_page(body: str = STATISTICS_BODY) -> str:
    html = render_govuk_page(send_code(), noise_seed=1, nav_variant=1, banner=True)
    paragraph = re.search(r"<p>The code explains the duties[^<]*</p>", html).group()
    return html.replace(paragraph, body, 1)


@pytest.mark.parametrize("selector", [None, "#content"])
def test_headline_figures_are_content_and_footnote_markers_stand_apart(selector):
    doc = extract(statistics_page(), selector=selector)
    assert "638,700 EHC plans in January 2026" in doc.blocks
    # A bare number in brackets, so it does not read as part of a figure; govspeak's own
    # "[footnote 4]" as it is; a superscript that is not a footnote stays in its word.
    assert "Observations [3] cover every council." in doc.blocks
    assert "Plans issued within 20 weeks [footnote 4] fell." in doc.blocks
    assert "Classrooms of 60 m2 and CO2 levels." in doc.blocks


def test_a_new_headline_figure_is_a_change_and_other_asides_stay_chrome():
    before = extract(statistics_page())
    after = extract(statistics_page(STATISTICS_BODY.replace("638,700", "640,100")))
    assert before != after
    # An aside that is not a stat headline (a sidebar) is still not content.
    sidebar = extract(statistics_page(STATISTICS_BODY + '<aside class="related"><p>Related: cookies</p></aside>'))
    assert sidebar == before
