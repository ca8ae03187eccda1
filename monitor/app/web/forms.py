"""What every form of the dashboard needs: a CSRF check, and a limit on how often one
client may post.

CSRF: the page that shows a form sets a random cookie (HttpOnly, SameSite=Strict) and puts
an HMAC of it, keyed with ``SENDWATCH_SECRET_KEY``, in the form. A post is accepted only
when its field matches its cookie: another site can make a browser post, but can neither
read the cookie nor compute the field.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "sendwatch_csrf"
FIELD = "csrf_token"
MAX_FORM = 16 * 1024  # bytes: a sign-up form is a few hundred; nothing bigger is read


def _field(secret: str, cookie: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{cookie}".encode(), hashlib.sha256).hexdigest()


class Csrf:
    """The cookie a page sets and the field its forms carry."""

    def __init__(self, request: Request, secret: str) -> None:
        cookie = request.cookies.get(COOKIE, "")
        self.new = not (16 <= len(cookie) <= 64 and cookie.isascii())
        self.cookie = secrets.token_urlsafe(32) if self.new else cookie
        self.token = _field(secret, self.cookie)

    def set_on(self, response: Response, secure: bool) -> Response:
        if self.new:
            response.set_cookie(COOKIE, self.cookie, httponly=True, samesite="strict", secure=secure, path="/")
        return response


async def checked_form(request: Request, secret: str) -> FormData:
    """The posted form, once its CSRF field matches its cookie; 403 otherwise."""
    # A browser says how long a form is; a body without a length (chunked) could be any
    # size, and would be read before the CSRF check could refuse it.
    length = request.headers.get("content-length")
    if length is None:
        raise HTTPException(411, "A form must say how long it is (Content-Length).")
    if not length.isdigit() or int(length) > MAX_FORM:
        raise HTTPException(413, "That form is larger than any of this site's forms.")
    form = await request.form(max_files=0, max_fields=50, max_part_size=MAX_FORM)
    cookie = request.cookies.get(COOKIE, "")
    sent = form.get(FIELD)
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(sent, _field(secret, cookie)):
        raise HTTPException(403, "This form has expired or did not come from this site: load the page "
                                 "again and send it from there.")
    return form


class RateLimit:
    """At most ``limit`` events per ``window`` seconds for each key (a client's address)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        key = client_key(key)
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            if len(self._events) > 10_000:  # forget idle clients rather than grow without bound
                for idle in [k for k, v in self._events.items() if not v or now - v[-1] >= self.window]:
                    del self._events[idle]
            return True


def client_key(host: str) -> str:
    """Whom a limit counts: an IPv4 address, or an IPv6 network of 64 bits (one home or
    office is given a whole /64, so counting single IPv6 addresses would count nothing)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
