"""Draining the outbox: digests made when due, emails sent, failures retried or recorded.

Delivery guarantee: a notification is claimed (status "sending", committed), delivered,
then marked "sent" (committed). A crash before the server accepts it leaves it claimed,
and after the lease it is sent again: nothing is lost. A crash after the server accepted
it but before "sent" was recorded sends it twice. That gap, one SMTP reply to one local
commit, is the one window no outbox can close without the server's help; it is kept to
that single commit.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from config.settings import CLAIM_LEASE, Settings
from monitor.app import links
from monitor.app.mail import BudgetSpent, PermanentMailError, TransientMailError, delivery_for
from monitor.app.subscribers import synced
from monitor.core.backoff import backoff
from monitor.core.errors import describe
from monitor.core.ledger import Mark
from monitor.core.notify import (
    DELIVERY_FAILED,
    SUBSCRIBER_SUSPENDED,
    digest_slot,
    for_delivery_failure,
    for_suspension,
)
from monitor.core.render import build_email, compose
from storage import Store
from storage.ledger import restated as restated_of
from storage.subscribers import CONFIRM, MANAGE_LINK, UNCONFIRMED_FOR

log = logging.getLogger("sendwatch.outbox")

LEASE = timedelta(seconds=CLAIM_LEASE)  # a claim older than this belonged to a sender that stopped


@dataclass
class SendReport:
    sent: list[tuple[int, str]] = field(default_factory=list)  # (notification id, recipient)
    retrying: list[tuple[int, str, str]] = field(default_factory=list)  # (id, recipient, error)
    failed: list[tuple[int, str, str]] = field(default_factory=list)
    digests: int = 0
    recovered: int = 0
    left: int = 0  # due, and not tried: the run's send_budget ran out first
    delivery: str = ""
    # The email being sent right now, as (id, queued at), for a service that must stop
    # before the run can end to put back (store.outbox.unclaim) rather than leave claimed.
    sending: tuple[int, datetime] | None = None


def queue_due_digests(settings: Settings, store: Store, now: datetime) -> int:
    """Turn held notifications into digests for recipients whose digest time has come."""
    made = 0
    modes = {r.email: r.mode for r in settings.subscribers}
    for address in store.outbox.held_recipients():
        # A recipient who switched to one email each, or left, would wait forever.
        if address not in modes:
            store.outbox.release_held(address, error="the recipient is no longer subscribed")
        elif modes[address] == "each":
            store.outbox.release_held(address)
    for recipient in settings.subscribers:
        slot = digest_slot(recipient, now, settings.email.timezone)
        if slot is None:
            continue
        held = [n for n in store.outbox.notifications(status="held", recipient=recipient.email) if n.created_at <= slot]
        if held and store.outbox.make_digest(recipient.email, now, held_before=slot) is not None:
            made += 1
    return made


# What operators are told about sendwatch itself; their footer says why, with no links.
OPERATOR_KINDS = frozenset({"source-broken", "source-recovered", DELIVERY_FAILED, SUBSCRIBER_SUSPENDED})
_MODES = {"each": "one email per development", "daily": "a daily digest", "weekly": "a weekly digest"}


def subscription(settings: Settings, notification) -> dict:
    """Why the reader gets this email, and their links (see ``render.compose``)."""
    address, kind = notification.recipient, notification.kind
    if kind in OPERATOR_KINDS:
        return {"why": f"You get this because {address} is an operator of this sendwatch "
                       "(an [[operator]] in its config file)."}
    if kind == "test":
        return {"why": "You get this because someone ran sendwatch notify test."}
    if kind == CONFIRM:
        return {"why": f"You get this because someone asked to subscribe {address} on "
                       f"{settings.dashboard_url.rstrip('/')}/subscribe.",
                "confirm": links.url(settings, "confirm", address, dict(notification.payload or {}))}
    who = next((r for r in settings.subscribers if r.email.casefold() == address.casefold()), None)
    if who is None:
        why = f"You get this because {address} is subscribed to sendwatch."
    else:
        what = "all the SEND commitments it follows" if "all" in who.commitments else \
            ", ".join(f"'{_title(settings, c)}'" for c in who.commitments)
        how = _MODES[who.mode] + (f" at {who.at}" if who.mode == "daily" else "") + (
            f" on {str(who.weekday).capitalize()}s at {who.at}" if who.mode == "weekly" else "")
        why = f"You get this because {address} is subscribed to {what} ({how})."
    found = links.links(settings, address)
    if found is None:
        return {"why": why + " To change or stop it, write to whoever runs this sendwatch."}
    return {"why": why, "manage": found.manage, "unsubscribe": found.unsubscribe}


def _still_asked(store: Store, notification) -> bool:
    """A confirmation or an asked-for link goes to an address that is not (yet) subscribed,
    but only while its row is still there to confirm or to manage: not after it was removed,
    forgotten or suspended."""
    if notification.kind not in (CONFIRM, MANAGE_LINK):
        return False
    record = store.subscribers.get(notification.recipient)
    if record is None:
        return False
    wanted = ("pending", "left") if notification.kind == CONFIRM else ("active",)
    return record.status in wanted


def _title(settings: Settings, commitment_id: str) -> str:
    try:
        return settings.commitment(commitment_id).title
    except KeyError:
        return commitment_id


def render(settings: Settings, store: Store, notification, now: datetime):
    marks = store.ledger.latest_marks()
    context = {**store.outbox.context(notification), "mark": _mark(marks, notification.commitment_id),
               "subscription": subscription(settings, notification), **_restated(store, notification)}
    change = store.history.change_detail(context["change"]) if context.get("change") is not None else None
    digest = None
    if notification.kind == "digest":
        digest = []
        for row in store.outbox.notifications(digest_id=notification.id):
            row_context = {**store.outbox.context(row), "mark": _mark(marks, row.commitment_id),
                           **_restated(store, row)}
            row_change = store.history.change_detail(row_context["change"]) if row_context.get("change") else None
            digest.append((row, row_context, row_change))
    message = compose(notification, context, settings, now, change, digest)
    return build_email(message, notification_id=notification.id, recipient=notification.recipient,
                       settings=settings, now=now)


def _restated(store: Store, notification) -> dict:
    """The commitment's restatements that count (its standing is shown with them), and what
    the development being told of said."""
    if not notification.commitment_id:
        return {}
    restated = store.ledger.restated(notification.commitment_id).get(notification.commitment_id, [])
    said = [restated_of(r) for r in store.ledger.restatements(development_id=notification.development_id)] \
        if notification.development_id is not None else []
    return {"restated": restated, "said": said}


def _mark(marks: dict, commitment_id: str | None) -> Mark | None:
    """A person's latest verdict on the commitment, which decides whether it can still be late."""
    record = marks.get(commitment_id) if commitment_id else None
    return Mark(record.state, record.note, record.marked_at) if record is not None else None


