"""The web app: the ledger, developments, sources and their history, diffs, Atom feeds, a
JSON API and a health check, all read-only; and the public subscription pages
(``subscribe.py``), the only ones that write, each through a CSRF-checked form or a signed link.

Endpoints are plain (sync) functions because the Store is synchronous; Starlette runs them
in its thread pool. Page text is hostile input: it only
ever reaches a page through Jinja's autoescaping, a feed through ElementTree, and an href
through ``present.web_url``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from config.settings import DEFAULT_DASHBOARD, WEEKDAYS, CommitmentSettings, Settings
from monitor.app.check import ledger_standings
from monitor.app.crew import crew_status
from monitor.app.web import present
from monitor.app.web.atom import Entry, build_feed
from monitor.app.web.forms import Csrf
from monitor.app.web.operator import OperatorPages, signed_in
from monitor.app.web.subscribe import DIGEST_HOURS, PAGE_MAIL, SubscriptionPages
from monitor.core import diff
from monitor.core.document import item_kind
from monitor.core.drafts import POSSIBLE
from monitor.core.export import development_dict, standing_dict
from monitor.core.instants import iso
from monitor.core.ledger import day
from monitor.core.render import ago, site_name
from monitor.core.since import parse_since
from storage import Store

log = logging.getLogger("sendwatch.web")

PAGE_SIZE = 50  # developments per page
RECENT = 20  # developments on the dashboard
FEED_SIZE = 100  # entries per feed: readers keep what they have already seen
CHECKS_SHOWN = 50
MAX_ID = 2**63 - 1  # larger ids cannot be in the database, and would overflow its driver

# No scripts at all, styles only from our own static file; nothing may frame us, and our
# forms post only to us. 'base-uri' stops an injected <base> from redirecting relative links.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",  # frame-ancestors for browsers that predate it
}

NAV = (("/", "Commitments", "dashboard"), ("/developments", "Developments", "developments"),
       ("/sources", "Sources", "sources"), ("/subscribe", "Subscribe", "subscribe"))

def create_app(get_settings: Callable[[], Settings], store: Store,
               health: Callable[[], dict] | None = None) -> Starlette:
    """The web app over ``store``. ``get_settings`` is called per request, so a reloaded
    config shows at once; ``health`` adds the service's own state to ``/healthz``."""
    web = _Web(get_settings, store, health)
    routes = [
        Route("/", web.dashboard),
        Route("/commitments/{commitment_id}", web.commitment),
        Route("/commitments/{commitment_id}/feed.atom", web.commitment_feed),
        Route("/developments", web.developments),
        Route("/sources", web.sources),
        Route("/sources/{source_id}", web.source),
        Route("/changes/{change_id:int}", web.change),
        Route("/feed.atom", web.feed),
        Route("/api/commitments", web.api_commitments),
        Route("/api/commitments/{commitment_id}", web.api_commitment),
        Route("/api/developments", web.api_developments),
        Route("/api/restatements", web.api_restatements),
        Route("/api/sources", web.api_sources),
        Route("/api/changes", web.api_changes),
        Route("/api/changes/{change_id:int}", web.api_change),
        Route("/healthz", web.healthz),
        *SubscriptionPages(web).routes(),
        *OperatorPages(web).routes(),
        Mount("/static", StaticFiles(packages=[("monitor.app.web", "static")]), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(_Guard)],
                     exception_handlers={HTTPException: web.http_error})


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor.app.web", "templates"),
        autoescape=True,  # for every template, whatever its name: nothing stored is markup
        undefined=jinja2.StrictUndefined,  # a misspelt name fails loudly instead of showing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(web_url=present.web_url, seg=present.segment, long_date=present.long_date,
                       long_time=present.long_time, site_name=site_name)
    env.globals.update(ago=ago, nav=NAV, item_kind=item_kind, digest_hours=DIGEST_HOURS, weekdays=WEEKDAYS)
    return env


