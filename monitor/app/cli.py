"""The ``sendwatch`` command: a thin layer over the library (config, monitor, storage)."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from config import ConfigError, SendwatchError, Settings, load_settings, parse_duration
from config.loader import DEFAULT_FILENAME, embedded_watchlist_text
from monitor.app.check import check_sources, ledger_standings
from monitor.app.launch import release_signals
from monitor.app.outbox import send_due
from monitor.core.developments import POSSIBLE_FROM, judge
from monitor.core.diff import render_text
from monitor.core.document import without_controls
from monitor.core.drafts import CONFIRMED, DEVELOPMENT, POSSIBLE, REJECTED, NotificationDraft
from monitor.core.errors import one_line
from monitor.core.export import standing_dict, to_csv, to_json
from monitor.core.instants import iso
from monitor.core.ledger import DELIVERED, DROPPED, MARKS, OVERDUE, target
from monitor.core.match import THRESHOLD, Specificity, Subject, match
from monitor.core.notify import for_commitment
from monitor.core.since import parse_since
from monitor.sources import DISCOVERY_KINDS, KINDS, READS, make_source
from storage import DatabaseUnavailable, Store

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
# The largest count either database takes (LIMIT is a signed 64-bit integer), and the
# largest id a record can have (ids are Integer columns: 32 bits on PostgreSQL).
LARGEST = 2**63 - 1
LARGEST_ID = 2**31 - 1


class UsageError(SendwatchError):
    """Wrong arguments: the message is shown and sendwatch exits with status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a wrong argument said in one line (argparse prints the whole usage
    first, which buries the one line that matters)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see: {self.prog} --help)\n")


def _count(minimum: int):
    """An argparse type: a whole number from ``minimum`` up."""
    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, got {text!r}")
        if value > LARGEST:
            raise argparse.ArgumentTypeError(f"{text} is too large (at most {LARGEST})")
        return value
    return count


def _record_id(what: str):
    """An argparse type: the id of a recorded ``what`` (change, snapshot)."""
    def record_id(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what} id (a whole number)") from None
        if not 1 <= value <= LARGEST_ID:
            raise argparse.ArgumentTypeError(f"there is no {what} {text} ({what} ids run from 1 to {LARGEST_ID})")
        return value
    return record_id


def _shown(text: object) -> str:
    """Page-derived text made safe to print: a record written before page text was cleaned,
    or an error quoting a server, may hold escape sequences a terminal would obey."""
    return without_controls(str(text))


def _fmt_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def _open(args, *, sync: bool = True) -> tuple[Settings, Store]:
    """The settings and the store, with the configured sources made known (``check``
    leaves that to ``check_sources``, which does it anyway)."""
    settings = load_settings(args.config, kinds=KINDS)
    store = Store(settings.database_url)
    if sync:
        store.sources.sync(settings.sources, READS)
    return settings, store


def _parse_since(text: str) -> datetime:
    try:
        return parse_since(text, datetime.now(UTC))
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


# -- commands --------------------------------------------------------------------------------


def cmd_init(args) -> int:
    target = Path(args.config or DEFAULT_FILENAME)
    if target.exists():
        print(f"{target} exists; leaving it as it is.")
    else:
        target.write_text(embedded_watchlist_text(), encoding="utf-8")
        print(f"wrote {target}: the shipped SEND watchlist; edit it to suit you.")
    settings = load_settings(target, kinds=KINDS)
    with Store(settings.database_url) as store:
        store.sources.sync(settings.sources, READS)
    print(f"database ready: {settings.database_url}")
    print(f"{len(settings.sources)} sources configured. Next: sendwatch check")
    return EXIT_OK


