"""The UK Parliament Committees API: a committee's publications."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from config.settings import SourceSettings
from monitor.core.diff import Change
from monitor.core.document import NOTE_PUBLICATION_INQUIRY, NOTE_PUBLICATION_TYPE, PUBLICATION, Document, Item
from monitor.core.errors import CheckFailed
from monitor.core.extract import collapse
from monitor.core.instants import iso
from monitor.sources.base import NoOptions, Reading, SourceKind, fold_option, query_values, without_query
from monitor.sources.feed import accumulate, quote, summarise_discovery
from monitor.sources.fetch import Fetcher, Validators

log = logging.getLogger(__name__)

JSON_ACCEPT = "application/json"
SORT_ORDER = "PublicationDateDescending"
WEBSITE = "https://committees.parliament.uk"
# The API gives times without an offset; they are the UK's wall-clock time (GMT or BST).
UK = ZoneInfo("Europe/London")


class ParliamentOptions(NoOptions):
    committee_id: int = Field(ge=1, description="The committee's id, e.g. 203 for the Education Committee.")
    publication_types: tuple[int | str, ...] = Field(
        default=(),
        description="Only these types: ids (1 is Report) or names as the API spells them "
                    "(\"Government Response\"), looked up at /api/PublicationType.",
    )
    search_term: str | None = Field(
        default=None, min_length=2,
        description="Only publications whose description, metadata or paper number match.",
    )
    take: int = Field(default=30, ge=1, le=100, description="How many of the newest publications to ask for.")

    @field_validator("publication_types")
    @classmethod
    def _no_blank_names(cls, value: tuple[int | str, ...]) -> tuple[int | str, ...]:
        for entry in value:
            if isinstance(entry, str) and not entry.strip():
                raise ValueError("a publication type cannot be blank")
        return value


class ParliamentCommitteeSource(SourceKind[ParliamentOptions]):
    """A UK Parliament committee's publications, from the Committees API.

    Asks ``GET {url}/api/Publications?CommitteeId=…&SortOrder=PublicationDateDescending&Take=…``
    for the committee's newest reports, government responses, correspondence and other
    papers. ``url`` is the API's base, ``https://committees-api.parliament.uk``; a
    ``/api/Publications?...`` URL copied from a browser is read into the options
    (``CommitteeId``, ``PublicationTypeIds``, ``SearchTerm``, ``Take``; ``SortOrder`` may
    only be ``PublicationDateDescending`` and ``Skip`` only 0), and one with another
    parameter, or a value that disagrees with the same option, is refused when the config
    loads. Options:

    - ``committee_id`` (required): the committee, e.g. ``203`` for the Commons Education
      Committee.
    - ``publication_types``: only these types, as ids (``1`` is Report, ``3``
      Correspondence) or names as the API spells them (``"Government Response"``); names
      are looked up at ``/api/PublicationType`` on each check, and a name the API does not
      know fails the check.
    - ``search_term``: only publications whose description, metadata or paper number
      match (2 characters or more).
    - ``take`` (default 30, at most 100): how many of the newest publications to ask for.

    ::

        [[source]]
        id = "education-committee-publications"
        kind = "parliament-committee"
        url = "https://committees-api.parliament.uk"
        committee_id = 203
        publication_types = ["Report", "Government Response"]
        search_term = "SEND"
        interval = "6h"
        commitments = ["send-review"]

    Each publication is kept with its description, type, the inquiry it belongs to (the
    API's ``businesses``: written evidence is titled by its author, so the inquiry is what
    says what it is about), publication time (a UTC instant; the API's UK times are
    converted) and a link to its first document on committees.parliament.uk.

    What counts as a change: a publication with a new id is a new publication; one whose
    description, type, date or document changes is an updated publication. Publications
    are kept from one check to the next, so one that falls off the first ``take``
    (or out of the filters) is not a removal, and their order never counts. The API
    answers 500 now and then: the check reads it again, and an error that persists (or a 4xx,
    such as 422 for a bad parameter) fails the check with the API's own message.
    """

    kind = "parliament-committee"
    # Publications are matched against every commitment; their files are final papers
    # (PDFs), so there is nothing to follow.
    discovers = True
    # 2: a publication's note names its inquiry too.
    reads = 2
    Options = ParliamentOptions
    needs_previous = True

    @classmethod
    def read_options(cls, settings: SourceSettings) -> ParliamentOptions:
        """A query string in the URL (``/api/Publications?CommitteeId=203``, as copied from a
        browser) is read into the options; a parameter with no option is refused."""
        options = dict(settings.options)
        for name, values in query_values(settings.url).items():
            written = "&".join(f"{name}={v}" for v in values)
            key = name.lower()  # the API (ASP.NET) reads its parameters in any case
            if key in ("committeeid", "take"):
                if len(values) != 1 or not values[0].strip().isdigit():
                    raise ValueError(f"{written} is not a number")
                fold_option(options, "committee_id" if key == "committeeid" else "take", int(values[0]), written)
            elif key == "publicationtypeids":
                if not all(v.strip().isdigit() for v in values):
                    raise ValueError(f"{written}: publication type ids are numbers")
                fold_option(options, "publication_types", [int(v) for v in values], written)
            elif key == "searchterm":
                if len(values) != 1:
                    raise ValueError(f"{written}: give one SearchTerm")
                fold_option(options, "search_term", values[0], written)
            elif key == "sortorder":
                if any(v.lower() != SORT_ORDER.lower() for v in values):
                    raise ValueError(f"{written}: sendwatch always asks for SortOrder={SORT_ORDER} (newest first), "
                                     "which is how it finds new publications; remove it")
            elif key == "skip":
                if any(v.strip() not in ("", "0") for v in values):
                    raise ValueError(f"{written}: sendwatch always reads the newest publications; remove it")
            else:
                raise ValueError(f"{written}: sendwatch cannot read this parameter; write the url as "
                                 f"{_base(without_query(settings.url))} and use the options committee_id, "
                                 "publication_types, search_term and take")
        return cls.Options.model_validate(options)

    @property
    def api(self) -> str:
        return _base(without_query(self.settings.url))

    async def read(self, fetcher: Fetcher, validators: Validators | None,
                   previous: Document | None = None) -> Reading:
        url = publications_url(self.api, self.options.committee_id, await self._type_ids(fetcher),
                               self.options.search_term, self.options.take)
        response = await fetcher.get(url, validators=validators, accept=JSON_ACCEPT)
        if response.not_modified:
            return Reading(None, response.url, response.status, 0, validators or response.validators)
        document = document_from_publications(response.json(), committee_id=self.options.committee_id,
                                              previous=previous)
        return Reading(document, response.url, response.status, len(response.body), response.validators)

    async def _type_ids(self, fetcher: Fetcher) -> list[int]:
        ids: set[int] = set()
        names: list[str] = []
        for entry in self.options.publication_types:
            if isinstance(entry, int):
                ids.add(entry)
            elif entry.strip().isdigit():
                ids.add(int(entry))
            else:
                names.append(entry)
        if names:
            response = await fetcher.get(f"{self.api}/api/PublicationType", accept=JSON_ACCEPT)
            ids.update(type_ids_by_name(response.json(), names))
        return sorted(ids)

    def summarise(self, change: Change) -> str:
        """E.g. ``1 new publication: Government Response 'Solving the SEND crisis: …' (11 Dec 2025)``."""
        return summarise_discovery(change, PUBLICATION, describe=describe_publication)


def _base(url: str) -> str:
    """The API's base from a URL written with or without the API path."""
    base = url.rstrip("/")
    for suffix in ("/api/publications", "/api"):
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def publications_url(api: str, committee_id: int, type_ids: list[int], search_term: str | None,
                     take: int) -> str:
    query: list[tuple[str, str | int]] = [
        ("CommitteeId", committee_id),
        # Newest first, so that the first page is where new publications appear.
        ("SortOrder", SORT_ORDER),
        ("Take", take),
    ]
    query += [("PublicationTypeIds", type_id) for type_id in type_ids]  # repeated, as ASP.NET binds lists
    if search_term:
        query.append(("SearchTerm", search_term))
    return f"{api}/api/Publications?{urlencode(query)}"