class _Web:
    def __init__(self, get_settings: Callable[[], Settings], store: Store,
                 health: Callable[[], dict] | None) -> None:
        self.get_settings = get_settings
        self.store = store
        self.health = health
        self.env = _environment()

    # -- helpers ---------------------------------------------------------------------------

    def _render(self, request: Request, name: str, settings: Settings, *, status: int = 200,
                section: str | None = None, **context) -> HTMLResponse:
        # Every page can carry a form (an operator's action, a sign-up): each gets the CSRF
        # token of its visitor's cookie, set here on a first visit.
        csrf = Csrf(request, settings.secret_key) if settings.secret_key else None
        html = self.env.get_template(name).render(
            request=request, settings=settings, tz=ZoneInfo(settings.email.timezone),
            root=request.scope.get("root_path", "").rstrip("/"), section=section,
            titles={c.id: c.title for c in settings.commitments}, csrf=csrf.token if csrf else "",
            operator=signed_in(request, settings),
            operator_enabled=bool(settings.secret_key and settings.operator_password_hash),
            done=request.query_params.get("done"), **context)
        response = HTMLResponse(html, status_code=status)
        if csrf is not None:
            csrf.set_on(response, secure=settings.dashboard_url.startswith("https://"))
        return response

    def _change_record(self, change_id: int):
        record = self.store.history.change(change_id) if change_id <= MAX_ID else None
        if record is None:
            raise HTTPException(404, f"There is no change {change_id}.")
        return record

    @staticmethod
    def _commitment(settings: Settings, commitment_id: str) -> CommitmentSettings:
        try:
            return settings.commitment(commitment_id)
        except KeyError:
            raise HTTPException(404, f"There is no commitment with the id {commitment_id!r}.") from None

    def http_error(self, request: Request, exc: Exception) -> Response:
        # Starlette's handler type takes any Exception; this one is registered for HTTPException only.
        if not isinstance(exc, HTTPException):
            raise exc
        # Machines get JSON; people get a page with the site's navigation to find their way.
        if request.url.path.startswith(("/api/", "/healthz")):
            return _json({"error": exc.detail}, exc.status_code, exc.headers)
        try:
            settings = self.get_settings()
        except Exception:  # the error page must not fail for want of settings
            settings = Settings()
        response = self._render(request, "error.html", settings, status=exc.status_code,
                                code=exc.status_code, detail=exc.detail)
        response.headers.update(exc.headers or {})
        return response

    # -- pages -----------------------------------------------------------------------------

    def dashboard(self, request: Request) -> Response:
        settings = self.get_settings()
        standings = ledger_standings(settings, self.store)
        developments = self.store.ledger.developments()
        latest: dict[str, object] = {}
        for d in developments:  # newest first, so the first seen is the latest
            latest.setdefault(d.commitment_id, d)
        sources = self.store.sources.all()
        # Not the emails the public pages cause (confirmations, links asked for): counting
        # them in public would tell a visitor whether the address they typed is subscribed.
        outbox = {status: sum(1 for n in self.store.outbox.notifications(status=status) if n.kind not in PAGE_MAIL)
                  for status in ("pending", "sending", "held", "failed")}
        return self._render(
            request, "dashboard.html", settings, section="dashboard", standings=standings, latest=latest,
            recent=developments[:RECENT], possible=self.store.ledger.developments(statuses=(POSSIBLE,)),
            sources=sources,
            failing=[s for s in sources if s.consecutive_failures],
            unchecked=[s for s in sources if s.last_checked_at is None], outbox=outbox,
            crew=self._crew(settings))

    def _crew(self, settings) -> dict | None:
        """The worker processes sharing the work on PostgreSQL, if any ever ran."""
        try:
            return crew_status(self.store.engine, settings.cluster.lost_after)
        except Exception:  # the queue's tables half there, say: the dashboard still shows the rest
            log.exception("cannot read the workers' queue")
            return None

    def commitment(self, request: Request) -> Response:
        settings = self.get_settings()
        commitment = self._commitment(settings, request.path_params["commitment_id"])
        position = next(p for p in ledger_standings(settings, self.store) if p.commitment.id == commitment.id)
        developments = self.store.ledger.developments(commitment_id=commitment.id)
        known = sorted(commitment.known, key=lambda k: k.date, reverse=True)
        zone = ZoneInfo(settings.email.timezone)
        # One timeline, newest first: what was found, and what ministers said of the date.
        timeline = sorted([("development", d.announced_at.astimezone(zone).date(), d.id, d) for d in developments]
                          + [("restatement", r.said_on, r.id, r) for r in
                             self.store.ledger.restatements(commitment_id=commitment.id, counted=True)],
                          key=lambda entry: (entry[1], entry[0] == "development", entry[2]), reverse=True)
        return self._render(request, "commitment.html", settings, p=position, c=commitment,
                            developments=developments, timeline=[(kind, record) for kind, _, _, record in timeline],
                            known=known)

    def developments(self, request: Request) -> Response:
        settings = self.get_settings()
        number = _page_number(request)
        page = present.paginate(self.store.ledger.developments(), number, PAGE_SIZE)
        if page is None:
            raise HTTPException(404, f"There is no page {number} of developments.")
        return self._render(request, "developments.html", settings,
                            section="developments" if number == 1 else None, page=page)

    def sources(self, request: Request) -> Response:
        settings = self.get_settings()
        records = self.store.sources.all(include_inactive=True)
        groups = [
            ("configured", "Sources in the configuration",
             [r for r in records if r.active and r.origin != "followed"]),
            ("followed", "Documents sendwatch follows by itself",
             [r for r in records if r.active and r.origin == "followed"]),
            ("inactive", "No longer configured (history kept)", [r for r in records if not r.active]),
        ]
        return self._render(request, "sources.html", settings, section="sources", groups=groups,
                            total=len(records))

    def source(self, request: Request) -> Response:
        settings = self.get_settings()
        source_id = request.path_params["source_id"]
        record = self.store.sources.get(source_id)
        if record is None:
            raise HTTPException(404, f"There is no source with the id {source_id!r}.")
        leading: dict[int, list] = {}  # snapshot id -> changes that led to it (content can go back)
        for change in self.store.history.changes(source_id=source_id):
            leading.setdefault(change.to_snapshot_id, []).append(change)
        followed_from = self.store.ledger.development(record.followed_from) if record.followed_from else None
        return self._render(request, "source.html", settings, s=record,
                            snapshots=list(reversed(self.store.history.snapshots(source_id))), leading=leading,
                            checks=self.store.history.checks(source_id, limit=CHECKS_SHOWN),
                            followed_from=followed_from)

    def change(self, request: Request) -> Response:
        settings = self.get_settings()
        record = self._change_record(request.path_params["change_id"])
        detail = self.store.history.change_detail(record)
        try:
            history = self.store.history
            old, new = history.document(record.from_snapshot_id), history.document(record.to_snapshot_id)
            hunks, whole = diff.hunks(old.blocks, new.blocks), True
        except KeyError:  # a snapshot was pruned: show the lines the change itself recorded
            hunks, whole = present.lines_of(detail.added_lines, detail.removed_lines), False
        return self._render(request, "change.html", settings, record=record, detail=detail, hunks=hunks,
                            whole=whole, source=self.store.sources.get(record.source_id),
                            developments=self.store.ledger.developments(change_id=record.id))

    # -- feeds -----------------------------------------------------------------------------

    def feed(self, request: Request) -> Response:
        settings = self.get_settings()
        base = _base(request, settings)
        return self._atom(request, settings, self.store.ledger.developments(), feed_id=_tag(settings, "feed"),
                          title="sendwatch: developments on the SEND commitments", page_url=f"{base}/",
                          self_url=f"{base}/feed.atom", restatements=self.store.ledger.restatements(counted=True))

    def commitment_feed(self, request: Request) -> Response:
        settings = self.get_settings()
        commitment = self._commitment(settings, request.path_params["commitment_id"])
        page = f"{_base(request, settings)}/commitments/{present.segment(commitment.id)}"
        return self._atom(request, settings, self.store.ledger.developments(commitment_id=commitment.id),
                          feed_id=_tag(settings, f"commitment/{commitment.id}"),
                          title=f"sendwatch: {commitment.title}", page_url=page, self_url=f"{page}/feed.atom",
                          subtitle=" ".join(commitment.promise.split()),
                          restatements=self.store.ledger.restatements(commitment_id=commitment.id, counted=True))

    def _atom(self, request: Request, settings: Settings, developments: list, *, feed_id: str, title: str,
              page_url: str, self_url: str, subtitle: str | None = None, restatements: Sequence = ()) -> Response:
        base, zone = _base(request, settings), ZoneInfo(settings.email.timezone)
        titles = {c.id: c.title for c in settings.commitments}
        entries = []
        for r in restatements:
            about = titles.get(r.commitment_id, r.commitment_id)
            gives = f"expected by {day(r.resolves_to)}" if r.resolves_to else "no date given"
            summary = (f"'{r.sentence}' Said {day(r.said_on)}" + (f" by {r.said_by}" if r.said_by else "")
                       + f"; read by the rule {r.rule} from '{r.words}'." + (f" Where: {r.url}" if r.url else ""))
            entries.append(Entry(id=_tag(settings, f"restatement/{r.id}"), title=f"{about}: restated, {gives}",
                                 updated=r.recorded_at, link=f"{base}/changes/{r.change_id}", summary=summary,
                                 category=r.commitment_id))
        for d in developments:
            link = f"{base}/changes/{d.change_id}"
            about = titles.get(d.commitment_id, d.commitment_id)
            why = "; ".join(f"{hit.get('where')} {hit.get('phrase')!r}" for hit in (d.evidence or [])[:3])
            summary = (f"{d.title}. Found on {d.source_id} on {present.long_time(d.detected_at, zone)}."
                       + (f" Why it bears on this commitment: {why}." if why else "")
                       + (f" The document: {d.url}" if d.url else ""))
            entries.append(Entry(id=_tag(settings, f"development/{d.id}"), title=f"{about}: {d.title}",
                                 updated=d.announced_at, link=link, summary=summary, category=d.commitment_id))
        # Newest first; a restatement recorded with its development comes after it.
        entries = sorted(entries, key=lambda e: (e.updated, "/development/" in e.id), reverse=True)[:FEED_SIZE]
        updated = entries[0].updated if entries else datetime(2000, 1, 1, tzinfo=UTC)
        body = build_feed(feed_id=feed_id, title=title, self_url=self_url, page_url=page_url, updated=updated,
                          entries=entries, subtitle=subtitle)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    # -- JSON API --------------------------------------------------------------------------

    def api_commitments(self, request: Request) -> Response:
        settings = self.get_settings()
        return _json([standing_dict(p) for p in ledger_standings(settings, self.store)])

    def api_commitment(self, request: Request) -> Response:
        settings = self.get_settings()
        commitment = self._commitment(settings, request.path_params["commitment_id"])
        position = next(p for p in ledger_standings(settings, self.store) if p.commitment.id == commitment.id)
        return _json({**standing_dict(position), "made_url": commitment.made_url,
                      "expected_note": commitment.expected_note,
                      "known": [{"date": k.date.isoformat(), "title": k.title, "url": k.url}
                                for k in commitment.known],
                      "developments": [_development(d) for d in
                                       self.store.ledger.developments(commitment_id=commitment.id)]})

    def api_restatements(self, request: Request) -> Response:
        since = _since(request)
        # As the developments: only those that count (not of a development only possible, or rejected).
        return _json([_restatement(r) for r in self.store.ledger.restatements(since=since, counted=True)])

    def api_developments(self, request: Request) -> Response:
        since = _since(request)
        return _json([_development(d) for d in self.store.ledger.developments(since=since)])

    def api_sources(self, request: Request) -> Response:
        return _json([_source(r) for r in self.store.sources.all(include_inactive=True)])

    def api_changes(self, request: Request) -> Response:
        since = _since(request)
        source_id = request.query_params.get("source") or None
        limit = request.query_params.get("limit")
        if limit is not None and (not _whole(limit) or int(limit) < 1):
            raise HTTPException(400, "limit must be a positive whole number")
        records = self.store.history.changes(since=since, source_id=source_id, limit=int(limit) if limit else None)
        return _json([_change(r) for r in records])

    def api_change(self, request: Request) -> Response:
        record = self._change_record(request.path_params["change_id"])
        return _json({**_change(record), "detail": self.store.history.change_detail(record).to_dict(),
                      "developments": [_development(d) for d in self.store.ledger.developments(change_id=record.id)]})

    # -- health ----------------------------------------------------------------------------

    def healthz(self, request: Request) -> Response:
        body: dict = {}
        failing = False
        if self.health is not None:
            try:
                body.update(self.health())
            except Exception as exc:  # a broken probe is itself a failure to report, not a 500
                body["scheduler"] = f"unknown: {_short(exc)}"
            # A service without a scheduler (web only) may say nothing about one.
            failing = "scheduler" in body and body["scheduler"] != "running"
        try:
            # Reading the sources proves the database answers and holds sendwatch's schema.
            sources = self.store.sources.all()
            database = "ok"
        except Exception as exc:
            sources, database, failing = [], _short(exc), True
        try:
            broken_after = self.get_settings().email.broken_after
        except Exception:
            broken_after = 1
        broken = [s.id for s in sources if s.consecutive_failures >= broken_after]
        status = "failing" if failing else ("degraded" if broken else "ok")
        body.update(status=status, database=database, broken_sources=broken)
        return _json(body, 503 if failing else 200, {"cache-control": "no-store"})