def cmd_check(args) -> int:
    settings, store = _open(args, sync=False)
    with store:
        known = {s.id for s in settings.sources} | {r.id for r in store.sources.followed()}
        unknown = [s for s in args.sources if s not in known]
        if unknown:
            raise UsageError(f"unknown source(s): {', '.join(unknown)} (see: sendwatch sources)")
        results = asyncio.run(check_sources(settings, store, args.sources or None))
        report = send_due(settings, store)
    width = max((len(r.source_id) for r in results), default=10)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
        detail = r.error if r.outcome == "failed" else (r.summary or "")
        ref = f" [change {r.change_id}]" if r.change_id else ""
        print(f"{r.outcome:<12} {r.source_id:<{width}}  {_shown(detail)}{ref}".rstrip())
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
    _print_report(report)
    return EXIT_OK


def _print_report(report) -> None:
    if report.sent or report.retrying or report.failed or report.left:
        print(f"email via {report.delivery}: {len(report.sent)} sent, {len(report.retrying)} to retry, "
              f"{len(report.failed)} failed" + (f", {report.left} left for the next run (send_budget ran out)"
                                                 if report.left else ""))
    for _id, recipient, error in report.failed:
        print(f"  failed for good: {recipient}: {error}")
    for _id, recipient, error in report.retrying:
        print(f"  will retry: {recipient}: {error}")


def cmd_notify(args) -> int:
    settings, store = _open(args)
    with store:
        if args.action == "test":
            if not settings.recipients:
                raise UsageError("no recipients configured: add a [[recipient]] to the config")
            ids = store.outbox.enqueue([NotificationDraft(recipient=r.email, kind="test") for r in settings.recipients],
                                       datetime.now(UTC))
            report = send_due(settings, store)
            outcome = {i: "sent" for i, _r in report.sent}
            outcome |= {i: f"will retry: {e}" for i, _r, e in report.retrying}
            outcome |= {i: f"failed: {e}" for i, _r, e in report.failed}
            print(f"test email via {report.delivery}:")
            for notification_id, recipient in zip(ids, settings.recipients, strict=True):
                print(f"  {recipient.email}: {outcome.get(notification_id, 'queued')}")
            return EXIT_OK if all(outcome.get(i) == "sent" for i in ids) else EXIT_ERROR
        report = send_due(settings, store)
        print(f"outbox drained via {report.delivery}: {len(report.sent)} sent, {len(report.retrying)} to retry, "
              f"{len(report.failed)} failed, {report.digests} digest(s) made")
        _print_report(report)
    return EXIT_OK


def cmd_kinds(args) -> int:
    for name, cls in KINDS.items():
        print(f"{name}\n{'-' * len(name)}\n{inspect.cleandoc(cls.__doc__ or '')}\n")
    return EXIT_OK


def cmd_sources(args) -> int:
    settings, store = _open(args)
    with store:
        records = store.sources.all(include_inactive=args.all)
        failures = store.outbox.notifications(status="failed")
    if args.json:
        print(json.dumps([_source_json(r) for r in records], indent=2))
        return EXIT_OK
    configured = [r for r in records if r.origin != "followed"]
    followed = [r for r in records if r.origin == "followed"]
    for r in configured:
        _print_source(r)
    if failures:
        print(f"\nemail that could not be delivered ({len(failures)}):")
        for n in failures[-10:]:
            print(f"  {_fmt_time(n.created_at)}  {n.recipient}  {n.kind}: {n.last_error}")
    if followed:
        print(f"\nfollowed by sendwatch ({len(followed)}): documents discovered as developments"
              + ("" if settings.ledger.follow else "; following is switched off, so they are not checked"))
        for r in followed:
            _print_source(r)
    return EXIT_OK


def _print_source(r) -> None:
    state = "ok" if not r.consecutive_failures else f"{r.consecutive_failures} failure(s) in a row"
    flag = "" if r.active else " (no longer configured)"
    print(f"{r.id}{flag}  [{r.kind}] {_shown(r.url)}")
    print(f"    last check: {_fmt_time(r.last_checked_at)}   last change: {_fmt_time(r.last_changed_at)}"
          f"   {state}")
    if r.origin == "followed" and r.followed_from:
        print(f"    followed since development {r.followed_from}")
    if r.last_error:
        print(f"    last error: {_shown(r.last_error)}")


