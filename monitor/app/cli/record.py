"""Commands that read the record: ``sources``, ``history``, ``diff``, ``changes``, and
``prune``, which forgets the oldest of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click

from monitor.app.cli.common import (
    EXIT_OK,
    Count,
    Duration,
    Invocation,
    RecordId,
    Since,
    UsageError,
    command,
    fmt_time,
    pass_invocation,
    shown,
)
from monitor.core.diff import render_text
from monitor.core.instants import iso
from storage.models import SourceRecord


@command("sources", example="sendwatch sources\nsendwatch sources --json")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--all", "include_inactive", is_flag=True, help="include sources no longer configured")
@pass_invocation
def sources(run: Invocation, as_json: bool, include_inactive: bool) -> int:
    """Each source: last check, last change, failures, last error.

    Documents sendwatch follows are listed apart, and after the configured sources, email
    that could not be delivered.
    """
    settings, store = run.open()
    with store:
        records = store.sources.all(include_inactive=include_inactive)
        failures = store.outbox.notifications(status="failed")
    if as_json:
        print(json.dumps([_source_json(r) for r in records], indent=2))
        return EXIT_OK
    configured = [r for r in records if r.origin != "followed"]
    followed = [r for r in records if r.origin == "followed"]
    for r in configured:
        _print_source(r)
    if failures:
        print(f"\nemail that could not be delivered ({len(failures)}):")
        for n in failures[-10:]:
            print(f"  {fmt_time(n.created_at)}  {n.recipient}  {n.kind}: {n.last_error}")
    if followed:
        print(f"\nfollowed by sendwatch ({len(followed)}): documents discovered as developments"
              + ("" if settings.ledger.follow else "; following is switched off, so they are not checked"))
        for r in followed:
            _print_source(r)
    return EXIT_OK


def _print_source(r: SourceRecord) -> None:
    state = "ok" if not r.consecutive_failures else f"{r.consecutive_failures} failure(s) in a row"
    flag = "" if r.active else " (no longer configured)"
    print(f"{r.id}{flag}  [{r.kind}] {shown(r.url)}")
    print(f"    last check: {fmt_time(r.last_checked_at)}   last change: {fmt_time(r.last_changed_at)}"
          f"   {state}")
    if r.origin == "followed" and r.followed_from:
        print(f"    followed since development {r.followed_from}")
    if r.last_error:
        print(f"    last error: {shown(r.last_error)}")


def _source_json(r: SourceRecord) -> dict:
    return {"id": r.id, "kind": r.kind, "url": r.url, "active": r.active, "origin": r.origin,
            "followed_from": r.followed_from,
            "last_checked_at": iso(r.last_checked_at), "last_changed_at": iso(r.last_changed_at),
            "consecutive_failures": r.consecutive_failures, "last_error": r.last_error}


@command("history", example="sendwatch history send-code-of-practice --checks 20")
@click.argument("source", metavar="SOURCE")
@click.option("--checks", type=Count(0), metavar="N", default=0, help="also list the N most recent checks")
@pass_invocation
def history(run: Invocation, source: str, checks: int) -> int:
    """The versions (snapshots) of one source and the change to each."""
    _settings, store = run.open()
    with store:
        if store.sources.get(source) is None:
            raise UsageError(f"unknown source: {source}")
        snapshots = store.history.snapshots(source)
        by_target = {c.to_snapshot_id: c for c in reversed(store.history.changes(source_id=source))}
        if not snapshots:
            print(f"{source}: no snapshot yet (run: sendwatch check {source})")
        for snap in snapshots:
            change = by_target.get(snap.id)
            how = f"change {change.id}: {shown(change.summary)}" if change else "first snapshot"
            print(f"snapshot {snap.id}  first seen {fmt_time(snap.first_seen_at)}  "
                  f"last seen {fmt_time(snap.last_seen_at)}  {snap.size:,} bytes")
            print(f"    {how}")
        if checks:
            print("\nrecent checks:")
            for c in store.history.checks(source, limit=checks):
                detail = c.error or (f"HTTP {c.http_status}" if c.http_status else "")
                print(f"  {fmt_time(c.started_at)}  {c.outcome:<12} {c.duration_ms:>6} ms  {shown(detail)}")
    return EXIT_OK


@command("diff", example="sendwatch diff send-code-of-practice\nsendwatch diff send-code-of-practice --from 3 --to 7")
@click.argument("source", metavar="SOURCE")
@click.option("--from", "from_id", type=RecordId("snapshot"), metavar="ID", help="snapshot id")
@click.option("--to", "to_id", type=RecordId("snapshot"), metavar="ID", help="snapshot id")
@pass_invocation
def diff(run: Invocation, source: str, from_id: int | None, to_id: int | None) -> int:
    """What changed: the latest change of a source, or between two snapshots."""
    _settings, store = run.open()
    with store:
        if store.sources.get(source) is None:
            raise UsageError(f"unknown source: {source}")
        if (from_id is None) != (to_id is None):
            raise UsageError("give both --from and --to, or neither (for the latest change)")
        if from_id is None or to_id is None:
            latest = store.history.changes(source_id=source, limit=1)
            if not latest:
                print(f"{source}: no change recorded yet")
                return EXIT_OK
            from_id, to_id = latest[0].from_snapshot_id, latest[0].to_snapshot_id
        for snapshot_id in (from_id, to_id):
            snap = store.history.snapshot(snapshot_id)
            if snap is None or snap.source_id != source:
                raise UsageError(f"snapshot {snapshot_id} is not a snapshot of {source} "
                                 f"(see: sendwatch history {source})")
        old, new = store.history.document(from_id), store.history.document(to_id)
    print(f"{source}: snapshot {from_id} -> {to_id}")
    print(shown(render_text(old, new)))
    return EXIT_OK


@command("changes", example="sendwatch changes --since 7d\nsendwatch changes --since 2026-01-01 --json")
@click.option("--since", type=Since(), metavar="DATE",
              help="a date (2026-01-31, from midnight in London), an instant (2026-01-31T09:30:00Z) "
                   "or a duration back from now (7d, 12h, 2w)")
@click.option("--source", metavar="SOURCE", help="only this source")
@click.option("--limit", type=Count(1), metavar="N", help="at most N changes")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_invocation
def changes(run: Invocation, since: datetime | None, source: str | None, limit: int | None, as_json: bool) -> int:
    """Changes recorded, newest first."""
    _settings, store = run.open()
    with store:
        records = store.history.changes(since=since, source_id=source, limit=limit)
        if as_json:
            out = []
            for r in records:
                detail = store.history.change_detail(r)
                out.append({"id": r.id, "source": r.source_id, "detected_at": iso(r.detected_at),
                            "summary": r.summary, "from_snapshot": r.from_snapshot_id,
                            "to_snapshot": r.to_snapshot_id, **detail.to_dict()})
            print(json.dumps(out, indent=2, ensure_ascii=False))
            return EXIT_OK
    if not records:
        print("no changes" + (f" since {fmt_time(since)}" if since else ""))
    for r in records:
        print(f"{r.id:>5}  {fmt_time(r.detected_at)}  {r.source_id}: {shown(r.summary)}")
    return EXIT_OK


@command("prune", example="sendwatch prune --older-than 730d")
@click.option("--older-than", type=Duration(), metavar="DURATION",
              help="e.g. 365d (default: retention from the config)")
@pass_invocation
def prune(run: Invocation, older_than: float | None) -> int:
    """Forget history older than a limit (the default keeps everything).

    Checks and changes older than the limit go, and snapshots nothing refers to; changes
    that are developments, and each source's current snapshot, are always kept.
    """
    settings, store = run.open()
    keep = older_than if older_than is not None else settings.retention
    if keep is None:
        raise UsageError("nothing to prune: no retention is set (the default keeps everything). "
                         "Use --older-than 365d or set retention in the config.")
    before = datetime.now(UTC) - timedelta(seconds=keep)
    with store:
        result = store.history.prune(before)
    print(f"pruned history before {fmt_time(before)}: {result.checks} checks, {result.changes} changes, "
          f"{result.snapshots} snapshots (current snapshots are always kept)")
    return EXIT_OK
