"""The dashboard's actions, for a signed-in operator: mark a commitment delivered, dropped
or open; confirm or reject a possible development; check a source now.

Sign-in is one password, kept as an Argon2 hash in ``SENDWATCH_OPERATOR_PASSWORD_HASH``.
The session is a cookie signed with ``SENDWATCH_SECRET_KEY`` (HttpOnly, SameSite=Strict,
Secure on an https address) that lasts ``SESSION_HOURS``; rotating the secret signs
everyone out. Every action is a POST with the form's CSRF token; without a session it is
refused and changes nothing. The pages themselves stay public and read-only.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, TimestampSigner
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from config.settings import Settings
from monitor.app import review as decide
from monitor.app.subscribers import synced
from monitor.app.web.forms import RateLimit, checked_form
from monitor.core.drafts import CONFIRMED, REJECTED

COOKIE = "sendwatch_operator"
MAX_ID = 2**63 - 1  # larger ids cannot be in the database, and would overflow its driver
SESSION_HOURS = 12
_HASHER = PasswordHasher()


def _signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(settings.secret_key or "", salt="sendwatch-operator")


def _session_value(settings: Settings) -> bytes:
    """What a session cookie signs: a digest of the password hash, so that a new password
    (a new hash) signs every session out, as a new secret key does."""
    return b"operator:" + hashlib.sha256((settings.operator_password_hash or "").encode()).hexdigest()[:16].encode()


def signed_in(request: Request, settings: Settings) -> bool:
    """Does this request come from a signed-in operator?"""
    if not (settings.secret_key and settings.operator_password_hash):
        return False
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return False
    try:
        return hmac.compare_digest(_signer(settings).unsign(cookie, max_age=SESSION_HOURS * 3600),
                                   _session_value(settings))
    except BadSignature:  # tampered, expired, or signed with a key since rotated
        return False


class OperatorPages:
    def __init__(self, web) -> None:
        self.web = web
        self.attempts = RateLimit(limit=5, window=900)  # sign-in attempts per client per 15 minutes

    def routes(self) -> list[Route]:
        return [Route("/operator/sign-in", self.sign_in, methods=["GET", "POST"]),
                Route("/operator/sign-out", self.sign_out, methods=["POST"]),
                Route("/commitments/{commitment_id}/mark", self.mark, methods=["POST"]),
                Route("/developments/{development_id:int}/review", self.review, methods=["POST"]),
                Route("/sources/{source_id}/check", self.check, methods=["POST"])]

    def _enabled(self, settings: Settings) -> None:
        if not (settings.secret_key and settings.operator_password_hash):
            raise HTTPException(404, "Operator sign-in is not set up on this sendwatch "
                                     "(SENDWATCH_SECRET_KEY and SENDWATCH_OPERATOR_PASSWORD_HASH).")

    async def _action(self, request: Request) -> tuple[Settings, dict]:
        """The settings and the posted form of an operator's action; 403 without a session."""
        settings = self.web.get_settings()
        self._enabled(settings)
        form = await checked_form(request, settings.secret_key or "")
        if not signed_in(request, settings):
            raise HTTPException(403, "Only a signed-in operator can do that: sign in first.")
        return settings, {k: v for k, v in form.items() if isinstance(v, str)}

    def _back(self, request: Request, path: str, done: str) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(f"{root}{path}?done={done}", status_code=303)

    async def sign_in(self, request: Request) -> Response:
        settings = self.web.get_settings()
        self._enabled(settings)
        if request.method == "GET":
            return self.web._render(request, "sign_in.html", settings, error=None)
        form = await checked_form(request, settings.secret_key or "")
        client = request.client.host if request.client else "unknown"
        if not self.attempts.allow(client):
            raise HTTPException(429, "Too many sign-in attempts from your connection: wait 15 minutes.")
        password = form.get("password")
        try:
            ok = isinstance(password, str) and await run_in_threadpool(
                _HASHER.verify, settings.operator_password_hash or "", password)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            return self.web._render(request, "sign_in.html", settings, status=401,
                                    error="That password is not the operator's.")
        response = RedirectResponse(f"{request.scope.get('root_path', '').rstrip('/')}/", status_code=303)
        response.set_cookie(COOKIE, _signer(settings).sign(_session_value(settings)).decode(),
                            max_age=SESSION_HOURS * 3600,
                            httponly=True, samesite="strict", secure=settings.dashboard_url.startswith("https://"),
                            path="/")
        return response

    async def sign_out(self, request: Request) -> Response:
        settings = self.web.get_settings()
        self._enabled(settings)
        await checked_form(request, settings.secret_key or "")
        response = RedirectResponse(f"{request.scope.get('root_path', '').rstrip('/')}/", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def mark(self, request: Request) -> Response:
        settings, form = await self._action(request)
        commitment_id = request.path_params["commitment_id"]
        try:
            await run_in_threadpool(decide.mark, settings, self.web.store, commitment_id, form.get("state", ""),
                                    form.get("note", ""), datetime.now(UTC))
        except decide.DecisionError as exc:
            raise HTTPException(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
        return self._back(request, f"/commitments/{commitment_id}", "marked")

    async def review(self, request: Request) -> Response:
        settings, form = await self._action(request)
        verdict = {"confirm": CONFIRMED, "reject": REJECTED}.get(form.get("action", ""))
        if verdict is None:
            raise HTTPException(400, "Confirm or reject: nothing else.")
        development_id = request.path_params["development_id"]
        if development_id > MAX_ID:
            raise HTTPException(404, f"There is no development {development_id}.")
        # The confirmed development goes to whoever is subscribed now, sign-ups since the
        # service started included, as `sendwatch review` does.
        settings = await run_in_threadpool(synced, settings, self.web.store)
        try:
            await run_in_threadpool(decide.review, settings, self.web.store, verdict, [development_id],
                                    datetime.now(UTC))
        except decide.DecisionError as exc:
            raise HTTPException(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
        return self._back(request, "/", "confirmed" if verdict == CONFIRMED else "rejected")

    async def check(self, request: Request) -> Response:
        from monitor.app.check import check_sources

        settings, _form = await self._action(request)
        source_id = request.path_params["source_id"]
        if self.web.store.sources.get(source_id) is None:
            raise HTTPException(404, f"There is no source with the id {source_id!r}.")
        await check_sources(settings, self.web.store, [source_id])
        return self._back(request, f"/sources/{source_id}", "checked")