def type_ids_by_name(data, names: list[str]) -> set[int]:
    """The ids of publication types named ``names`` in a ``/api/PublicationType`` answer
    (singular or plural, any case). An unknown name fails the check, listing the known ones."""
    if not isinstance(data, list):
        raise CheckFailed("unexpected answer from the Committees API's /api/PublicationType: not a list")
    known: dict[str, int] = {}
    spelled: list[str] = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int):
            continue
        for field in ("name", "pluralVersion"):
            if isinstance(entry.get(field), str) and entry[field].strip():
                known.setdefault(collapse(entry[field]).casefold(), entry["id"])
        if isinstance(entry.get("name"), str):
            spelled.append(collapse(entry["name"]))
    unknown = [name for name in names if collapse(name).casefold() not in known]
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        raise CheckFailed(f"unknown publication type {listed}; the Committees API knows: "
                          f"{', '.join(sorted(spelled)) or 'none'}")
    return {known[collapse(name).casefold()] for name in names}


def document_from_publications(data, *, committee_id: int, previous: Document | None = None) -> Document:
    """The Document for a ``/api/Publications`` answer: its publications plus those
    ``previous`` held. Raises ``CheckFailed`` when the answer is not a publication list."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise CheckFailed("unexpected answer from the Committees API: no 'items' list of publications")
    items = []
    name = None
    for publication in data["items"]:
        item = publication_item(publication)
        if item is None:
            log.warning("skipping a publication without an id: %.200r", publication)
            continue
        items.append(item)
        committee = publication.get("committee")
        if name is None and isinstance(committee, dict) and committee.get("id") == committee_id:
            name = _text(committee.get("name")) or None
    if name:
        title = f"{name} publications"
    elif previous is not None and previous.title:
        title = previous.title  # an empty page says nothing about the committee's name
    else:
        title = f"Committee {committee_id} publications"
    return Document(title, (), accumulate(previous, items, PUBLICATION))


def publication_item(publication) -> Item | None:
    if not isinstance(publication, dict) or not isinstance(publication.get("id"), int):
        return None
    kind = publication.get("type") or {}
    type_name = _text(kind.get("name")) if isinstance(kind, dict) else ""
    note, note_kind = publication_note(type_name, publication.get("businesses"))
    return Item(
        PUBLICATION,
        str(publication["id"]),
        title=_text(publication.get("description")),
        url=publication_link(publication),
        date=uk_instant(publication.get("publicationStartDate")),
        note=note,
        note_kind=note_kind,
    )


def publication_note(type_name: str, businesses) -> tuple[str | None, str | None]:
    """What a publication is beyond its title: its type, and the inquiries (the API's
    committee businesses) it belongs to, e.g. ``Written evidence; inquiry 'Solving the SEND
    crisis'``."""
    titles = [_text(b.get("title")) for b in (businesses if isinstance(businesses, list) else ())
              if isinstance(b, dict)]
    inquiries = "; ".join(f"{_INQUIRY}'{title}'" for title in dict.fromkeys(t for t in titles if t))
    if not inquiries:
        return (type_name, NOTE_PUBLICATION_TYPE) if type_name else (None, None)
    return "; ".join(filter(None, (type_name, inquiries))), NOTE_PUBLICATION_INQUIRY