def send_due(settings: Settings, store: Store, *, now: datetime | None = None, delivery=None,
             lease: timedelta = LEASE, after_accept: Callable[[int], None] | None = None,
             budget: float | None = None, report: SendReport | None = None) -> SendReport:
    """Send what is due at ``now``, for at most ``budget`` seconds (default ``[email]
    send_budget``). Each notification is tried at most once in a run: one that fails is
    due again when its backoff has passed, which is a later run's business, so attempts
    follow the backoff schedule however long a run takes. What the run has no time for is
    left as it was, its attempts not counted. ``after_accept`` is called between the
    server's acceptance and the local record (tests use it to crash there)."""
    now = now or datetime.now(UTC)
    settings = synced(settings, store)  # who may be written to is what the record says now
    report = report if report is not None else SendReport()
    report.recovered = store.outbox.recover_interrupted(before=now - lease)
    store.subscribers.forget_unconfirmed(before=now - UNCONFIRMED_FOR)
    report.digests = queue_due_digests(settings, store, now)
    configured = settings.addresses
    delivery = delivery or delivery_for(settings.email)
    report.delivery = delivery.describe()
    email_settings = settings.email
    started = time.monotonic()
    deadline = started + (email_settings.send_budget if budget is None else budget)

    def current() -> datetime:
        # ``now`` moved on by the time this run has taken: each claim is stamped when it is
        # made, so a long run never outlives the lease of what it is still sending.
        return now + timedelta(seconds=time.monotonic() - started)

    def give_up(notification, error: str, refused: bool = False) -> None:
        # The operators hear of it in the same transaction (one notice per email given up).
        notify = for_delivery_failure(settings, notification.recipient, notification.kind, error)
        store.outbox.mark_failed(notification.id, error, notify=notify, at=current())
        report.failed.append((notification.id, notification.recipient, error))
        if refused and store.subscribers.bounced(notification.recipient, email_settings.suspend_after):
            log.warning("subscriber %s suspended after %s refusals in a row", notification.recipient,
                        email_settings.suspend_after)
            store.outbox.enqueue(for_suspension(settings, notification.recipient, email_settings.suspend_after,
                                                error), current())

    with delivery:
        # One notification per claim: a claim covers one delivery, not a whole batch.
        while time.monotonic() < deadline and (claimed := store.outbox.claim_due(current(), limit=1, due_by=now)):
            for notification in claimed:
                if notification.recipient not in configured and not _still_asked(store, notification):
                    # The operator took the address out: nothing to tell them.
                    error = "the recipient is no longer subscribed"
                    store.outbox.mark_failed(notification.id, error)
                    report.failed.append((notification.id, notification.recipient, error))
                    continue
                report.sending = (notification.id, notification.created_at)
                try:
                    message = render(settings, store, notification, now)
                    delivery.deliver(message, notification.recipient, deadline)
                except PermanentMailError as exc:
                    give_up(notification, str(exc), refused=True)
                    log.warning("notification %s to %s failed for good: %s", notification.id,
                                notification.recipient, exc)
                    continue
                except BudgetSpent:
                    # The run's time ran out mid-send: put it back as it was, attempt not counted.
                    # (Due since it was queued: it was due when claimed, whatever its schedule.)
                    store.outbox.unclaim(notification.id, notification.created_at)
                    break
                except TransientMailError as exc:
                    if notification.attempts >= email_settings.max_attempts:
                        give_up(notification, f"gave up after {notification.attempts} attempts: {exc}")
                        continue
                    wait = backoff(email_settings.retry_backoff, notification.attempts)
                    wait *= random.uniform(0.9, 1.1)
                    store.outbox.mark_retry(notification.id, str(exc), current() + timedelta(seconds=wait))
                    report.retrying.append((notification.id, notification.recipient, str(exc)))
                    log.info("notification %s to %s will be retried in %.0f s: %s", notification.id,
                             notification.recipient, wait, exc)
                    continue
                except Exception as exc:  # it cannot be written (a bug): it never will be, so say so
                    log.exception("notification %s to %s cannot be sent", notification.id, notification.recipient)
                    give_up(notification, f"cannot be written: {describe(exc)}")
                    continue
                if after_accept is not None:
                    after_accept(notification.id)
                store.outbox.mark_sent(notification.id, datetime.now(UTC))
                store.subscribers.delivered(notification.recipient)
                report.sent.append((notification.id, notification.recipient))
    report.sending = None
    if time.monotonic() >= deadline:
        report.left = sum(1 for n in store.outbox.notifications(status="pending") if n.next_attempt_at <= now)
        if report.left:
            log.warning("the outbox's send_budget ran out: %s email(s) wait for the next run", report.left)
    return report
