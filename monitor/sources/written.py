"""The UK Parliament Written Questions and Statements API: ministers' written answers and
written statements."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote as quote_url
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from config.settings import SourceSettings
from monitor.core.diff import Change
from monitor.core.document import (
    NOTE_ANSWER,
    NOTE_CORRECTED_ANSWER,
    NOTE_HOLDING_ANSWER,
    NOTE_STATEMENT,
    WRITTEN_ANSWER,
    WRITTEN_STATEMENT,
    Document,
    Item,
)
from monitor.core.errors import CheckFailed
from monitor.core.extract import collapse
from monitor.sources.base import NoOptions, Reading, SourceKind, without_query
from monitor.sources.feed import accumulate, quote, shorten, summarise_discovery, text_of_html
from monitor.sources.fetch import Fetcher, Validators

log = logging.getLogger(__name__)

JSON_ACCEPT = "application/json"
WEBSITE = "https://questions-statements.parliament.uk"
UK = ZoneInfo("Europe/London")
# The Department for Education's id as an answering body.
EDUCATION = 60
# More pages than this for one query is a query too wide to watch: it fails the check
# with a message saying so, rather than reading thousands of answers every time.
MAX_PAGES = 20
# A statement can run to thousands of words. The text is kept whole up to this length (the
# old and new text of a corrected answer are what a reader wants); beyond it, shortened and
# fingerprinted, so that an edit still shows.
TEXT_LIMIT = 20_000


class WrittenOptions(NoOptions):
    answering_bodies: tuple[int, ...] = Field(
        default=(EDUCATION,), min_length=1,
        description="The answering bodies (government departments) by id: 60 is the Department for Education.",
    )
    search_terms: tuple[str, ...] = Field(
        default=(),
        description="Only items containing one of these terms (one query each); none: every item of the bodies.",
    )
    days: int = Field(default=30, ge=1, le=366, description="How many days back each check asks about.")
    take: int = Field(default=50, ge=1, le=100, description="Page size: how many items to ask for at a time.")

    @field_validator("answering_bodies")
    @classmethod
    def _body_ids(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for body in value:
            if body < 1:
                raise ValueError(f"{body} is not an answering body id (60 is the Department for Education)")
        return tuple(dict.fromkeys(value))

    @field_validator("search_terms")
    @classmethod
    def _terms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for term in value:
            if len(term.strip()) < 2:
                raise ValueError(f"search term {term!r} is too short: 2 characters or more")
        return tuple(dict.fromkeys(term.strip() for term in value))


class _WrittenSource(SourceKind[WrittenOptions]):
    """What the two kinds of the Written Questions and Statements API share: the query,
    the paging, and reading only new or changed items in full."""

    Options = WrittenOptions
    discovers = True
    # Whole answers and statements, found by searching for the commitments' own phrases:
    # counted among the documents that measure how common a phrase is, they would make
    # "SEND review" or "code of practice" look common and weigh them down everywhere.
    measures_phrases = False
    needs_previous = True
    item_kind: ClassVar[str]
    list_path: ClassVar[str]
    # The query parameters that say "since": each is asked separately (answered since, and
    # corrected since, for questions), and the answers are joined.
    since_parameters: ClassVar[tuple[str, ...]]
    extra_parameters: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def read_options(cls, settings: SourceSettings) -> WrittenOptions:
        if without_query(settings.url) != settings.url.split("#")[0]:
            raise ValueError("write the url as the API's base, https://questions-statements-api.parliament.uk, "
                             "and use the options answering_bodies, search_terms, days and take")
        return cls.Options.model_validate(settings.options)

    @property
    def api(self) -> str:
        base = without_query(self.settings.url).rstrip("/")
        for suffix in (self.list_path, "/api"):
            if base.lower().endswith(suffix.lower()):
                base = base[: -len(suffix)]
        return base

    async def read(self, fetcher: Fetcher, validators: Validators | None,
                   previous: Document | None = None) -> Reading:
        since = datetime.now(UK).date() - timedelta(days=self.options.days)
        entries: dict[int, dict] = {}
        status, size, url = 200, 0, self.api
        for query in self.queries(since):
            skip = 0
            for _page in range(MAX_PAGES):
                page_url = f"{self.api}{self.list_path}?{urlencode([*query, ('skip', skip)])}"
                response = await fetcher.get(page_url, accept=JSON_ACCEPT)
                status, size, url = response.status, size + len(response.body), response.url
                results, total = search_results(response.json(), self.list_path)
                for value in results:
                    entries.setdefault(value["id"], value)
                skip += len(results)
                if not results or skip >= total:
                    break
            else:
                raise CheckFailed(f"more than {MAX_PAGES * self.options.take} results for one query "
                                  f"({_said(query)}): narrow it with search_terms or fewer days")
        known = {item.key: item for item in previous.items_of(self.item_kind)} if previous is not None else {}
        items = []
        for entry_id, value in entries.items():
            listed = self.item_of(value)
            if listed is None:
                log.warning("skipping an item the API describes without a date: %.200r", value)
                continue
            before = known.get(listed.key)
            if previous is None or (before is not None and self.same_version(before, listed)):
                # The first reading records what is there as known, from the list alone (its
                # text may be shortened); a known item is read in full again only once the
                # list says it changed.
                items.append(before or listed)
                continue
            # expandMember names the minister who answered or made it: who restated a promise.
            response = await fetcher.get(f"{self.api}{self.list_path}/{entry_id}?expandMember=true",
                                         accept=JSON_ACCEPT)
            size += len(response.body)
            full = self.item_of(single_result(response.json(), entry_id))
            items.append(full or listed)
        title = self.title()
        # Several answers make one reading: none of them is asked for conditionally.
        return Reading(Document(title, (), accumulate(previous, items, self.item_kind)), url, status, size,
                       Validators())

    def queries(self, since: date) -> list[list[tuple[str, str | int]]]:
        base: list[tuple[str, str | int]] = [("answeringBodies", body) for body in self.options.answering_bodies]
        base += list(self.extra_parameters)
        base.append(("take", self.options.take))
        terms: list[str | None] = list(self.options.search_terms) or [None]
        queries = []
        for term in terms:
            for parameter in self.since_parameters:
                query = [*base, (parameter, since.isoformat())]
                if term:
                    query.append(("searchTerm", term))
                queries.append(query)
        return queries

    def title(self) -> str:
        raise NotImplementedError

    def item_of(self, value: dict) -> Item | None:
        raise NotImplementedError

    def same_version(self, known: Item, listed: Item) -> bool:
        """Whether the list's entry is the version already known, so that it need not be read in full."""
        return known.date == listed.date and known.note_kind == listed.note_kind and known.title == listed.title

    def summarise(self, change: Change) -> str:
        return summarise_discovery(change, self.item_kind, describe=describe_written)


