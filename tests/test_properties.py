"""Properties of the pure core on generated hostile input (Hypothesis).

Text from a watched page or API is anything a server cares to send: control characters,
terminal escapes, lone surrogates, markup, header lines. Whatever it is, extraction and
normalisation give a Document without a control character, diffs and emails are made of
it without an exception, neither email part nor the Atom feed lets it become markup or a
header, and a config file, however broken, is refused in one line. How many cases each
property tries is fixed by the "sendwatch" profile in tests/conftest.py.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import tempfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from config import ConfigError, Settings, load_settings, parse_settings
from monitor.app.web.atom import ATOM, Entry, build_feed
from monitor.app.web.present import web_url
from monitor.core.diff import Change, diff_documents, render_text, summarise
from monitor.core.document import ITEM_KINDS, Document, Item
from monitor.core.errors import CheckFailed, ExtractError
from monitor.core.extract import collapse, extract_html, extract_page
from monitor.core.render import Message, build_email, html_part, one_line, plain_part
from monitor.sources import KINDS
from monitor.sources.feed import document_from_feed
from monitor.sources.govuk import document_from_content_item, result_items
from monitor.sources.parliament import document_from_publications

# C0 and C1 controls (tab and newline aside) and lone surrogates: never in a Document.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

CONTROLS = ["\x00", "\x07", "\x08", "\x1b", "\x1b[2J", "\x1b]0;owned\x07", "\x1b[31m", "\x7f", "\x85", "\x9b",
            "\r", "\r\n", "\n", "\t", "\x0b", "\x0c", "\x1c", "\u2028", "\ud800", "\udfff", "\ufeff", "\u200b",
            "\u00a0", "e\u0301"]
MARKUP = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</p>", "<b>", "&amp;", "&", "<", ">",
          '"', "'", "]]>", "<!--", "-->", "<![CDATA[", "\r\nBcc: evil@example.org", "\nSubject: hi",
          "javascript:alert(1)", "=?utf-8?q?x?=", "{{ x }}"]

hostile = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(CONTROLS + MARKUP)), max_size=6).map("".join)
urlish = st.one_of(hostile, st.sampled_from(["https://www.gov.uk/x", "http://127.0.0.1/a b", "/relative",
                                             "javascript:alert(1)", "data:text/html,x", " https://x.example/",
                                             "https://[::1", "mailto:x@example.org", ""]),
                   st.builds(lambda t: "https://www.gov.uk/" + t, hostile))
# Any JSON value, for the API fields a server might fill with the wrong type.
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile, inner, max_size=3),
                           max_leaves=8)


def assert_clean(text: str | None, *, newlines: bool = True) -> None:
    if text is None:
        return
    assert not FORBIDDEN.search(text), repr(text)
    if not newlines:
        assert "\n" not in text and "\r" not in text, repr(text)


def assert_clean_document(document: Document) -> None:
    assert_clean(document.title)
    for block in document.blocks:
        assert_clean(block)
    for item in document.items:
        for value in (item.kind, item.key, item.title, item.url, item.date, item.note):
            assert_clean(value)
    # What the record stores can be written (UTF-8, no surrogate) and read back the same.
    assert Document.from_json(document.to_json().encode("utf-8")) == document


# --- normalisation ---------------------------------------------------------------------------


@given(hostile)
def test_collapsed_text_is_one_clean_line(text):
    collapsed = collapse(text)
    assert_clean(collapsed, newlines=False)
    assert "  " not in collapsed and "\t" not in collapsed and collapsed == collapsed.strip()
    assert collapse(collapsed) == collapsed


items = st.builds(Item, st.sampled_from(tuple(ITEM_KINDS)), hostile, hostile, st.none() | urlish, st.none() | hostile,
                  st.none() | hostile)
documents = st.builds(Document, hostile, st.lists(hostile, max_size=6).map(tuple),
                      st.lists(items, max_size=6).map(tuple))


@given(documents)
def test_a_document_holds_no_control_character_whatever_it_was_given(document):
    assert_clean_document(document)
    assert re.fullmatch("[0-9a-f]{64}", document.content_hash())


# --- extraction ------------------------------------------------------------------------------

TAGS = ["p", "h1", "h2", "li", "pre", "td", "div", "span", "a", "title", "script", "main", "nav", "table"]


@st.composite
def pages(draw) -> str:
    """An HTML page with hostile text, attributes and links, some of it not even escaped."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        tag = draw(st.sampled_from(TAGS))
        text = draw(hostile)
        text = text if draw(st.booleans()) else text.replace("&", "&amp;").replace("<", "&lt;")
        href = draw(urlish).replace('"', "&quot;")
        parts.append(f'<{tag} href="{href}" class="{draw(hostile)}">{text}</{tag}>')
    body = "".join(parts)
    return f"<html><head><title>{draw(hostile)}</title></head><body><main>{body}</main></body></html>"


