"""The public subscription pages: sign up (double opt-in), confirm, manage or leave by the
link in every email, and ask for that link again.

Every answer about an address is the same whether sendwatch knows it or not ("if this
address can be subscribed, we have sent it an email"), so the pages tell nobody who
subscribes. Every form carries a CSRF token; sign-ups and link requests are limited per
client, and the record writes to one address at most once an hour unasked. Links come
from ``monitor.app.links``, built on the configured public address. The one-click POST
to an unsubscribe link (RFC 8058, sent by mail programs) needs no token: the signed link
is the proof.
"""

from __future__ import annotations

from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from config.settings import WEEKDAYS, RecipientSettings, Settings
from monitor.app import links
from monitor.app.web.forms import RateLimit, checked_form
from monitor.core.drafts import NotificationDraft
from storage.subscribers import CONFIG, CONFIRM, MANAGE_LINK, SubscriberError

MODES = (("each", "An email for each development"), ("daily", "A daily digest"), ("weekly", "A weekly digest"))
PAGE_MAIL = (CONFIRM, MANAGE_LINK)  # the emails these pages cause
DIGEST_HOURS = tuple(f"{hour:02d}:00" for hour in range(6, 22))
SENT = ("If this address can be subscribed, we have sent it an email. Follow the link in it to confirm: "
        "nothing is sent before that. It may take a few minutes; look in your spam folder too.")
LINK_SENT = ("If this address is subscribed, we have sent it an email with a link to change or stop its "
             "subscription. It may take a few minutes.")


