"""Commands about the commitments: ``commitments`` (and ``commitments mark``), ``explain``,
``review`` and ``export``."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from monitor.app import review as decide
from monitor.app.check import ledger_standings, scoring, source_settings_of
from monitor.app.cli.common import (
    EXIT_OK,
    Group,
    Invocation,
    RecordId,
    UsageError,
    command,
    fmt_time,
    pass_invocation,
    prepare,
    print_report,
    shown,
)
from monitor.app.outbox import send_due
from monitor.core.developments import POSSIBLE_FROM, score_change
from monitor.core.drafts import CONFIRMED, DEVELOPMENT, POSSIBLE, REJECTED
from monitor.core.export import standing_dict, to_csv, to_json
from monitor.core.ledger import MARKS, OVERDUE, day
from monitor.core.match import THRESHOLD
from monitor.core.restated import rule
from monitor.sources import make_source
from storage.models import DevelopmentRecord


@click.group("commitments", cls=Group, invoke_without_command=True,
             example="sendwatch commitments\nsendwatch commitments --json\n"
                     "sendwatch commitments mark send-review delivered "
                     '--note "Improvement plan published 2 March 2023"')
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def commitments(ctx: click.Context, as_json: bool) -> int | None:
    """The ledger: each commitment's state, age, lateness and last development.

    Until a commitment is delivered or dropped, how late it is; how long ago it was
    promised, days overdue, and its last development with its link. A date a minister
    restated is its expected date from then on: how often and how far it slipped, and
    the latest restatement. With a command (mark), a person's verdict instead.
    """
    if ctx.invoked_subcommand is not None:
        return None
    prepare(ctx)
    settings, store = ctx.ensure_object(Invocation).open()  # made by prepare
    with store:
        standings = ledger_standings(settings, store)
    if as_json:
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
        if c.expected_by or p.restated:
            late = f", {p.days_overdue} days overdue" if p.state == OVERDUE else ""
            print(f"    {shown(p.expectation.words(c.expected_note))}{late}")
        if p.restated:
            r = p.restated[-1]
            by = f" by {r.by}" if r.by else ""
            link = f" <{r.url}>" if r.url else ""
            print(f"    latest restatement {day(r.said_on)}{shown(by)}: {shown(repr(r.sentence))}{shown(link)}")
        if p.note:
            print(f"    {p.state}: {p.note}")
        if p.last:
            link = f" <{p.last.url}>" if p.last.url else ""
            known = "" if p.last.recorded else " (known before sendwatch watched)"
            print(f"    last development {p.last.on:%d %b %Y}: {shown(p.last.title)}{shown(link)}{known}")
    return EXIT_OK


@commitments.command("mark", example='sendwatch commitments mark code-of-practice delivered '
                                     '--note "Revised code laid before Parliament"\n'
                                     "sendwatch commitments mark code-of-practice open")
@click.argument("commitment_id", metavar="ID")
@click.argument("state", type=click.Choice(MARKS), metavar="delivered|dropped|open")
@click.option("--note", metavar="TEXT", help="why (required for delivered and dropped)")
@pass_invocation
def mark(run: Invocation, commitment_id: str, state: str, note: str | None) -> int:
    """A person's verdict on a commitment: delivered or dropped, or open to take a mark back.

    A mark is recorded as of now and overrides what the watchlist and the developments
    say, until a later mark; open goes back to the state they give.
    """
    settings, store = run.open()
    with store:
        try:
            decide.mark(settings, store, commitment_id, state, note or "", datetime.now(UTC))
        except decide.DecisionError as exc:
            hint = " (see: sendwatch commitments)" if str(exc).startswith("unknown commitment") else \
                " with --note" if str(exc).startswith("say why") else ""
            raise UsageError(f"{exc}{hint}") from None
    print(f"{commitment_id} marked {state}")
    return EXIT_OK


@command("explain", example="sendwatch explain 12", context_settings={"ignore_unknown_options": True})
@click.argument("change_id", type=RecordId("change"), metavar="CHANGE_ID")
@pass_invocation
def explain(run: Invocation, change_id: int) -> int:
    """Why a change did or did not become a development.

    The developments recorded for the change, the restatements it gave (each sentence that
    gives a date for a commitment, and the rule that read it), then how it scores against
    each commitment now, by the same rules a check applies: every phrase, where it was
    found, and its weight; the weights add up to the score.
    """
    settings, store = run.open()
    with store:
        record = store.history.change(change_id)
        if record is None:
            raise UsageError(f"no change {change_id} (see: sendwatch changes)")
        change = store.history.change_detail(record)
        developments = store.ledger.developments(change_id=record.id, statuses=None)
        # Each sighting's development exists: the record's foreign key holds it.
        sightings = [(s, first) for s in store.ledger.sightings(change_id=record.id)
                     if (first := store.ledger.development(s.development_id)) is not None]
        rejections = store.ledger.rejections()
        restatements = store.ledger.restatements(change_id=record.id)
        source = source_settings_of(settings, store, record.source_id)
        stored = store.sources.get(record.source_id)
        targets, specificity = scoring(settings, store)
    print(f"change {record.id} of {record.source_id} at {fmt_time(record.detected_at)}: {shown(record.summary)}")
    if source is not None:
        watched_for, discovers = source.commitments, make_source(source).discovers
    else:  # stored settings this version cannot read: the commitments they name, at least
        watched_for, discovers = tuple((stored.settings if stored else {}).get("commitments", ())), False
    if developments:
        print("\nrecorded developments:")
        for d in developments:
            status = "" if d.status == DEVELOPMENT else f" [{d.status}]"
            print(f"  {d.commitment_id}: {shown(d.title)} (score {d.score:.2f}){status}")
    else:
        print("\nno development was recorded for this change")
    if sightings:
        print("\nseen before (further evidence, no new development or email):")
        for sighting, first in sightings:
            print(f"  {first.commitment_id}: {shown(sighting.title)} (score {sighting.score:.2f}) is development "
                  f"{first.id} [{first.status}], first recorded with change {first.change_id}")
    if restatements:
        print("\nrestatements (dates given for a commitment):")
        for r in restatements:
            print("  " + shown(_explain_restatement(r)).replace("\n", "\n  "))
    print(f"\nhow it scores against the commitments now (a development from {THRESHOLD}, "
          f"a possible one from {POSSIBLE_FROM}):")
    if not discovers and not any(t.id in watched_for for t in targets):
        print("  its source is configured for no commitment, so it is matched against none")
    for scored in score_change(change, commitments=watched_for, targets=targets, discovers=discovers,
                               rejections=rejections, specificity=specificity,
                               page=source.url if source is not None else None):
        if scored.item is not None:
            print(f"\n document {scored.item.title!r}:")
        for judged in scored.judgements:
            print("  " + shown(judged.explain()).replace("\n", "\n  "))
    return EXIT_OK


def _explain_restatement(r) -> str:
    """A restatement with the sentence and the rule that read it."""
    by = f" by {r.said_by}" if r.said_by else ""
    resolves = f"resolves to {day(r.resolves_to)}" if r.resolves_to else "gives no date"
    found = rule(r.rule)
    why = f" ({found.resolves})" if found else ""
    lines = [f"{r.commitment_id}: said {day(r.said_on)}{by}: {r.sentence!r}",
             f"  rule {r.rule}: {r.words!r} {resolves}{why}"]
    if r.url:
        lines.append(f"  <{r.url}>")
    return "\n".join(lines)


@command("review", example="sendwatch review\nsendwatch review confirm 14\nsendwatch review reject 15 16",
         context_settings={"ignore_unknown_options": True})
@click.argument("action", type=click.Choice(["list", "confirm", "reject"]), default="list",
                metavar="[list|confirm|reject]")
@click.argument("ids", nargs=-1, type=RecordId("development"), metavar="[ID]...")
@pass_invocation
def review(run: Invocation, action: str, ids: tuple[int, ...]) -> int:
    """Possible developments: list them, confirm (sends them) or reject (never again).

    list (the default) shows each possible development with its evidence. confirm ID...
    makes possible developments developments and emails them; reject ID... sets a
    document aside for its commitment for good (a development or a possible one). Every
    id is checked before any is changed.
    """
    settings, store = run.open()
    with store:
        if action == "list":
            if ids:
                raise UsageError("review lists every possible development; give ids only to confirm or reject")
            _list_possible(store.ledger.developments(statuses=(POSSIBLE,)))
            return EXIT_OK
        if not ids:
            raise UsageError(f"give the id of each development to {action} (see: sendwatch review)")
        verdict = CONFIRMED if action == "confirm" else REJECTED
        try:
            done = decide.review(settings, store, verdict, ids, datetime.now(UTC))
        except decide.DecisionError as exc:
            hint = " (see: sendwatch review)" if str(exc).startswith("there is no") else ""
            raise UsageError(f"{exc}{hint}") from None
        for d in done:
            if not d.done:
                print(f"development {d.development_id}: someone else reviewed it meanwhile; left as they decided")
            elif verdict == CONFIRMED:
                print(f"development {d.development_id} confirmed for {d.commitment_id}: {shown(d.title)} "
                      f"({d.queued} email(s) queued)")
            else:
                print(f"development {d.development_id} rejected for {d.commitment_id}: {shown(d.title)} "
                      "(not raised again for it; similar titles score lower)")
        report = send_due(settings, store) if verdict == CONFIRMED else None
    if report is not None:
        print_report(report)
    return EXIT_OK


def _list_possible(possible: list[DevelopmentRecord]) -> None:
    if not possible:
        print("nothing to review: no possible developments")
        return
    print(f"possible developments ({len(possible)}), newest first: confirm with sendwatch review confirm ID, "
          "reject with sendwatch review reject ID")
    for d in possible:
        link = f" <{d.url}>" if d.url else ""
        print(f"\n{d.id:>5}  {d.commitment_id}  {fmt_time(d.detected_at)}  {shown(d.title)}{shown(link)}")
        print(f"       score {d.score:.2f} (a development from {THRESHOLD}), change {d.change_id} of {d.source_id}")
        for hit in d.evidence or []:
            what = hit.get("text") if hit.get("where") == "rejected before" else \
                f"{hit.get('phrase')!r} in {hit.get('text')!r}"
            print(f"       {float(hit.get('weight') or 0):+.2f} {hit.get('where')}: {shown(what)}")


@command("export", example="sendwatch export --format csv --output ledger.csv")
@click.option("--format", "form", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="JSON or CSV")
@click.option("--output", type=click.Path(dir_okay=True, path_type=Path), metavar="FILE",
              help="write here instead of standard output; written whole or not at all")
@pass_invocation
def export(run: Invocation, form: str, output: Path | None) -> int:
    """Commitments and developments as JSON or CSV, for reports."""
    settings, store = run.open()
    with store:
        standings = ledger_standings(settings, store)
        developments = store.ledger.developments()
    text = to_json(standings, developments) if form == "json" else to_csv(standings, developments)
    if output is not None:
        _write_whole(output, text)
        print(f"wrote {output}")
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