@given(pages())
def test_extraction_of_a_hostile_page_gives_a_clean_document_or_says_why(html):
    try:
        document = extract_html(html, url="https://www.gov.uk/government/publications/x")
    except ExtractError:  # no text at all: a failed check with its reason
        return
    assert_clean_document(document)


@given(st.binary(max_size=300), st.sampled_from([None, "utf-8", "latin-1", "utf-16", "shift_jis", "nonsense", ""]))
def test_any_bytes_extract_to_a_clean_document_or_say_why(body, charset):
    try:
        document = extract_page(b"<main>" + body, charset, url="https://www.gov.uk/x")
    except ExtractError:
        return
    assert_clean_document(document)


content_items = st.fixed_dictionaries({}, optional={
    "title": hostile | json_values,
    "description": hostile | json_values,
    "base_path": st.sampled_from(["/government/x", "x", ""]) | hostile,
    "public_updated_at": hostile | st.sampled_from(["2020-04-30T14:00:00.000+01:00"]),
    "change_note": hostile,
    "withdrawn_notice": st.fixed_dictionaries({"explanation": hostile, "withdrawn_at": hostile}) | json_values,
    "details": st.fixed_dictionaries({}, optional={
        "body": hostile | json_values,
        "change_history": st.lists(st.fixed_dictionaries({"note": hostile, "public_timestamp": hostile})
                                   | json_values, max_size=4),
        "attachments": st.lists(st.fixed_dictionaries({"title": hostile, "url": urlish}, optional={
            "content_type": hostile, "file_size": json_values, "number_of_pages": json_values}) | json_values,
            max_size=4),
        "documents": st.lists(hostile, max_size=3) | json_values,
    }) | json_values,
})


@given(content_items)
# Found by this property, kept as examples: a title of another type, a lone surrogate in
# the documents markup, and an attachment URL no parser can read.
@example({"title": 1})
@example({"details": {"documents": ["\ud800"]}})
@example({"details": {"attachments": [{"title": "Plan", "url": "https://[::1"}]}})
def test_a_hostile_content_api_item_gives_a_clean_document(data):
    document = document_from_content_item(data, base_url="https://www.gov.uk/government/publications/x")
    assert_clean_document(document)


@given(st.lists(st.fixed_dictionaries({"link": urlish, "title": hostile}, optional={
    "description": hostile, "public_timestamp": hostile, "content_store_document_type": hostile}) | json_values,
    max_size=5))
@example([{"link": "https://[::1", "title": "Plan"}])
def test_hostile_search_results_give_clean_items(results):
    try:
        found = result_items({"results": results}, base_url="https://www.gov.uk")
    except CheckFailed:
        return
    assert_clean_document(Document("search", (), tuple(found)))


@given(st.lists(st.fixed_dictionaries({"id": st.integers(1, 10**6)}, optional={
    "description": hostile | json_values, "publicationStartDate": hostile | json_values,
    "type": st.fixed_dictionaries({"name": hostile}) | json_values,
    "committee": st.fixed_dictionaries({"id": st.just(203), "name": hostile}) | json_values,
    "documents": json_values}) | json_values, max_size=5))
@example([{"id": 1, "documents": 1}])
@example([{"id": 1, "committee": [None]}])
@example([{"id": 1, "description": [None]}])
def test_hostile_committee_publications_give_a_clean_document(publications):
    try:
        document = document_from_publications({"items": publications}, committee_id=203)
    except CheckFailed:
        return
    assert_clean_document(document)


def xml_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@given(hostile, st.lists(st.tuples(hostile, hostile, urlish, hostile), max_size=4), st.booleans())
def test_a_hostile_feed_gives_a_clean_document_or_says_why(title, entries, escape):
    esc = xml_escaped if escape else (lambda text: text)
    body = "".join(f"<entry><id>{esc(i)}</id><title>{esc(t)}</title><link href=\"{esc(u)}\"/>"
                   f"<summary type=\"html\">{esc(s)}</summary><updated>2026-01-05T09:00:00Z</updated></entry>"
                   for i, t, u, s in entries)
    feed = f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="{ATOM}"><title>{esc(title)}</title>{body}</feed>'
    try:
        document = document_from_feed(feed.encode("utf-8", "surrogatepass"), url="https://www.gov.uk/x.atom",
                                      content_type="application/atom+xml")
    except CheckFailed:
        return
    assert_clean_document(document)


