"""Signed links for subscribers: confirm a sign-up, manage a subscription, unsubscribe.

A link carries its address, signed (HMAC, itsdangerous) with ``SENDWATCH_SECRET_KEY`` and
a salt per purpose, so a manage link cannot be used to confirm, nor the reverse. Rotating
the secret invalidates every link sent before. Links are built on the configured public
address (``[web] public_url``), never on the Host a request came with. Without a secret
there are no links: the public sign-up pages say so, and emails go without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from config.errors import SendwatchError
from config.settings import Settings
from storage.subscribers import address_of

CONFIRM_MAX_AGE = 48 * 3600  # a confirmation link expires; the others last as long as the secret
PURPOSES = ("confirm", "manage", "unsubscribe")


class LinkError(SendwatchError):
    """A link that cannot be used; ``str()`` says why, for the page that shows it."""


@dataclass(frozen=True)
class SubscriberLinks:
    manage: str
    unsubscribe: str


def _serializer(secret: str, purpose: str):
    # Imported here: every `sendwatch check` loads the outbox, and most never sign a link.
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(secret, salt=f"sendwatch-{purpose}")


def token(settings: Settings, purpose: str, address: str, choices: dict | None = None) -> str | None:
    """A signed link's token: the subscriber's address as the record knows it and, for a
    confirmation, the choices asked for (confirming applies those, never another request's)."""
    if not settings.secret_key:
        return None
    data: object = address_of(address) if choices is None else {"address": address_of(address), **choices}
    return str(_serializer(settings.secret_key, purpose).dumps(data))


def url(settings: Settings, purpose: str, address: str, choices: dict | None = None) -> str | None:
    signed = token(settings, purpose, address, choices)
    if signed is None:
        return None
    return f"{settings.dashboard_url.rstrip('/')}/{purpose}/{quote(signed, safe='')}"


def links(settings: Settings, address: str) -> SubscriberLinks | None:
    manage, unsubscribe = url(settings, "manage", address), url(settings, "unsubscribe", address)
    return SubscriberLinks(manage, unsubscribe) if manage and unsubscribe else None


def read(settings: Settings, purpose: str, signed: str) -> str:
    """The address a link of ``purpose`` is for; LinkError when it is not one (tampered,
    signed with another secret, for another purpose) or, for a confirmation, too old."""
    data = _read(settings, purpose, signed)
    if not isinstance(data, str):
        raise LinkError("this link is not valid")
    return data


def read_confirmation(settings: Settings, signed: str) -> tuple[str, dict]:
    """The address and the choices a confirmation link carries."""
    data = _read(settings, "confirm", signed)
    if not isinstance(data, dict) or not isinstance(data.get("address"), str):
        raise LinkError("this link is not valid")
    choices = {k: v for k, v in data.items() if k != "address"}
    return data["address"], choices


def _read(settings: Settings, purpose: str, signed: str) -> object:
    if not settings.secret_key:
        raise LinkError("links are not enabled on this sendwatch")
    from itsdangerous import BadSignature, SignatureExpired

    max_age = CONFIRM_MAX_AGE if purpose == "confirm" else None
    try:
        address = _serializer(settings.secret_key, purpose).loads(signed, max_age=max_age)
    except SignatureExpired:
        raise LinkError("this link has expired: subscribe again to get a new one") from None
    except BadSignature:
        raise LinkError("this link is not valid: it may be incomplete, or older than a change of the "
                        "site's key") from None
    return address
