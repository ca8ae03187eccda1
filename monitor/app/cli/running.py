"""Commands that run sendwatch: ``init``, ``check``, ``notify``, ``serve``, ``status``,
``demo`` and ``kinds``."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from config import load_settings
from config.loader import DEFAULT_FILENAME, embedded_watchlist_text
from monitor.app.check import check_sources
from monitor.app.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    Group,
    Invocation,
    UsageError,
    command,
    pass_invocation,
    print_report,
    shown,
)
from monitor.app.outbox import send_due
from monitor.app.status import status_lines, status_report
from monitor.core.drafts import NotificationDraft
from monitor.sources import KINDS, READS
from storage import Store


@command("init", example="sendwatch init\nsendwatch --config /etc/sendwatch.toml init")
@pass_invocation
def init(run: Invocation) -> int:
    """Write a starter sendwatch.toml and create the database.

    The starter file is the shipped SEND watchlist, written to --config (default
    ./sendwatch.toml); a file already there is left as it is.
    """
    target = Path(run.config or DEFAULT_FILENAME)
    if target.exists():
        print(f"{target} exists; leaving it as it is.")
    else:
        target.write_text(embedded_watchlist_text(), encoding="utf-8")
        print(f"wrote {target}: the shipped SEND watchlist; edit it to suit you.")
    settings = load_settings(target, kinds=KINDS)
    with Store(settings.database) as store:
        store.sources.sync(settings.sources, READS)
    print(f"database ready: {settings.database}")
    print(f"{len(settings.sources)} sources configured. Next: sendwatch check")
    return EXIT_OK


@command("check", example="sendwatch check\nsendwatch check send-code-of-practice area-send-framework")
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@pass_invocation
def check(run: Invocation, sources: tuple[str, ...]) -> int:
    """Check sources once, print what changed and what failed, then exit.

    SOURCE: source ids (default: every enabled source, and the documents sendwatch
    follows). Changes, developments and the email that is due are recorded and sent as
    by the service; a failing source is reported, not fatal.
    """
    settings, store = run.open(sync=False)
    with store:
        known = {s.id for s in settings.sources} | {r.id for r in store.sources.followed()}
        unknown = [s for s in sources if s not in known]
        if unknown:
            raise UsageError(f"unknown source(s): {', '.join(unknown)} (see: sendwatch sources)")
        results = asyncio.run(check_sources(settings, store, sources or None))
        report = send_due(settings, store)
    width = max((len(r.source_id) for r in results), default=10)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
        detail = r.error if r.outcome == "failed" else (r.summary or "")
        ref = f" [change {r.change_id}]" if r.change_id else ""
        print(f"{r.outcome:<12} {r.source_id:<{width}}  {shown(detail)}{ref}".rstrip())
        if r.developments:
            print(f"{'':<12} {'':<{width}}  development for: {', '.join(r.developments)}")
        if r.possible:
            print(f"{'':<12} {'':<{width}}  possible development for: {', '.join(r.possible)} "
                  "(confirm or reject: sendwatch review)")
        if r.seen_again:
            print(f"{'':<12} {'':<{width}}  seen before: {r.seen_again} document(s) already recorded, "
                  "kept as further evidence (no new email)")
        for followed in r.followed:
            print(f"{'':<12} {'':<{width}}  now following: {followed}")
    print("checked {} source(s): {}".format(
        len(results), ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "nothing to do"))
    print_report(report)
    return EXIT_OK


@click.group("notify", cls=Group, example="sendwatch notify test\nsendwatch notify send")
def notify() -> None:
    """Email: send what is due in the outbox, or a test email to every recipient and operator."""


@notify.command("test", example="sendwatch notify test")
@pass_invocation
def notify_test(run: Invocation) -> int:
    """Send a test email to every recipient and operator and report each outcome.

    Exit status 1 when any of them was not sent.
    """
    settings, store = run.open()
    with store:
        # An address both recipient and operator is written to once.
        addresses = list(dict.fromkeys([r.email for r in settings.subscribers] + [o.email for o in settings.operators]))
        if not addresses:
            raise UsageError("no recipients configured: add a [[recipient]] or an [[operator]] to the config")
        ids = store.outbox.enqueue([NotificationDraft(recipient=a, kind="test") for a in addresses],
                                   datetime.now(UTC))
        report = send_due(settings, store)
    outcome = {i: "sent" for i, _r in report.sent}
    outcome |= {i: f"will retry: {e}" for i, _r, e in report.retrying}
    outcome |= {i: f"failed: {e}" for i, _r, e in report.failed}
    print(f"test email via {report.delivery}:")
    for notification_id, address in zip(ids, addresses, strict=True):
        print(f"  {address}: {outcome.get(notification_id, 'queued')}")
    return EXIT_OK if all(outcome.get(i) == "sent" for i in ids) else EXIT_ERROR


@notify.command("send", example="sendwatch notify send")
@pass_invocation
def notify_send(run: Invocation) -> int:
    """Send what is due in the outbox, and the digests that are due."""
    settings, store = run.open()
    with store:
        report = send_due(settings, store)
    print(f"outbox drained via {report.delivery}: {len(report.sent)} sent, {len(report.retrying)} to retry, "
          f"{len(report.failed)} failed, {report.digests} digest(s) made")
    print_report(report)
    return EXIT_OK


@command("serve", example="sendwatch serve\nsendwatch --config /etc/sendwatch.toml serve\n"
                          "sendwatch --config /etc/sendwatch.toml serve --workers 2", holds_signals=True)
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default=True, metavar="N",
              help="with PostgreSQL: N worker processes share the checks, the email and the ledger "
                   "(0: everything in this process)")
@pass_invocation
def serve(run: Invocation, workers: int) -> int:
    """Run as a service: scheduled checks, email, the dashboard on 127.0.0.1.

    Every source on its schedule, the outbox, digests and overdue reminders, and the
    dashboard. SIGHUP re-reads the config; SIGTERM or Ctrl-C stops it within
    [service] stop_timeout. Exit status 1 when another service already runs on the same
    data directory or database. With --workers N (PostgreSQL only) the work is done by N
    worker processes, which more machines can join with `sendwatch worker`.
    """
    from monitor.app.service import run_service  # the scheduler and web server load only here

    return run_service(run.config, verbose=run.verbose, workers=workers)


@command("worker", example="sendwatch --config /etc/sendwatch.toml worker\n"
                           "sendwatch --config /etc/sendwatch.toml worker --concurrency 20")
@click.option("--concurrency", type=click.IntRange(1, 100), metavar="N",
              help="checks this worker runs at once (default: [cluster] concurrency)")
@pass_invocation
def worker(run: Invocation, concurrency: int | None) -> int:
    """Join the workers that share the checks, the email and the ledger through PostgreSQL.

    Runs until SIGTERM or Ctrl-C (jobs in flight get [service] stop_timeout to finish).
    Any number of workers, on any machines, may share one database; a one-process
    `sendwatch serve` may not run beside them. SIGHUP re-reads the config.
    """
    from monitor.app.tasks import run_worker_process  # procrastinate loads only here

    return run_worker_process(run.config, concurrency=concurrency, verbose=run.verbose)


@command("status", example="sendwatch status\nsendwatch status --json")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_invocation
def status(run: Invocation, as_json: bool) -> int:
    """Is the service healthy: scheduler, database, sources, outbox.

    Reads the service's status file in the data directory, and the database. Exit
    status 0 when healthy, 1 when not.
    """
    report = status_report(run.settings())
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print("\n".join(status_lines(report)))
    return EXIT_OK if report["healthy"] else EXIT_ERROR


@command("demo", example="sendwatch demo\nsendwatch demo --no-wait --dir demo")
@click.option("--dir", "directory", metavar="DIR",
              help="where the demo keeps its files (default: a new temporary folder)")
@click.option("--no-wait", is_flag=True, help="exit when the demo has run instead of keeping the dashboard up")
def demo(directory: str | None, no_wait: bool) -> int:
    """See the whole system work offline in about a minute, on a bundled site.

    A small pretend GOV.UK on 127.0.0.1 changes over four steps while the real service
    watches it; the demo's own config and database are kept in DIR.
    """
    from monitor.app.demo import run_demo

    return run_demo(directory, wait=not no_wait)


@command("kinds", example="sendwatch kinds")
def kinds() -> int:
    """The kinds of source and their options."""
    for name, cls in KINDS.items():
        print(f"{name}\n{'-' * len(name)}\n{inspect.cleandoc(cls.__doc__ or '')}\n")
    return EXIT_OK


MIN_PASSWORD = 12


@command("operator-password", example="sendwatch operator-password")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (for scripts)")
def operator_password(password_stdin: bool) -> int:
    """Make the hash for SENDWATCH_OPERATOR_PASSWORD_HASH, the dashboard's operator password.

    Asks for the password twice (or reads one line with --password-stdin) and prints the
    line to put in the service's environment. The password itself is kept nowhere.
    """
    from argon2 import PasswordHasher

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Operator password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password needs at least {MIN_PASSWORD} characters")
    print(f"SENDWATCH_OPERATOR_PASSWORD_HASH='{PasswordHasher().hash(password)}'")
    return EXIT_OK