# --- diff ------------------------------------------------------------------------------------


@given(documents, documents)
def test_the_diff_of_any_two_documents_is_clean_and_exact(old, new):
    change = diff_documents(old, new)
    assert_clean(summarise(change), newlines=False)
    assert_clean(render_text(old, new))
    added = {item.identity for item in change.added_items}
    assert added == {i.identity for i in new.items} - {i.identity for i in old.items}
    assert change.is_empty == (old == new)


# --- email -----------------------------------------------------------------------------------

OUR_TAGS = {"html", "head", "meta", "body", "h1", "h2", "p", "ul", "li", "ins", "del", "a", "br"}
HEADERS = {"Subject", "From", "To", "Date", "Message-ID", "In-Reply-To", "References", "List-Id",
           "Auto-Submitted", "MIME-Version", "Content-Type"}
ONE_CLICK = {"List-Unsubscribe", "List-Unsubscribe-Post"}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


raw_changes = st.builds(Change, hostile, hostile, st.lists(hostile, max_size=15).map(tuple),
                        st.lists(hostile, max_size=3).map(tuple), st.lists(items, max_size=3).map(tuple),
                        st.lists(items, max_size=2).map(tuple),
                        st.lists(st.tuples(items, items), max_size=2).map(tuple))
messages = st.builds(Message, subject=hostile, heading=hostile, thread=hostile,
                     paragraphs=st.lists(hostile, max_size=3), change=st.none() | raw_changes,
                     links=st.lists(st.tuples(hostile, urlish), max_size=3),
                     items=st.lists(st.tuples(hostile, st.none() | urlish), max_size=3),
                     footer=st.lists(hostile, max_size=2),
                     footer_links=st.lists(st.tuples(hostile, urlish), max_size=2),
                     unsubscribe=st.none() | urlish)
SETTINGS = Settings()


@given(messages)
@example(Message("s", "h", "t", links=[("The document", "https://[::1")]))
@example(Message("s", "h", "t", links=[("The document", " javascript:alert(1)")]))
@example(Message("s", "h", "t", items=[("Plan", "https://www.gov.uk/\u2028\x1b")]))
@example(Message("=?utf-8?q?a=0D=0ABcc:_evil@example.org?=", "h", "t"))  # an encoded word hiding a header
@example(Message("=?utf-8?q?x?=", "h", "t"))
def test_an_email_of_hostile_text_has_no_control_character_markup_or_header_of_its_own(message):
    plain, html = plain_part(message), html_part(message)
    assert_clean(plain)
    assert_clean(html)
    parser = Tags()
    parser.feed(html)
    assert {tag for tag, _ in parser.tags} <= OUR_TAGS
    for tag, attrs in parser.tags:
        assert set(attrs) <= {"style", "href", "lang", "charset"}
        if tag == "a":
            assert web_url(attrs["href"]) or re.fullmatch("mailto:[^ ]*", attrs["href"])

    built = build_email(message, notification_id=7, recipient="parent@example.org", settings=SETTINGS,
                        now=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    assert built["Subject"] == one_line(message.subject)
    assert_clean(built["Subject"], newlines=False)
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)
    # Nothing the page wrote became a header; the one-click pair only for a clean https address.
    one_click = message.unsubscribe is not None and web_url(message.unsubscribe) is not None \
        and message.unsubscribe.startswith("https://") and message.unsubscribe.isprintable() \
        and not re.search(r"[<>\s]", message.unsubscribe)
    assert set(parsed.keys()) == HEADERS | (ONE_CLICK if one_click else set())
    if one_click:
        assert parsed["List-Unsubscribe"] == f"<{message.unsubscribe}>"
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "\n" not in parsed["Subject"]
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == plain


# --- dashboard and Atom ----------------------------------------------------------------------


@given(st.lists(st.builds(Entry, hostile, hostile, st.just(datetime(2026, 1, 5, tzinfo=UTC)), urlish, hostile,
                          st.none() | hostile), max_size=4), hostile)