class WrittenAnswersSource(_WrittenSource):
    """Written questions answered by a government department, from the Written Questions
    and Statements API.

    Asks ``GET {url}/api/writtenquestions/questions?answeringBodies=60&answered=Answered&
    answeredWhenFrom=…&searchTerm=…&take=…&skip=…``, page by page, for the questions the
    department answered in the last ``days``, and again with ``correctedWhenFrom`` for the
    answers it corrected. ``url`` is the API's base,
    ``https://questions-statements-api.parliament.uk``. Options:

    - ``answering_bodies`` (default ``[60]``, the Department for Education): the
      departments by id.
    - ``search_terms``: only questions or answers containing one of these terms (each 2
      characters or more), one query per term; none: every answer of the departments.
    - ``days`` (default 30, at most 366): how far back each check asks.
    - ``take`` (default 50, at most 100): the page size.

    ::

        [[source]]
        id = "dfe-written-answers-send-review"
        kind = "parliament-written-answers"
        url = "https://questions-statements-api.parliament.uk"
        answering_bodies = [60]
        search_terms = ["SEND review", "code of practice"]
        interval = "6h"

    Each answered question is kept with its heading as its title, its page on
    questions-statements.parliament.uk, the day of its answer (or of its correction) and,
    as its note, ``Question: … Answer: …`` in plain text, labelled ``answer``, ``holding
    answer`` or ``corrected answer``. A new answer is a new document, matched against every
    commitment. A holding answer replaced by the real one, and a corrected answer, are
    updates of the same question, with the old and the new text. The first check records
    what is there as known, from the list, whose answers the API shortens; a new or changed
    answer is then read in full (``/api/writtenquestions/questions/{id}``, with the
    minister who answered it, or corrected it, named). Answers are kept
    from one check to the next, so one older than ``days`` is not a removal. An answer
    that is not the API's list, an error (4xx, or a 5xx that persists) or more than 20
    pages for one query fails the check.
    """

    kind = "parliament-written-answers"
    item_kind = WRITTEN_ANSWER
    list_path = "/api/writtenquestions/questions"
    since_parameters = ("answeredWhenFrom", "correctedWhenFrom")
    extra_parameters = (("answered", "Answered"),)

    def title(self) -> str:
        return f"Written answers by {_bodies(self.options.answering_bodies)}"

    def item_of(self, value: dict) -> Item | None:
        return answer_item(value)