# -- small pure pieces ------------------------------------------------------------------------


def _base(request: Request, settings: Settings) -> str:
    """The absolute base of links that leave the page (feeds): ``[web] public_url``, else
    the address this server listens on. Never the request's Host header: any client may
    set it, and a feed reader or cache would pass the links it makes on to others."""
    if settings.web.public_url:
        return settings.web.public_url
    host, port = request.scope.get("server") or (settings.web.host, settings.web.port)
    host = f"[{host}]" if ":" in host else host
    authority = host if port in (None, 80) else f"{host}:{port}"
    return f"http://{authority}{request.scope.get('root_path', '')}".rstrip("/")


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    if not _whole(text):
        raise HTTPException(400, "page must be a whole number from 1")
    return int(text)


def _tag(settings: Settings, what: str) -> str:
    """A feed or entry id that stays the same whatever host name or port the dashboard
    is reached by (readers would otherwise show every entry again): a tag: URI (RFC 4151)
    named after the configured dashboard address."""
    from urllib.parse import quote, urlsplit

    # Not settings.dashboard_url: setting [web] public_url must not change every id.
    authority = urlsplit(settings.email.dashboard_url or DEFAULT_DASHBOARD).hostname or "sendwatch.invalid"
    return f"tag:{authority},2026:sendwatch/{quote(what)}"


