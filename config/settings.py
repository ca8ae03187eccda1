"""The settings schema: what a sendwatch.toml may say, with defaults.

Validation lives here (pydantic models); turning a validation failure into one clear
message that names the file, the source and the field lives in ``config.loader``.
Secrets never appear in these models: they are read from environment variables.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeGuard
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"6h"``, ``"1d"`` or ``"2w"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30, \"15m\", \"6h\" or \"1d\"")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    else:
        raise ValueError(f"{value!r} is not a duration such as 30, \"15m\", \"6h\" or \"1d\"")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]

SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def is_web_url(value: object) -> TypeGuard[str]:
    """An http:// or https:// URL with a host: the only kind sendwatch ever fetches."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:  # e.g. an unclosed "[" in an IPv6 host
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class _Strict(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class HostSettings(_Strict):
    """Limits for one host, overriding the per-host defaults of ``[fetch]``."""

    concurrency: int | None = Field(default=None, ge=1, le=100)
    delay: Duration | None = None


# GOV.UK asks API clients for no more than about 10 requests a second.
DEFAULT_HOSTS = {"www.gov.uk": HostSettings(concurrency=4, delay=0.1)}


class FetchSettings(_Strict):
    """How sendwatch talks to web servers. The defaults are polite to GOV.UK."""

    contact: str = Field(
        default="",
        description="An email address or URL put in the User-Agent so site operators can reach you.",
    )
    connect_timeout: Duration = 10.0
    read_timeout: Duration = 30.0
    total_timeout: Duration = 60.0
    max_bytes: int = Field(default=10_000_000, gt=0, description="Cap on the decompressed body.")
    max_redirects: int = Field(default=5, ge=0, le=30)
    per_host_concurrency: int = Field(default=2, ge=1, le=100)
    per_host_delay: Duration = Field(default=1.0, description="Minimum gap between requests to one host.")
    retries: int = Field(default=2, ge=0, le=10, description="Further reads of a source within one check after "
                         "a transient failure (408, 429, 5xx, a connection refused or cut short; not a timeout), "
                         "once every other source of the pass has been read.")
    backoff: Duration = Field(default=2.0, description="Least wait before the first further read; doubles each time.")
    max_retry_after: Duration = Field(
        default=120.0,
        description="Longest Retry-After sendwatch waits for within one check; longer fails the check.",
    )
    hosts: dict[str, HostSettings] = Field(default_factory=lambda: dict(DEFAULT_HOSTS))

    def limits_for(self, host: str) -> tuple[int, float]:
        """(concurrency, minimum delay) for requests to ``host``."""
        override = self.hosts.get(host.lower())
        concurrency = override.concurrency if override and override.concurrency else self.per_host_concurrency
        delay = override.delay if override and override.delay is not None else self.per_host_delay
        return concurrency, delay

    @model_validator(mode="after")
    def _timeouts_fit(self) -> FetchSettings:
        if self.total_timeout < self.connect_timeout:
            raise ValueError("total_timeout must be at least connect_timeout")
        return self


class SourceSettings(BaseModel):
    """One thing to watch. Kind-specific options are checked by the kind's own model."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    kind: str = "page"
    url: str
    interval: Duration = 6 * 3600.0
    commitments: tuple[str, ...] = ()
    enabled: bool = True
    # A page promised and not yet published: until it first appears, 404 and 410 mean
    # "not yet", and its appearance is a development for its commitments.
    expected: StrictBool = False

    @field_validator("expected")
    @classmethod
    def _expected_for_a_commitment(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("commitments"):
            raise ValueError("an expected page needs the commitments its appearance bears on: "
                             "add commitments = [\"...\"]")
        return value

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not SOURCE_ID.fullmatch(value):
            raise ValueError(
                "must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not is_web_url(value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @field_validator("interval")
    @classmethod
    def _sane_interval(cls, value: float) -> float:
        if value < 60:
            raise ValueError("must be at least 60 seconds; sendwatch does not hammer servers")
        return value

    @property
    def options(self) -> dict[str, Any]:
        """The kind-specific keys the user gave (everything not common to all kinds)."""
        return dict(self.model_extra or {})


class KnownDevelopment(_Strict):
    """Something that happened before sendwatch was watching, recorded from public facts."""

    date: date
    title: str
    url: str | None = None


class CommitmentSettings(_Strict):
    """A promise the government made, and what would count as keeping it."""

    id: str
    title: str
    promise: str = Field(description="What was promised, in the watchlist's own words.")
    made_in: str = Field(description="Where the promise was made (document, speech, answer).")
    made_on: date
    made_url: str | None = None
    expected_by: date | None = Field(default=None, description="When delivery was promised or is expected.")
    expected_note: str | None = Field(default=None, description="The promise's own words on timing.")
    phrases: tuple[str, ...] = Field(default=(), description="Words that would show a change bears on it.")
    documents: tuple[str, ...] = Field(default=(), description="Titles of documents that would deliver it.")
    status: Literal["delivered", "dropped"] | None = Field(
        default=None, description="'delivered' or 'dropped' when known from the record; other states are worked "
        "out by sendwatch.")
    status_note: str | None = None
    known: tuple[KnownDevelopment, ...] = ()

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not SOURCE_ID.fullmatch(value):
            raise ValueError("must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @model_validator(mode="after")
    def _can_be_matched(self) -> CommitmentSettings:
        if not self.phrases and not self.documents:
            raise ValueError(f"commitment {self.id!r} needs phrases or documents, or nothing can ever match it")
        return self


class LedgerSettings(_Strict):
    """How the commitments ledger behaves."""

    follow: bool = Field(default=True, description="Follow newly discovered documents that are developments.")
    reminder_every: Duration = Field(default=90 * 86400.0, description="Repeat an overdue event this often.")


class SmtpSettings(_Strict):
    """An SMTP server to send through. The password only ever comes from the environment."""

    host: str
    port: int | None = Field(default=None, ge=1, le=65535, description="Default: 587, or 465 with tls.")
    security: Literal["starttls", "tls", "none"] = Field(default="starttls",
                                                         description="starttls, tls (implicit) or none.")
    username: str | None = None
    password_env: str = Field(default="SENDWATCH_SMTP_PASSWORD",
                              description="The environment variable holding the password.")
    timeout: Duration = 30.0
    ca_file: Path | None = Field(default=None, description="Extra CA certificates to trust (PEM).")

    @property
    def effective_port(self) -> int:
        return self.port or (465 if self.security == "tls" else 587)


_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Weekday(StrEnum):
    """A day of the week, in lower case; read in any case ("Monday")."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @classmethod
    def _missing_(cls, value: object) -> Weekday | None:
        return next((day for day in cls if isinstance(value, str) and day.value == value.lower()), None)


WEEKDAYS: tuple[str, ...] = tuple(day.value for day in Weekday)  # Monday first, as date.weekday() counts


def _email_address(value: str) -> str:
    """An address as written, once email-validator (which knows the RFCs and the reserved
    names) accepts it; no DNS lookup: the mail server is the judge of deliverability."""
    from email_validator import EmailNotValidError, validate_email

    value = value.strip()
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not an email address: {exc}") from None
    return value


EmailAddress = Annotated[str, AfterValidator(_email_address)]


class OperatorSettings(_Strict):
    """Someone who runs sendwatch: told when a source breaks or recovers and when an email
    cannot be delivered; never sent developments unless also a recipient."""

    email: EmailAddress
    name: str = ""


class RecipientSettings(_Strict):
    """Someone who gets email: about which commitments, and how often."""

    email: EmailAddress
    name: str = ""
    commitments: tuple[str, ...] = Field(default=("all",), description='Commitment ids, or ["all"].')
    mode: Literal["each", "daily", "weekly"] = Field(
        default="each", description="each (one email per development), daily or weekly.")
    at: str = Field(default="08:00", description="When a digest goes out (HH:MM, in [email] timezone).")
    weekday: Weekday = Field(default=Weekday.MONDAY, description="The day of a weekly digest.")

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError(f"{value!r} is not a time such as \"08:00\"")
        return value

    def wants(self, commitment_id: str | None) -> bool:
        """Subscribed to this commitment? (None: mail about sendwatch itself, for everyone.)"""
        return commitment_id is None or "all" in self.commitments or commitment_id in self.commitments


# Seconds after which an email claimed by a sender that never finished is sent again
# (the outbox's lease): a sender's run must end well before it.
CLAIM_LEASE = 300.0


class EmailSettings(_Strict):
    """How notifications are sent. Without [email.smtp] they go to a local Maildir."""

    sender: str = Field(default="sendwatch <sendwatch@localhost>", alias="from")
    reply_to: str | None = None
    smtp: SmtpSettings | None = None
    maildir: Path = Field(default=Path("mail"), description="Used without SMTP; relative to data_dir.")
    dashboard_url: str | None = Field(default=None, description="Base of links to the dashboard in emails; "
                                      "default: [web] public_url, else http://127.0.0.1:8080.")
    timezone: str = "Europe/London"
    broken_after: int = Field(default=5, ge=1, description="Failed checks in a row that make a source broken.")
    retry_backoff: Duration = Field(default=60.0, description="First retry of a transient failure; doubles.")
    max_attempts: int = Field(default=10, ge=1, description="Transient failures before giving up.")
    suspend_after: int = Field(default=3, ge=1, description="Emails refused for good in a row (5xx) that "
                               "suspend a subscriber's address; the operators are told.")
    send_budget: Duration = Field(default=60.0, gt=0, description="Longest run of the outbox sender; what it "
                                  "has not tried by then waits for the next run.")

    @field_validator("send_budget")
    @classmethod
    def _within_the_lease(cls, value: float) -> float:
        # A run still sending after the lease would see another sender take its claims back
        # and send them again.
        if value >= CLAIM_LEASE:
            raise ValueError(f"{value:g} s is not below the {CLAIM_LEASE:g} s after which another sender "
                             "takes back an email still being sent; give it less (default 60s)")
        return value

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("sender", "reply_to")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        # A line break in a header would be refused by every send, and the notification
        # claimed again and again: refused here, once, instead.
        if value is not None and (bad := next((ch for ch in value if unicodedata.category(ch) == "Cc"), None)):
            raise ValueError(f"must be one line of text, but contains the control character {bad!r} "
                             f"(got {value!r})")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone such as 'Europe/London'") from None
        return value


class WebSettings(_Strict):
    """The read-only dashboard, feed and JSON API served by ``sendwatch serve``."""

    enabled: bool = True
    host: str = Field(default="127.0.0.1", description="Bound to this machine only, unless you say otherwise.")
    port: int = Field(default=8080, ge=0, le=65535, description="0 picks a free port (printed on start).")
    public_url: str | None = Field(default=None, description="The dashboard's address as readers reach it, "
                                   "for the links in feeds; default: the address it listens on.")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_web_url(value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL such as 'https://sendwatch.example.org'")
        parts = urlsplit(value)
        if parts.query or parts.fragment or value != value.strip():
            raise ValueError(f"{value!r} must be a plain base address, without spaces, '?' or '#'")
        return value.rstrip("/")


class ServiceSettings(_Strict):
    """How ``sendwatch serve`` schedules its work."""

    jitter: Duration = Field(default=300.0, description="Random spread added to each source's schedule.")
    outbox_every: Duration = Field(default=60.0, description="How often the outbox is drained.")
    ledger_every: Duration = Field(default=3600.0, description="How often overdue commitments are looked at.")
    stop_timeout: Duration = Field(default=20.0, description="Longest wait for checks in flight on shutdown.")
    retry_backoff: Duration = Field(default=300.0, gt=0, description="A source whose check failed is checked "
                                    "again this long after; doubles with each failure in a row, never longer than "
                                    "the source's interval.")


class ClusterSettings(_Strict):
    """How worker processes share the work through PostgreSQL (``sendwatch worker``,
    ``sendwatch serve --workers N``); unused on SQLite."""

    concurrency: int = Field(default=10, ge=1, le=100, description="Checks one worker process runs at once.")
    tick: Duration = Field(default=10.0, ge=1, le=60, description="How often the workers look for sources that are "
                           "due and for work a lost worker left (rounded down to a divisor of 60 s).")
    heartbeat: Duration = Field(default=10.0, gt=0, description="How often each worker says it is alive.")
    lost_after: Duration = Field(default=30.0, gt=0, description="A worker silent this long is lost: the job it "
                                 "was running is handed to another worker.")

    @model_validator(mode="after")
    def _heartbeat_within_lost_after(self) -> ClusterSettings:
        if self.heartbeat >= self.lost_after:
            raise ValueError(f"heartbeat ({self.heartbeat:g} s) must be shorter than lost_after "
                             f"({self.lost_after:g} s), or every worker would be taken for lost")
        return self


DEFAULT_DASHBOARD = "http://127.0.0.1:8080"


class Settings(_Strict):
    """The whole configuration, after defaults are applied."""

    data_dir: Path | None = None
    database_url: str | None = None
    retention: Duration | None = Field(
        default=None,
        description="Keep checks, changes and old snapshots this long; unset keeps everything.",
    )
    workers: int | None = Field(
        default=None, ge=0, le=256,
        description="Worker processes that parse and extract pages during a check, while the main process "
                    "fetches; unset: one per core; 0 or 1: all in the main process.",
    )
    fetch: FetchSettings = FetchSettings()
    ledger: LedgerSettings = LedgerSettings()
    email: EmailSettings = EmailSettings()
    web: WebSettings = WebSettings()
    service: ServiceSettings = ServiceSettings()
    cluster: ClusterSettings = ClusterSettings()
    recipients: tuple[RecipientSettings, ...] = ()
    operators: tuple[OperatorSettings, ...] = ()
    # Signs the links in emails (confirm, manage, unsubscribe) and the forms' CSRF tokens:
    # from SENDWATCH_SECRET_KEY only, never the file; None disables sign-up and links.
    secret_key: str | None = Field(default=None, exclude=True, repr=False)
    # The dashboard's operator password, as an Argon2 hash: from SENDWATCH_OPERATOR_PASSWORD_HASH
    # only (`sendwatch operator-password` makes one); None: no operator sign-in.
    operator_password_hash: str | None = Field(default=None, exclude=True, repr=False)
    # Who receives the commitments' email, as the record says (the config's recipients and
    # the subscribers kept in the database); None until read from it: then the config's.
    audience: tuple[RecipientSettings, ...] | None = Field(default=None, exclude=True)
    commitments: tuple[CommitmentSettings, ...] = ()
    sources: tuple[SourceSettings, ...] = ()

    # Where these settings came from, for messages; not a setting itself.
    origin: str = Field(default="<embedded defaults>", exclude=True)

    @model_validator(mode="after")
    def _unique_ids(self) -> Settings:
        for things, what in ((self.sources, "source"), (self.commitments, "commitment")):
            seen: set[str] = set()
            for thing in things:
                if thing.id in seen:
                    raise ValueError(f"{what} id {thing.id!r} is used twice")
                seen.add(thing.id)
        people: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("recipients", tuple(r.email for r in self.recipients)),
            ("operators", tuple(o.email for o in self.operators)))
        for table, addresses in people:
            first: dict[str, int] = {}
            for index, email in enumerate(addresses):
                address = email.casefold()  # mail servers treat A@x.org and a@x.org as one
                if address in first:
                    raise ValueError(f"{table[:-1]} {email!r} is listed twice ({table}[{first[address]}] "
                                     f"and {table}[{index}]): every email would go to it twice")
                first[address] = index
        return self

    @property
    def subscribers(self) -> tuple[RecipientSettings, ...]:
        """Who receives the commitments' email: the record's active subscribers once read
        (``monitor.app.subscribers.with_subscribers``), else the config's recipients."""
        return self.recipients if self.audience is None else self.audience

    @property
    def addresses(self) -> frozenset[str]:
        """Every address sendwatch may write to: subscribers' and operators'."""
        return frozenset(r.email for r in self.subscribers) | frozenset(o.email for o in self.operators)

    @property
    def database(self) -> str:
        """The database URL. ``load_settings`` always settles it (SENDWATCH_DATABASE_URL, else
        the file's, else a SQLite file in ``data_dir``); settings made otherwise must name one."""
        if self.database_url is None:
            raise ConfigError(f"{self.origin}: no database_url")
        return self.database_url

    @property
    def public_address(self) -> str | None:
        """The dashboard's address as the operator configured it (``[email] dashboard_url``
        or ``[web] public_url``); None when neither is set and links would point at the
        default, 127.0.0.1, which no subscriber can open."""
        return self.email.dashboard_url or self.web.public_url

    @property
    def signups_open(self) -> bool:
        """Sign-up on the web needs a key to sign its links and an address for them."""
        return bool(self.secret_key and self.public_address)

    @property
    def dashboard_url(self) -> str:
        """Where readers reach the dashboard: ``[email] dashboard_url``, else ``[web]
        public_url`` (one address set once serves emails and feeds), else the default."""
        return self.email.dashboard_url or self.web.public_url or DEFAULT_DASHBOARD

    def commitment(self, commitment_id: str) -> CommitmentSettings:
        for commitment in self.commitments:
            if commitment.id == commitment_id:
                return commitment
        raise KeyError(commitment_id)

    def source(self, source_id: str) -> SourceSettings:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)