class WrittenStatementsSource(_WrittenSource):
    """Written statements made by a government department, from the Written Questions and
    Statements API.

    Asks ``GET {url}/api/writtenstatements/statements?answeringBodies=60&madeWhenFrom=…&
    searchTerm=…&take=…&skip=…``, page by page, for the statements made in the last
    ``days``. ``url`` is the API's base, ``https://questions-statements-api.parliament.uk``.
    Options as for ``parliament-written-answers``: ``answering_bodies`` (default ``[60]``),
    ``search_terms``, ``days`` (default 30) and ``take`` (default 50).

    ::

        [[source]]
        id = "dfe-written-statements"
        kind = "parliament-written-statements"
        url = "https://questions-statements-api.parliament.uk"
        search_terms = ["special educational needs"]
        interval = "6h"

    Each statement is kept with its title, its page on questions-statements.parliament.uk,
    the day it was made and its text (plain text, labelled ``statement``). A new statement
    is a new document, matched against every commitment; a statement whose title, day or
    text changes is an updated one, with the old and new text (a correction made by a
    later statement is that new statement). As for answers, the first check records what
    is there as known, a new statement is read in full
    (``/api/writtenstatements/statements/{id}``), statements are kept from one check to
    the next, and a failing or malformed answer fails the check.
    """

    kind = "parliament-written-statements"
    item_kind = WRITTEN_STATEMENT
    list_path = "/api/writtenstatements/statements"
    since_parameters = ("madeWhenFrom",)

    def title(self) -> str:
        return f"Written statements by {_bodies(self.options.answering_bodies)}"

    def item_of(self, value: dict) -> Item | None:
        return statement_item(value)


def _bodies(ids: tuple[int, ...]) -> str:
    names = ["the Department for Education" if body == EDUCATION else f"answering body {body}" for body in ids]
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def _said(query: list[tuple[str, Any]]) -> str:
    return "&".join(f"{name}={value}" for name, value in query if name != "take")


# --- reading the API's JSON -------------------------------------------------------------------