def _source_json(r) -> dict:
    return {"id": r.id, "kind": r.kind, "url": r.url, "active": r.active, "origin": r.origin,
            "followed_from": r.followed_from,
            "last_checked_at": iso(r.last_checked_at), "last_changed_at": iso(r.last_changed_at),
            "consecutive_failures": r.consecutive_failures, "last_error": r.last_error}


def cmd_history(args) -> int:
    settings, store = _open(args)
    with store:
        if store.sources.get(args.source) is None:
            raise UsageError(f"unknown source: {args.source}")
        snapshots = store.history.snapshots(args.source)
        by_target = {c.to_snapshot_id: c for c in reversed(store.history.changes(source_id=args.source))}
        if not snapshots:
            print(f"{args.source}: no snapshot yet (run: sendwatch check {args.source})")
        for snap in snapshots:
            change = by_target.get(snap.id)
            how = f"change {change.id}: {_shown(change.summary)}" if change else "first snapshot"
            print(f"snapshot {snap.id}  first seen {_fmt_time(snap.first_seen_at)}  "
                  f"last seen {_fmt_time(snap.last_seen_at)}  {snap.size:,} bytes")
            print(f"    {how}")
        if args.checks:
            print("\nrecent checks:")
            for c in store.history.checks(args.source, limit=args.checks):
                detail = c.error or (f"HTTP {c.http_status}" if c.http_status else "")
                print(f"  {_fmt_time(c.started_at)}  {c.outcome:<12} {c.duration_ms:>6} ms  {_shown(detail)}")
    return EXIT_OK


def cmd_diff(args) -> int:
    settings, store = _open(args)
    with store:
        if store.sources.get(args.source) is None:
            raise UsageError(f"unknown source: {args.source}")
        if (args.from_id is None) != (args.to_id is None):
            raise UsageError("give both --from and --to, or neither (for the latest change)")
        if args.from_id is None:
            latest = store.history.changes(source_id=args.source, limit=1)
            if not latest:
                print(f"{args.source}: no change recorded yet")
                return EXIT_OK
            from_id, to_id = latest[0].from_snapshot_id, latest[0].to_snapshot_id
        else:
            from_id, to_id = args.from_id, args.to_id
        for snapshot_id in (from_id, to_id):
            snap = store.history.snapshot(snapshot_id)
            if snap is None or snap.source_id != args.source:
                raise UsageError(f"snapshot {snapshot_id} is not a snapshot of {args.source} "
                                 f"(see: sendwatch history {args.source})")
        old, new = store.history.document(from_id), store.history.document(to_id)
    print(f"{args.source}: snapshot {from_id} -> {to_id}")
    print(_shown(render_text(old, new)))
    return EXIT_OK


def cmd_changes(args) -> int:
    settings, store = _open(args)
    since = _parse_since(args.since) if args.since else None
    with store:
        records = store.history.changes(since=since, source_id=args.source, limit=args.limit)
        if args.json:
            out = []
            for r in records:
                detail = store.history.change_detail(r)
                out.append({"id": r.id, "source": r.source_id, "detected_at": iso(r.detected_at),
                            "summary": r.summary, "from_snapshot": r.from_snapshot_id,
                            "to_snapshot": r.to_snapshot_id, **detail.to_dict()})
            print(json.dumps(out, indent=2, ensure_ascii=False))
            return EXIT_OK
    if not records:
        print("no changes" + (f" since {_fmt_time(since)}" if since else ""))
    for r in records:
        print(f"{r.id:>5}  {_fmt_time(r.detected_at)}  {r.source_id}: {_shown(r.summary)}")
    return EXIT_OK


def cmd_prune(args) -> int:
    settings, store = _open(args)
    try:
        keep = parse_duration(args.older_than) if args.older_than else settings.retention
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}") from None
    if keep is None:
        raise UsageError("nothing to prune: no retention is set (the default keeps everything). "
                         "Use --older-than 365d or set retention in the config.")
    before = datetime.now(UTC) - timedelta(seconds=keep)
    with store:
        result = store.history.prune(before)
    print(f"pruned history before {_fmt_time(before)}: {result.checks} checks, {result.changes} changes, "
          f"{result.snapshots} snapshots (current snapshots are always kept)")
    return EXIT_OK