@example([], "\ud800")
def test_an_atom_feed_of_hostile_text_parses_with_no_element_of_its_own(entries, title):
    feed = build_feed(feed_id="tag:sendwatch,2026:feed", title=title, self_url="http://127.0.0.1/feed.atom",
                      page_url="http://127.0.0.1/", updated=datetime(2026, 1, 5, tzinfo=UTC), entries=entries)
    root = ET.fromstring(feed)
    assert len(root.findall(f"{{{ATOM}}}entry")) == len(entries)
    allowed = {f"{{{ATOM}}}{name}" for name in ("feed", "id", "title", "subtitle", "updated", "author", "name",
                                                "generator", "link", "entry", "category", "summary")}
    assert {element.tag for element in root.iter()} <= allowed


@given(urlish)
def test_only_plain_web_addresses_become_links(url):
    link = web_url(url)
    assert link is None or (link == url and re.match("(?i)https?://[^/]", url))


# --- config ----------------------------------------------------------------------------------

VALID = """
[fetch]
contact = "tests@example.org"

[[source]]
id = "code"
url = "https://www.gov.uk/code"
commitments = ["code-of-practice"]

[[commitment]]
id = "code-of-practice"
title = "A revised SEND Code of Practice"
promise = "Revise it."
made_in = "Government response"
made_on = 2020-07-23
phrases = ["SEND code of practice"]

[[recipient]]
email = "parent@example.org"
"""
# Where a hostile value goes: (table header, key); the header's own keys are dropped.
PLACES = [("", "data_dir"), ("", "database_url"), ("", "retention"), ("[fetch]", "contact"),
          ("[fetch]", "max_bytes"), ("[fetch]", "per_host_delay"), ("[[source]]", "id"), ("[[source]]", "kind"),
          ("[[source]]", "url"), ("[[source]]", "interval"), ("[[source]]", "selector"),
          ("[[source]]", "commitments"), ("[[commitment]]", "made_on"), ("[[commitment]]", "expected_by"),
          ("[[commitment]]", "phrases"), ("[[recipient]]", "email"), ("[[recipient]]", "mode"),
          ("[[recipient]]", "at"), ("[email]", "from"), ("[email.smtp]", "host"), ("[email.smtp]", "port"),
          ("[web]", "port"), ("[service]", "jitter"), ("[[source]]", "unknown_key")]


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # a JSON string is a TOML basic string, \u escapes and all
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


toml_values = st.recursive(st.one_of(st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False,
                                                                                        allow_infinity=False),
                                     hostile, st.sampled_from(["6h", "0s", "-1m", "99999999999d", "sqlite://",
                                                               "postgresql://x@/", "nosuch://", "all"])),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile, inner, max_size=2),
                           max_leaves=5)


def assert_one_line_error(error: ConfigError, origin: str) -> None:
    message = str(error)
    assert message.startswith(origin) and "\n" not in message and "\r" not in message, message


@given(st.sampled_from(PLACES), toml_values)
def test_a_config_with_any_value_anywhere_loads_or_is_refused_in_one_line(place, value):
    header, key = place
    text = VALID.replace(header, f"{header}\n{key} = {toml_value(value)}", 1) if header else \
        f"{key} = {toml_value(value)}\n{VALID}"
    with tempfile.TemporaryDirectory() as home:  # never the user's own data directory
        try:
            parse_settings(text, origin="sendwatch.toml", env={"XDG_DATA_HOME": home}, base_dir=Path(home), kinds=KINDS)
        except ConfigError as error:
            assert_one_line_error(error, "sendwatch.toml")


@given(st.binary(max_size=200) | hostile.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_a_config_file_of_any_bytes_is_refused_in_one_line_or_loads(content):
    with tempfile.TemporaryDirectory() as home:
        path = Path(home) / "sendwatch.toml"
        path.write_bytes(content)
        try:
            load_settings(path, env={"XDG_DATA_HOME": home}, kinds=KINDS)
        except ConfigError as error:
            assert_one_line_error(error, str(path))


def test_the_readme_states_how_many_cases_a_run_tries():
    from tests.conftest import PROPERTY_CASES

    properties = [f for name, f in globals().items() if name.startswith("test_") and hasattr(f, "hypothesis")]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    stated = f"Each of the {len(properties)} properties tries {PROPERTY_CASES} cases, " \
             f"{len(properties) * PROPERTY_CASES:,} a run"
    assert stated in " ".join(readme.split())