def _whole(text: str) -> bool:
    # str.isdigit() also accepts "²" and other digits int() refuses; and nine digits is plenty.
    return text.isascii() and text.isdigit() and len(text) <= 9


def _since(request: Request) -> datetime | None:
    text = request.query_params.get("since")
    if not text:
        return None
    try:
        return parse_since(text, datetime.now(UTC))
    except ValueError as exc:
        raise HTTPException(400, f"since: {exc}") from None


def _short(exc: BaseException) -> str:
    # The driver's own message, without SQLAlchemy's statement dump and help link.
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _development(d) -> dict:
    return {**development_dict(d), "commitment_id": d.commitment_id, "item_key": d.item_key}


def _restatement(r) -> dict:
    """A restatement with all the record knows of it."""
    return {"id": r.id, "commitment_id": r.commitment_id, "said_on": r.said_on.isoformat(), "by": r.said_by,
            "url": r.url, "sentence": r.sentence, "words": r.words, "rule": r.rule,
            "resolves_to": r.resolves_to.isoformat() if r.resolves_to else None, "document_key": r.document_key,
            "development_id": r.development_id, "change_id": r.change_id, "source_id": r.source_id,
            "recorded_at": iso(r.recorded_at)}


def _source(r) -> dict:
    return {"id": r.id, "kind": r.kind, "url": r.url, "active": r.active, "origin": r.origin,
            "followed_from": r.followed_from, "last_checked_at": iso(r.last_checked_at),
            "last_success_at": iso(r.last_success_at), "last_changed_at": iso(r.last_changed_at),
            "consecutive_failures": r.consecutive_failures, "last_error": r.last_error}