class SubscriptionPages:
    """The handlers; ``web`` is the dashboard's ``_Web`` (its settings, store and pages)."""

    def __init__(self, web) -> None:
        self.web = web
        self.per_client = RateLimit(limit=10, window=3600)  # sign-ups and link requests per client an hour

    def routes(self) -> list[Route]:
        return [Route("/subscribe", self.subscribe, methods=["GET", "POST"]),
                Route("/confirm/{token}", self.confirm, methods=["GET", "POST"]),
                Route("/manage", self.ask_link, methods=["GET", "POST"]),
                Route("/manage/{token}", self.manage, methods=["GET", "POST"]),
                Route("/unsubscribe/{token}", self.unsubscribe, methods=["GET", "POST"])]

    # -- helpers ---------------------------------------------------------------------------

    def _page(self, request: Request, settings: Settings, name: str, *, status: int = 200, **context) -> Response:
        return self.web._render(request, name, settings, status=status, **context)

    def _notice(self, request: Request, settings: Settings, title: str, text: str, *, status: int = 200,
                **context) -> Response:
        return self._page(request, settings, "notice.html", status=status, title=title, text=text, **context)

    def _disabled(self, request: Request, settings: Settings, *, public: bool = False) -> Response | None:
        """The notice that subscriptions are not open, or None. A signed link needs the
        key; the pages that send a new one (``public``) need an address people can open."""
        if settings.secret_key and (settings.public_address or not public):
            return None
        why = ("has no key to sign its links with (SENDWATCH_SECRET_KEY)" if not settings.secret_key else
               "has no public address for the links it would email ([web] public_url)")
        return self._notice(request, settings, "Subscriptions are not open here",
                            f"This sendwatch {why}, so it cannot take subscriptions on the web. Ask whoever "
                            "runs it.")

    def _client(self, request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def _address(self, request: Request, settings: Settings, purpose: str) -> str:
        try:
            return links.read(settings, purpose, request.path_params["token"])
        except links.LinkError as exc:
            raise HTTPException(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None

    @staticmethod
    def _choices(form: FormData, settings: Settings, email: str) -> RecipientSettings:
        """What the form chose; anything not offered falls back to the default."""
        known = {c.id for c in settings.commitments}
        chosen = tuple(c for c in form.getlist("commitment") if isinstance(c, str) and c in known)
        commitments = chosen if form.get("scope") == "chosen" and chosen else ("all",)
        mode, at, weekday = form.get("mode"), form.get("at"), form.get("weekday")
        return RecipientSettings(email=email, commitments=commitments,
                                 mode=mode if mode in dict(MODES) else "each",
                                 at=at if at in DIGEST_HOURS else "08:00",
                                 weekday=weekday if weekday in WEEKDAYS else "monday")

    # -- sign-up ---------------------------------------------------------------------------

    async def subscribe(self, request: Request) -> Response:
        settings = self.web.get_settings()
        if (off := self._disabled(request, settings, public=True)) is not None:
            return off
        if request.method == "GET":
            return self._page(request, settings, "subscribe.html", section="subscribe", modes=MODES, error=None,
                              email="")
        form = await checked_form(request, settings.secret_key or "")
        email = str(form.get("email") or "").strip()
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            return self._page(request, settings, "subscribe.html", status=400, modes=MODES, email=email[:320],
                              error=f"Enter an email address like name@example.org ({exc}).")
        if not self.per_client.allow(self._client(request)):
            raise HTTPException(429, "Too many requests from your connection in the last hour: try again later.")
        recipient = self._choices(form, settings, email)
        choices = {"commitments": list(recipient.commitments), "mode": recipient.mode, "at": recipient.at,
                   "weekday": str(recipient.weekday)}
        await run_in_threadpool(self._sign_up, recipient, choices)
        return self._notice(request, settings, "Check your email", SENT)

    def _sign_up(self, recipient: RecipientSettings, choices: dict) -> None:
        store, now = self.web.store, datetime.now(UTC)
        mail = store.subscribers.sign_up(recipient, now)
        if mail is not None:
            kind, address = mail  # the address as the record holds it, not as typed
            store.outbox.enqueue([NotificationDraft(address, kind, payload=choices if kind == CONFIRM else None)],
                                 now)

    async def confirm(self, request: Request) -> Response:
        settings = self.web.get_settings()
        if (off := self._disabled(request, settings)) is not None:
            return off
        try:
            address, chosen = links.read_confirmation(settings, request.path_params["token"])
        except links.LinkError as exc:
            raise HTTPException(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
        if request.method == "GET":
            # A page with a button, not the confirmation itself: mail scanners follow links.
            return self._page(request, settings, "confirm.html", address=address)
        await checked_form(request, settings.secret_key or "")
        known = {c.id for c in settings.commitments}
        try:
            choices = RecipientSettings(
                email=address, commitments=tuple(c for c in chosen.get("commitments", ()) if c in known) or ("all",),
                mode=chosen.get("mode", "each"), at=chosen.get("at", "08:00"), weekday=chosen.get("weekday", "monday"))
        except ValidationError:
            raise HTTPException(400, "This link is not valid.") from None
        record = await run_in_threadpool(self.web.store.subscribers.confirm, address, datetime.now(UTC), choices)
        if record is None:
            raise HTTPException(400, "There is nothing to confirm for this link any more: subscribe again.")
        manage = links.url(settings, "manage", address)
        return self._notice(request, settings, "You are subscribed",
                            "sendwatch will email you about the commitments you chose. Every email has a link "
                            "to change that or to stop.", link=("Change your subscription", manage))

    # -- managing by link ------------------------------------------------------------------

    async def ask_link(self, request: Request) -> Response:
        settings = self.web.get_settings()
        if (off := self._disabled(request, settings, public=True)) is not None:
            return off
        if request.method == "GET":
            return self._page(request, settings, "ask_link.html", error=None, email="")
        form = await checked_form(request, settings.secret_key or "")
        email = str(form.get("email") or "").strip()
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            return self._page(request, settings, "ask_link.html", status=400, email=email[:320],
                              error=f"Enter an email address like name@example.org ({exc}).")
        if not self.per_client.allow(self._client(request)):
            raise HTTPException(429, "Too many requests from your connection in the last hour: try again later.")
        await run_in_threadpool(self._send_link, email)
        return self._notice(request, settings, "Check your email", LINK_SENT)

    def _send_link(self, email: str) -> None:
        store, now = self.web.store, datetime.now(UTC)
        if store.subscribers.request_link(email, now):
            record = store.subscribers.get(email)
            store.outbox.enqueue([NotificationDraft(record.email if record else email, MANAGE_LINK)], now)

    async def manage(self, request: Request) -> Response:
        settings = self.web.get_settings()
        if (off := self._disabled(request, settings)) is not None:
            return off
        address = self._address(request, settings, "manage")
        record = await run_in_threadpool(self.web.store.subscribers.get, address)
        if record is None or record.status not in ("active", "pending"):
            return self._notice(request, settings, "Not subscribed",
                                "This address is not subscribed (any more). You can subscribe again.",
                                link=("Subscribe", f"{settings.dashboard_url.rstrip('/')}/subscribe"))
        if request.method == "POST":
            form = await checked_form(request, settings.secret_key or "")
            if form.get("action") == "leave":
                await run_in_threadpool(self.web.store.subscribers.unsubscribe, address, datetime.now(UTC))
                return self._left(request, settings)
            recipient = self._choices(form, settings, record.email)
            try:
                record = await run_in_threadpool(self.web.store.subscribers.choose, address, recipient,
                                                 datetime.now(UTC))
            except SubscriberError as exc:
                raise HTTPException(400, f"{exc}.") from None
            return self._page(request, settings, "manage.html", record=record, modes=MODES, saved=True,
                              by_operator=False)
        return self._page(request, settings, "manage.html", record=record, modes=MODES, saved=False,
                          by_operator=record.origin == CONFIG)

    async def unsubscribe(self, request: Request) -> Response:
        settings = self.web.get_settings()
        if (off := self._disabled(request, settings)) is not None:
            return off
        address = self._address(request, settings, "unsubscribe")
        if request.method == "GET":
            return self._page(request, settings, "unsubscribe.html", address=address)
        # A POST from the page, or a mail program's one-click request (RFC 8058): the signed
        # link is the proof either way, so no CSRF token is asked for.
        await run_in_threadpool(self.web.store.subscribers.unsubscribe, address, datetime.now(UTC))
        return self._left(request, settings)

    def _left(self, request: Request, settings: Settings) -> Response:
        return self._notice(request, settings, "You are unsubscribed",
                            "sendwatch will send this address nothing more, including anything it had "
                            "queued. You can subscribe again at any time.",
                            link=("Subscribe again", f"{settings.dashboard_url.rstrip('/')}/subscribe"))


