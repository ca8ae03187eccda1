"""``sendwatch subscribers``: who receives the commitments' email, managed by an operator."""

from __future__ import annotations

import csv
import io
import json

import click
from pydantic import ValidationError

from config.loader import reason
from config.settings import WEEKDAYS, RecipientSettings
from monitor.app.cli.common import EXIT_OK, Group, Invocation, UsageError, pass_invocation
from monitor.core.instants import iso
from storage.subscribers import SubscriberError

FIELDS = ("email", "name", "commitments", "mode", "at", "weekday", "status", "origin", "failures", "created_at")


@click.group("subscribers", cls=Group,
             example="sendwatch subscribers list\nsendwatch subscribers add forum@example.org --mode weekly\n"
                     "sendwatch subscribers remove --forget forum@example.org")
def subscribers() -> None:
    """Who receives the commitments' email: list, add, remove, resume, export.

    The config file's [[recipient]] tables are subscribers too (origin "config"); change
    those in the file. The others live in the database.
    """


@subscribers.command("list", example="sendwatch subscribers list\nsendwatch subscribers list --json")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_invocation
def list_subscribers(run: Invocation, as_json: bool) -> int:
    """Every subscriber: address, commitments, how often, status, where it came from."""
    _settings, store = run.open()
    with store:
        rows = [_row(r) for r in store.subscribers.all()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no subscribers: add one with sendwatch subscribers add ADDRESS, or a [[recipient]] in the config")
        return EXIT_OK
    width = max(len(r["email"]) for r in rows)
    for r in rows:
        when = r["mode"] if r["mode"] == "each" else f"{r['mode']} at {r['at']}" + (
            f" on {r['weekday']}" if r["mode"] == "weekly" else "")
        status = r["status"] + (f" ({r['failures']} refused in a row)" if r["failures"] else "")
        print(f"{r['email']:<{width}}  {status:<9}  {r['origin']:<6}  {when:<28}  {', '.join(r['commitments'])}")
    return EXIT_OK


@subscribers.command("add", example="sendwatch subscribers add forum@example.org\n"
                                    "sendwatch subscribers add sendco@example.org --commitment code-of-practice "
                                    "--mode weekly --weekday friday --at 16:00")
@click.argument("email")
@click.option("--name", default="", help="how to address them")
@click.option("--commitment", "commitment_ids", multiple=True, metavar="ID",
              help="a commitment to hear about (repeat it; default: all)")
@click.option("--mode", type=click.Choice(["each", "daily", "weekly"]), default="each", show_default=True,
              help="one email per development, or a digest")
@click.option("--at", "at", default="08:00", show_default=True, help="when a digest goes out (HH:MM)")
@click.option("--weekday", type=click.Choice(WEEKDAYS), default="monday", show_default=True,
              help="the day of a weekly digest")
@pass_invocation
def add(run: Invocation, email: str, name: str, commitment_ids: tuple[str, ...], mode: str, at: str,
        weekday: str) -> int:
    """Subscribe EMAIL, active at once (an operator vouches for it: no confirmation email).

    An address already subscribed takes the new choices, and one suspended after refusals
    works again.
    """
    settings, store = run.open()
    with store:
        known = [c.id for c in settings.commitments]
        unknown = [c for c in commitment_ids if c != "all" and c not in known]
        if unknown:
            raise UsageError(f"unknown commitment {unknown[0]!r} (known: {', '.join(known)})")
        try:
            recipient = RecipientSettings(email=email, name=name, commitments=commitment_ids or ("all",), mode=mode,
                                          at=at, weekday=weekday)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise UsageError(f"{'.'.join(str(p) for p in error['loc']) or 'subscriber'}: {reason(error)}") from None
        try:
            record = store.subscribers.add(recipient)
        except SubscriberError as exc:
            raise UsageError(str(exc)) from None
    print(f"{record.email} subscribed ({mode}) to {', '.join(record.commitments)}")
    return EXIT_OK


@subscribers.command("remove", example="sendwatch subscribers remove forum@example.org\n"
                                       "sendwatch subscribers remove --forget forum@example.org")
@click.argument("email")
@click.option("--forget", is_flag=True, help="also erase every email ever written to the address")
@pass_invocation
def remove(run: Invocation, email: str, forget: bool) -> int:
    """Unsubscribe EMAIL at once: what is queued for it and not yet sent is cancelled.

    With --forget the record keeps nothing of the address: the emails sent to it go too
    (works on an address no longer subscribed as well).
    """
    _settings, store = run.open()
    with store:
        try:
            count = store.subscribers.remove(email, forget=forget)
        except SubscriberError as exc:
            raise UsageError(str(exc)) from None
    if forget:
        print(f"{email} forgotten: {count} email(s) to it erased")
    else:
        print(f"{email} unsubscribed: {count} queued email(s) cancelled")
    return EXIT_OK


@subscribers.command("resume", example="sendwatch subscribers resume forum@example.org")
@click.argument("email")
@pass_invocation
def resume(run: Invocation, email: str) -> int:
    """Send to a suspended address again (after its mailbox was fixed)."""
    _settings, store = run.open()
    with store:
        try:
            record = store.subscribers.resume(email)
        except SubscriberError as exc:
            raise UsageError(str(exc)) from None
    print(f"{record.email} is active again")
    return EXIT_OK


@subscribers.command("export", example="sendwatch subscribers export > subscribers.csv\n"
                                       "sendwatch subscribers export --format json")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@pass_invocation
def export(run: Invocation, fmt: str) -> int:
    """Every subscriber, as CSV (the default) or JSON, to standard output."""
    _settings, store = run.open()
    with store:
        rows = [_row(r) for r in store.subscribers.all()]
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "commitments": " ".join(row["commitments"])})
    print(out.getvalue(), end="")
    return EXIT_OK


def _row(record) -> dict:
    return {"email": record.email, "name": record.name, "commitments": list(record.commitments),
            "mode": record.mode, "at": record.at, "weekday": record.weekday, "status": record.status,
            "origin": record.origin, "failures": record.failures,
            "created_at": iso(record.created_at)}