_INQUIRY = "inquiry "


def publication_link(publication: dict) -> str | None:
    """Its first document on committees.parliament.uk, else the extra link it gives."""
    documents = publication.get("documents")
    document_ids = [d["documentId"] for d in (documents if isinstance(documents, list) else ())
                    if isinstance(d, dict) and isinstance(d.get("documentId"), int)]
    if document_ids:
        # The lowest id, not the first listed: the main paper is uploaded first, and the
        # link must not flap if the API lists the documents in another order.
        return f"{WEBSITE}/publications/{publication['id']}/documents/{min(document_ids)}/default/"
    extra = publication.get("additionalContentUrl")
    return extra if isinstance(extra, str) and extra.startswith(("http://", "https://")) else None


def _text(value) -> str:
    # The API's JSON is read as it comes: a field of another type than documented is no text.
    return collapse(value) if isinstance(value, str) else ""


def uk_instant(value) -> str | None:
    """An API time (UK wall-clock time unless it carries an offset) as a UTC instant."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return value.strip()  # kept as given: still compares equal next time
    if when.tzinfo is None:
        when = when.replace(tzinfo=UK)
    return iso(when)


def describe_publication(item: Item) -> str:
    """``Government Response 'Title' (11 Dec 2025)``: type, title and the UK date."""
    text = quote(item.title or item.url or item.key)
    # The type only: the inquiry a publication belongs to is in its full note, not its summary.
    kind = item.note.split(f"; {_INQUIRY}")[0] if item.note else ""
    if kind.startswith(_INQUIRY):
        kind = ""
    if kind:
        text = f"{kind} {text}"
    if item.date:
        try:
            day = datetime.fromisoformat(item.date).astimezone(UK)
        except ValueError:
            return text
        text += f" ({day.day} {day:%b %Y})"
    return text
