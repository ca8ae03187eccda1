"""Who is told about what: notification drafts for the outbox (pure).

Developments and overdue events go to the recipients subscribed to their commitment, one
email each or held for a digest. What is about sendwatch itself goes to its operators, and
to no recipient: a source's health (broken after N failed checks in a row, then
recovered), told once each way, and an email that could not be delivered.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.settings import WEEKDAYS, RecipientSettings, Settings, SourceSettings
from monitor.core.drafts import NotificationDraft


def for_commitment(settings: Settings, kind: str, commitment_id: str, **payload) -> tuple[NotificationDraft, ...]:
    return tuple(
        NotificationDraft(recipient=r.email, kind=kind, commitment_id=commitment_id, payload=payload or None,
                          held=r.mode != "each")
        for r in settings.subscribers if r.wants(commitment_id)
    )


def for_source_health(settings: Settings, source: SourceSettings, failures_before: int, failed: bool,
                      error: str | None = None) -> tuple[NotificationDraft, ...]:
    """A "broken" notice when this failure makes N in a row; a "recovered" notice on the
    first success after that. Nothing otherwise: one email each way, not one per failure."""
    threshold = settings.email.broken_after
    if failed and failures_before + 1 == threshold:
        kind, payload = "source-broken", {"failures": threshold, "error": error or ""}
    elif not failed and failures_before >= threshold:
        kind, payload = "source-recovered", {"failures": failures_before}
    else:
        return ()
    return tuple(NotificationDraft(recipient=o.email, kind=kind, source_id=source.id, payload=payload)
                 for o in settings.operators)


DELIVERY_FAILED = "delivery-failed"


def for_delivery_failure(settings: Settings, recipient: str, kind: str, error: str) -> tuple[NotificationDraft, ...]:
    """Tell the operators that an email (of ``kind``, to ``recipient``) was given up. Not
    for a notice of this kind itself (an operator's address that fails would otherwise make
    a notice about the notice, for ever), nor for a test email, whose sender sees the outcome,
    nor for a confirmation or a link asked for on the public pages, where anyone may type an
    address that bounces (a notice each would let strangers flood the operators)."""
    if kind in (DELIVERY_FAILED, "test", "confirm", "manage-link"):
        return ()
    payload = {"recipient": recipient, "kind": kind, "error": error}
    return tuple(NotificationDraft(recipient=o.email, kind=DELIVERY_FAILED, payload=payload)
                 for o in settings.operators)


def digest_slot(recipient: RecipientSettings, now: datetime, zone: str) -> datetime | None:
    """The latest scheduled digest time at or before ``now`` (None for "each" recipients)."""
    if recipient.mode == "each":
        return None
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    hour, minute = map(int, recipient.at.split(":"))
    slot_day = local.date()
    if recipient.mode == "weekly":
        slot_day -= timedelta(days=(local.weekday() - WEEKDAYS.index(recipient.weekday)) % 7)
    slot = datetime.combine(slot_day, time(hour, minute), tzinfo=tz)
    if slot > local:
        slot -= timedelta(days=7 if recipient.mode == "weekly" else 1)
    return slot


SUBSCRIBER_SUSPENDED = "subscriber-suspended"


def for_suspension(settings: Settings, address: str, refusals: int, error: str) -> tuple[NotificationDraft, ...]:
    """Tell the operators that a subscriber's address was suspended after ``refusals``
    permanent refusals in a row (the last one: ``error``)."""
    payload = {"recipient": address, "refusals": refusals, "error": error}
    return tuple(NotificationDraft(recipient=o.email, kind=SUBSCRIBER_SUSPENDED, payload=payload)
                 for o in settings.operators)