def cmd_commitments(args) -> int:
    settings, store = _open(args)
    if args.action == "mark":
        return _mark(args, settings, store)
    with store:
        standings = ledger_standings(settings, store)
    if args.json:
        print(json.dumps([standing_dict(p) for p in standings], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not standings:
        print("no commitments configured")
    for p in standings:
        c = p.commitment
        years = p.days_since_promise / 365.25
        state = f"{p.state}; {p.lateness}" if p.lateness else p.state
        print(f"{c.id}  [{state}]  {c.title}")
        print(f"    promised {c.made_on:%d %b %Y} ({years:.1f} years ago) in {c.made_in}")
        if c.expected_by:
            late = f", {p.days_overdue} days overdue" if p.state == OVERDUE else ""
            said = f" ({c.expected_note})" if c.expected_note else ""
            print(f"    expected by {c.expected_by:%d %b %Y}{said}{late}")
        if p.note:
            print(f"    {p.state}: {p.note}")
        if p.last:
            link = f" <{p.last.url}>" if p.last.url else ""
            known = "" if p.last.recorded else " (known before sendwatch watched)"
            print(f"    last development {p.last.on:%d %b %Y}: {_shown(p.last.title)}{_shown(link)}{known}")
    return EXIT_OK


def _mark(args, settings, store) -> int:
    with store:
        if args.id is None or args.state is None:
            raise UsageError('usage: sendwatch commitments mark ID delivered|dropped|open --note "..."')
        try:
            settings.commitment(args.id)
        except KeyError:
            raise UsageError(f"unknown commitment: {args.id} (see: sendwatch commitments)") from None
        if args.state not in MARKS:
            raise UsageError(f"state must be one of: {', '.join(MARKS)}")
        if args.state in (DELIVERED, DROPPED) and not (args.note or "").strip():
            raise UsageError(f"say why with --note when marking a commitment {args.state}")
        store.ledger.mark(args.id, args.state, (args.note or "").strip(), datetime.now(UTC))
    print(f"{args.id} marked {args.state}")
    return EXIT_OK


def cmd_explain(args) -> int:
    settings, store = _open(args)
    with store:
        record = store.history.change(args.change)
        if record is None:
            raise UsageError(f"no change {args.change} (see: sendwatch changes)")
        change = store.history.change_detail(record)
        developments = store.ledger.developments(change_id=record.id, statuses=None)
        sightings = [(s, store.ledger.development(s.development_id))
                     for s in store.ledger.sightings(change_id=record.id)]
        rejections = store.ledger.rejections()
        source_record = store.sources.get(record.source_id)
        discovered = store.history.discovered_texts(DISCOVERY_KINDS)
    print(f"change {record.id} of {record.source_id} at {_fmt_time(record.detected_at)}: {_shown(record.summary)}")
    targets = [target(c) for c in settings.commitments]
    specificity = Specificity.of(targets, discovered)
    try:
        source_settings = settings.source(record.source_id)
    except KeyError:
        source_settings = None
    bound = source_settings.commitments if source_settings else tuple(source_record.settings.get("commitments", ()))
    discovers = make_source(source_settings).discovers if source_settings else False
    if developments:
        print("\nrecorded developments:")
        for d in developments:
            status = "" if d.status == DEVELOPMENT else f" [{d.status}]"
            print(f"  {d.commitment_id}: {_shown(d.title)} (score {d.score:.2f}){status}")
    else:
        print("\nno development was recorded for this change")
    if sightings:
        print("\nseen before (further evidence, no new development or email):")
        for sighting, first in sightings:
            print(f"  {first.commitment_id}: {_shown(sighting.title)} (score {sighting.score:.2f}) is development "
                  f"{first.id} [{first.status}], first recorded with change {first.change_id}")
    print(f"\nhow it scores against the commitments now (a development from {THRESHOLD}, "
          f"a possible one from {POSSIBLE_FROM}):")
    if discovers:
        items = list(change.added_items) + [new for _old, new in change.updated_items]
        for item in items:
            print(f"\n document {item.title!r}:")
            for m in match(Subject.of_item(item), targets, bound, specificity):
                print("  " + _shown(judge(m, (item.title,), rejections).explain()).replace("\n", "\n  "))
    else:
        considered = [t for t in targets if t.id in bound]
        if not considered:
            print("  its source is configured for no commitment, so it is matched against none")
        subject = Subject.of_change(change)
        for m in match(subject, considered, bound, specificity):
            print("  " + _shown(judge(m, subject.titles, rejections).explain()).replace("\n", "\n  "))
    return EXIT_OK


def cmd_review(args) -> int:
    settings, store = _open(args)
    with store:
        if args.action == "list":
            if args.ids:
                raise UsageError("review lists every possible development; give ids only to confirm or reject")
            _list_possible(store.ledger.developments(statuses=(POSSIBLE,)))
            return EXIT_OK
        if not args.ids:
            raise UsageError(f"give the id of each development to {args.action} (see: sendwatch review)")
        verdict = CONFIRMED if args.action == "confirm" else REJECTED
        allowed = (POSSIBLE,) if verdict == CONFIRMED else (POSSIBLE, DEVELOPMENT, CONFIRMED)
        chosen = []
        for development_id in dict.fromkeys(args.ids):  # all checked before any is changed
            d = store.ledger.development(development_id)
            if d is None:
                raise UsageError(f"there is no development {development_id} (see: sendwatch review)")
            if d.status not in allowed:
                raise UsageError(f"development {development_id} is rejected already" if d.status == REJECTED else
                                 f"development {development_id} is {d.status}, not possible: only a possible "
                                 "development can be confirmed")
            chosen.append(d)
        now = datetime.now(UTC)
        for d in chosen:
            notify = for_commitment(settings, "development", d.commitment_id) if verdict == CONFIRMED else ()
            if not store.ledger.review(d.id, verdict, now, notify):
                print(f"development {d.id}: someone else reviewed it meanwhile; left as they decided")
                continue
            if verdict == CONFIRMED:
                print(f"development {d.id} confirmed for {d.commitment_id}: {_shown(d.title)} "
                      f"({len(notify)} email(s) queued)")
            else:
                print(f"development {d.id} rejected for {d.commitment_id}: {_shown(d.title)} "
                      "(not raised again for it; similar titles score lower)")
        report = send_due(settings, store) if verdict == CONFIRMED else None
    if report is not None:
        _print_report(report)
    return EXIT_OK


def _list_possible(possible) -> None:
    if not possible:
        print("nothing to review: no possible developments")
        return
    print(f"possible developments ({len(possible)}), newest first: confirm with sendwatch review confirm ID, "
          "reject with sendwatch review reject ID")
    for d in possible:
        link = f" <{d.url}>" if d.url else ""
        print(f"\n{d.id:>5}  {d.commitment_id}  {_fmt_time(d.detected_at)}  {_shown(d.title)}{_shown(link)}")
        print(f"       score {d.score:.2f} (a development from {THRESHOLD}), change {d.change_id} of {d.source_id}")
        for hit in d.evidence or []:
            what = hit.get("text") if hit.get("where") == "rejected before" else \
                f"{hit.get('phrase')!r} in {hit.get('text')!r}"
            print(f"       {float(hit.get('weight') or 0):+.2f} {hit.get('where')}: {_shown(what)}")


def cmd_export(args) -> int:
    settings, store = _open(args)
    with store:
        standings = ledger_standings(settings, store)
        developments = store.ledger.developments()
    text = to_json(standings, developments) if args.format == "json" else to_csv(standings, developments)
    if args.output:
        _write_whole(Path(args.output), text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _write_whole(path: Path, text: str) -> None:
    """Write a file in full or not at all: a disk that fills up half way leaves an earlier
    export as it was rather than cut short."""
    if path.is_dir():
        raise UsageError(f"--output {path}: is a folder; give a file name, such as {path / 'ledger.csv'}")
    if not path.parent.is_dir():
        raise UsageError(f"--output {path}: the folder {path.parent} does not exist")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"--output {path}: cannot write it: {exc.strerror or exc}") from None


def cmd_serve(args) -> int:
    from monitor.app.service import run_service  # the scheduler and web server load only here

    return run_service(args)


def cmd_status(args) -> int:
    from monitor.app.service import show_status

    return show_status(args)


def cmd_demo(args) -> int:
    from monitor.app.demo import run_demo

    return run_demo(args)


# -- parser ----------------------------------------------------------------------------------

COMMANDS = {
    "init": (cmd_init, "write a starter sendwatch.toml and create the database",
             "sendwatch init\n  sendwatch --config /etc/sendwatch.toml init"),
    "check": (cmd_check, "check sources once, print what changed and what failed, then exit",
              "sendwatch check\n  sendwatch check send-code-of-practice area-send-framework"),
    "sources": (cmd_sources, "each source: last check, last change, failures, last error",
                "sendwatch sources\n  sendwatch sources --json"),
    "history": (cmd_history, "the versions (snapshots) of one source and the change to each",
                "sendwatch history send-code-of-practice --checks 20"),
    "diff": (cmd_diff, "what changed: the latest change of a source, or between two snapshots",
             "sendwatch diff send-code-of-practice\n  sendwatch diff send-code-of-practice --from 3 --to 7"),
    "changes": (cmd_changes, "changes recorded, newest first",
                "sendwatch changes --since 7d\n  sendwatch changes --since 2026-01-01 --json"),
    "prune": (cmd_prune, "forget history older than a limit (the default keeps everything)",
              "sendwatch prune --older-than 730d"),
    "commitments": (cmd_commitments, "the ledger: each commitment's state, age, lateness and last development",
                    "sendwatch commitments\n  sendwatch commitments mark send-review delivered "
                    "--note \"Improvement plan published 2 March 2023\""),
    "explain": (cmd_explain, "why a change did or did not become a development",
                "sendwatch explain 12"),
    "review": (cmd_review, "possible developments: list them, confirm (sends them) or reject (never again)",
               "sendwatch review\n  sendwatch review confirm 14\n  sendwatch review reject 15 16"),
    "notify": (cmd_notify, "email: send what is due in the outbox, or a test email to every recipient",
               "sendwatch notify test\n  sendwatch notify send"),
    "serve": (cmd_serve, "run as a service: scheduled checks, email, the dashboard on 127.0.0.1",
              "sendwatch serve\n  sendwatch --config /etc/sendwatch.toml serve"),
    "status": (cmd_status, "is the service healthy: scheduler, database, sources, outbox",
               "sendwatch status\n  sendwatch status --json"),
    "demo": (cmd_demo, "see the whole system work offline in about a minute, on a bundled site",
             "sendwatch demo"),
    "kinds": (cmd_kinds, "the kinds of source and their options",
              "sendwatch kinds"),
    "export": (cmd_export, "commitments and developments as JSON or CSV, for reports",
               "sendwatch export --format csv --output ledger.csv"),
}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default: $SENDWATCH_CONFIG, ./sendwatch.toml, "
                             "else the shipped watchlist)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log what happens")
    parser = _Parser(
        prog="sendwatch", parents=[common],
        description="Follow the UK government's SEND commitments on GOV.UK and Parliament.",
        epilog="example:\n  sendwatch init && sendwatch check && sendwatch changes --since 7d",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parsers = {}
    for name, (_func, helptext, example) in COMMANDS.items():
        parsers[name] = sub.add_parser(name, parents=[common], help=helptext, description=helptext,
                                       epilog=f"example:\n  {example}",
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
    parsers["check"].add_argument("sources", nargs="*", metavar="SOURCE", help="source ids (default: all)")
    parsers["sources"].add_argument("--json", action="store_true", help="machine-readable output")
    parsers["sources"].add_argument("--all", action="store_true", help="include sources no longer configured")
    parsers["history"].add_argument("source", metavar="SOURCE")
    parsers["history"].add_argument("--checks", type=_count(0), metavar="N", default=0,
                                    help="also list the N most recent checks")
    parsers["diff"].add_argument("source", metavar="SOURCE")
    parsers["diff"].add_argument("--from", dest="from_id", type=_record_id("snapshot"), metavar="ID",
                                 help="snapshot id")
    parsers["diff"].add_argument("--to", dest="to_id", type=_record_id("snapshot"), metavar="ID",
                                 help="snapshot id")
    parsers["changes"].add_argument("--since", metavar="DATE", help="a date (2026-01-31) or a duration (7d)")
    parsers["changes"].add_argument("--source", metavar="SOURCE", help="only this source")
    parsers["changes"].add_argument("--limit", type=_count(1), metavar="N", help="at most N changes")
    parsers["changes"].add_argument("--json", action="store_true", help="machine-readable output")
    parsers["prune"].add_argument("--older-than", metavar="DURATION",
                                  help="e.g. 365d (default: retention from the config)")
    parsers["commitments"].add_argument("action", nargs="?", choices=["mark"], help="mark: record a verdict")
    parsers["commitments"].add_argument("id", nargs="?", metavar="ID", help="commitment id (with mark)")
    parsers["commitments"].add_argument("state", nargs="?", metavar="STATE",
                                        help="delivered, dropped, or open to take a mark back (with mark)")
    parsers["commitments"].add_argument("--note", help="why (required for delivered and dropped)")
    parsers["commitments"].add_argument("--json", action="store_true", help="machine-readable output")
    parsers["explain"].add_argument("change", type=_record_id("change"), metavar="CHANGE_ID")
    parsers["review"].add_argument("action", nargs="?", choices=["list", "confirm", "reject"], default="list",
                                   help="list (the default), confirm or reject")
    parsers["review"].add_argument("ids", nargs="*", type=_record_id("development"), metavar="ID",
                                   help="development ids (with confirm or reject)")
    parsers["notify"].add_argument("action", choices=["test", "send"])
    parsers["status"].add_argument("--json", action="store_true", help="machine-readable output")
    parsers["demo"].add_argument("--dir", metavar="DIR", help="where the demo keeps its files (default: a new "
                                 "temporary folder)")
    parsers["demo"].add_argument("--no-wait", action="store_true",
                                 help="exit when the demo has run instead of keeping the dashboard up")
    parsers["export"].add_argument("--format", choices=["json", "csv"], default="json")
    parsers["export"].add_argument("--output", metavar="FILE", help="write here instead of standard output")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:  # Ctrl-C: the user's own wish, not an error to explain
        print("sendwatch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "serve":
        release_signals()  # held while sendwatch loaded, for serve's sake (monitor/app/launch.py)
    args.config = getattr(args, "config", None)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func = COMMANDS[args.command][0]
    try:
        return func(args)
    except ConfigError as exc:
        print(f"sendwatch: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"sendwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return EXIT_OK
    # What the machine refuses (a database that cannot be reached, a folder that cannot be
    # made, a full disk) is said in one line: a traceback buries it, and it is not a bug.
    except DatabaseUnavailable as exc:
        print(f"sendwatch: cannot use the database{_database_of(args)}: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except SQLAlchemyError as exc:  # refused for another reason: no permission to create tables, say
        logging.getLogger("sendwatch").debug("database error", exc_info=True)
        print(f"sendwatch: the database{_database_of(args)} refused: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"sendwatch: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _database_of(args) -> str:
    """' URL' of the database the command used, for the message of a failure."""
    if args.command == "demo":  # the demo makes a database of its own
        return ""
    try:
        url = load_settings(args.config, kinds=KINDS).database_url
    except ConfigError:
        return ""
    return " " + make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