def search_results(data, path: str) -> tuple[list[dict], int]:
    """The entries (each a ``value`` with an integer ``id``) of a list answer, and the
    total the API says it has. Raises ``CheckFailed`` when the answer is not such a list."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise CheckFailed(f"unexpected answer from the Written Questions API's {path}: no 'results' list")
    total = data.get("totalResults")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise CheckFailed(f"unexpected answer from the Written Questions API's {path}: no 'totalResults' count")
    values = []
    for entry in data["results"]:
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, dict) and isinstance(value.get("id"), int) and not isinstance(value["id"], bool):
            values.append(value)
        else:
            log.warning("skipping a result without an id: %.200r", entry)
    return values, total


def single_result(data, entry_id: int) -> dict:
    """The ``value`` of a single-item answer, which must be the item asked for."""
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, dict) or value.get("id") != entry_id:
        raise CheckFailed(f"unexpected answer from the Written Questions API for item {entry_id}: not that item")
    return value


def answer_item(value: dict) -> Item | None:
    """An answered question as an item; None without the day it was answered."""
    answered = _day(value.get("dateAnswered"))
    if answered is None:
        return None
    holding = value.get("answerIsHolding") is True
    corrected = value.get("answerIsCorrection") is True
    when = (_day(value.get("dateAnswerCorrected")) or answered) if corrected else answered
    label = NOTE_CORRECTED_ANSWER if corrected else NOTE_HOLDING_ANSWER if holding else NOTE_ANSWER
    question = plain(value.get("questionText"))
    answer = plain(value.get("answerText"))
    note = " ".join(part for part in (f"Question: {question}" if question else "",
                                      f"Answer: {answer}" if answer else "") if part)
    uin = _text(value.get("uin"))
    tabled = _day(value.get("dateTabled"))
    page = f"{WEBSITE}/written-questions/detail/{tabled}/{quote_url(uin, safe='')}" if tabled and uin else None
    member = _member(value.get("correctingMember")) if corrected else ""
    return Item(WRITTEN_ANSWER, str(value["id"]),
                title=_text(value.get("heading")) or (f"Written question {uin}" if uin else "Written question"),
                url=page,
                date=when, note=_kept(note) or None, note_kind=label if note else None,
                by=member or _member(value.get("answeringMember")) or _text(value.get("answeringBodyName")) or None)


def statement_item(value: dict) -> Item | None:
    """A written statement as an item; None without the day it was made."""
    made = _day(value.get("dateMade"))
    if made is None:
        return None
    uin = _text(value.get("uin"))
    text = _kept(plain(value.get("text")))
    return Item(WRITTEN_STATEMENT, str(value["id"]),
                title=_text(value.get("title")) or (f"Written statement {uin}" if uin else "Written statement"),
                url=f"{WEBSITE}/written-statements/detail/{made}/{quote_url(uin, safe='')}" if uin else None,
                date=made, note=text or None, note_kind=NOTE_STATEMENT if text else None,
                by=_member(value.get("member"), _text(value.get("memberRole")))
                or _text(value.get("answeringBodyName")) or None)


def _member(value, role: str = "") -> str:
    """A member as the API expands it (``expandMember=true``: ``{"name": ...}``), with their
    role when given: "Vicky Ford (Parliamentary Under-Secretary of State)"; "" without a name."""
    name = _text(value.get("name")) if isinstance(value, dict) else ""
    return f"{name} ({role})" if name and role else name


def plain(value) -> str:
    """The API's HTML as plain text: tags dropped (never kept as markup), entities read,
    words kept apart at block edges, whitespace collapsed."""
    if not isinstance(value, str) or not value.strip():
        return ""
    return text_of_html(value) if "<" in value or "&" in value else collapse(value)


def _kept(text: str) -> str:
    if len(text) <= TEXT_LIMIT:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{shorten(text, TEXT_LIMIT)} [text {digest}]"


def _day(value) -> str | None:
    """An API time (``2024-01-10T00:00:00``, the UK day at midnight) as its day, ``2024-01-10``."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).date().isoformat()
    except ValueError:
        return None


def _text(value) -> str:
    return collapse(value) if isinstance(value, str) else ""


def describe_written(item: Item) -> str:
    """``'Special Educational Needs: Reviews' (holding answer, 10 Jan 2024)``."""
    text = quote(item.title or item.url or item.key)
    said: list[str] = []
    if item.note_kind in (NOTE_HOLDING_ANSWER, NOTE_CORRECTED_ANSWER):
        said.append(item.note_kind)
    if item.date:
        try:
            day = date.fromisoformat(item.date[:10])
            said.append(f"{day.day} {day:%b %Y}")
        except ValueError:
            pass
    return f"{text} ({', '.join(said)})" if said else text