def _change(r) -> dict:
    return {"id": r.id, "source_id": r.source_id, "detected_at": iso(r.detected_at), "summary": r.summary,
            "from_snapshot_id": r.from_snapshot_id, "to_snapshot_id": r.to_snapshot_id}


def _jsonable(value):
    if isinstance(value, date):
        return iso(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)  # health() may report anything; a string beats a 500


def _json(data, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, default=_jsonable, indent=1)
    # Page text in JSON stays inert even where JSON ends up inside HTML (a careless
    # consumer, a sniffing browser): the escapes decode to the same strings.
    body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Response(body + "\n", status_code=status, headers=headers, media_type="application/json")


_FAILED_PAGE = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} – sendwatch"
                "</title></head><body><main><h1>{title}</h1><p>{text}</p></main></body></html>")


class _Guard:
    """Security headers on every response (pages, feeds, API, static files, errors), and a
    plain error page instead of a traceback when something below fails.

    A pure ASGI middleware rather than an exception handler: Starlette sends unhandled
    errors from its outermost layer, which an ordinary middleware never sees.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_secured(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"").lower():
            # No id or query holds a NUL; PostgreSQL would refuse it as a database error
            # (a 503 "cannot reach its database" that monitors read as an outage).
            bad = _json({"error": "bad request: a NUL character in the address"}, 400) \
                if scope.get("path", "").startswith(("/api/", "/healthz")) else \
                HTMLResponse(_FAILED_PAGE.format(title="Bad request", text="The address holds a NUL character."),
                             status_code=400)
            await bad(scope, receive, send_secured)
            return

        try:
            await self.app(scope, receive, send_secured)
        except Exception as exc:
            if started:  # half a response is out; all we can do is drop the connection
                raise
            if isinstance(exc, SQLAlchemyError):
                log.error("database error on %s: %s", scope.get("path"), _short(exc))
                status, title = 503, "The record cannot be read just now"
                text = "sendwatch cannot reach its database. Please try again in a few minutes."
            else:
                log.exception("error on %s", scope.get("path"))
                status, title = 500, "Something went wrong"
                text = "sendwatch could not show this page. The error has been logged."
            if scope.get("path", "").startswith(("/api/", "/healthz")):
                response = _json({"error": title}, status)
            else:
                response = HTMLResponse(_FAILED_PAGE.format(title=title, text=text), status_code=status)
            await response(scope, receive, send_secured)
