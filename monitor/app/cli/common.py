"""What every ``sendwatch`` command shares: the options given before or after its name,
the set-up before it runs, its parameter types and the ways it prints records."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click

from config import SendwatchError, Settings, load_settings, parse_duration
from monitor.app.launch import release_signals
from monitor.app.outbox import SendReport
from monitor.app.subscribers import synced
from monitor.core.document import without_controls
from monitor.core.since import parse_since
from monitor.sources import KINDS, READS
from storage import Store

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
# The largest count either database takes (LIMIT is a signed 64-bit integer), and the
# largest id a record can have (ids are Integer columns: 32 bits on PostgreSQL).
LARGEST = 2**63 - 1
LARGEST_ID = 2**31 - 1


class UsageError(SendwatchError):
    """Wrong arguments found while the command runs: the message is shown and sendwatch
    exits with status 2."""


@dataclass
class Invocation:
    """What applies to the whole command line: ``--config`` and ``--verbose``, which may
    come before the command's name or after it, and the command being run."""

    config: str | None = None
    verbose: bool = False
    command: str | None = None

    def settings(self) -> Settings:
        return load_settings(self.config, kinds=KINDS)

    def open(self, *, sync: bool = True) -> tuple[Settings, Store]:
        """The settings and the store, with the configured sources and recipients made
        known (``check`` leaves that to ``check_sources``, which does it anyway), and the
        settings' subscribers those of the record."""
        settings = self.settings()
        store = Store(settings.database)
        if sync:
            store.sources.sync(settings.sources, READS)
            settings = synced(settings, store)
        return settings, store


pass_invocation = click.make_pass_decorator(Invocation, ensure=True)


def _given_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Invocation).config = value


def _given_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Invocation).verbose = True


def common_options() -> list[click.Parameter]:
    """``--config`` and ``--verbose``, on the ``sendwatch`` group and on every command."""
    return [
        click.Option(["--config"], metavar="PATH", expose_value=False, callback=_given_config,
                     help="config file (default: $SENDWATCH_CONFIG, ./sendwatch.toml, else the shipped watchlist)"),
        click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, callback=_given_verbose,
                     help="log what happens"),
    ]


def _example(lines: str) -> str:
    # \b keeps click from joining the example's lines into one paragraph.
    return "\b\nexample:\n" + "\n".join(f"  {line}" for line in lines.splitlines())


def prepare(ctx: click.Context, *, holds_signals: bool = False) -> None:
    """Before a command runs: signals back to their default behaviour (held while
    sendwatch loaded, for ``serve``'s sake: monitor/app/launch.py), and logging."""
    invocation = ctx.ensure_object(Invocation)
    invocation.command = ctx.info_name
    if not holds_signals:
        release_signals()
    logging.basicConfig(level=logging.INFO if invocation.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class Command(click.Command):
    """A sendwatch command: the common options, an example after its help, and
    ``prepare`` before it runs."""

    def __init__(self, *args: Any, example: str, holds_signals: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", _example(example))
        super().__init__(*args, **kwargs)
        self.params.extend(common_options())
        self.holds_signals = holds_signals
        if self.help and not self.short_help:  # the first paragraph, whole, in the list of commands
            self.short_help = " ".join(self.help.split("\n\n")[0].split())

    def invoke(self, ctx: click.Context) -> Any:
        prepare(ctx, holds_signals=self.holds_signals)
        return super().invoke(ctx)


class Group(click.Group):
    """A group of commands, listed in the order they were added (the order of use, not
    of the alphabet), with the common options and an example."""

    command_class = Command

    def __init__(self, *args: Any, example: str, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", _example(example))
        super().__init__(*args, **kwargs)
        self.params.extend(common_options())
        if self.help and not self.short_help:
            self.short_help = " ".join(self.help.split("\n\n")[0].split())

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


def command(name: str, *, example: str, **kwargs: Any) -> Callable[[Callable], Command]:
    """``@command("check", example=...)``: a sendwatch command, its help from the docstring."""
    return click.command(name, cls=Command, example=example, **kwargs)


# -- parameter types ---------------------------------------------------------------------------


class Count(click.ParamType):
    """A whole number from ``minimum`` up."""

    name = "count"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < self.minimum:
            self.fail(f"expected a whole number of at least {self.minimum}, got {value!r}", param, ctx)
        if number > LARGEST:
            self.fail(f"{value} is too large (at most {LARGEST})", param, ctx)
        return number


class RecordId(click.ParamType):
    """The id of a recorded ``what`` (change, snapshot, development)."""

    name = "id"

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            number = int(value)
        except ValueError:
            self.fail(f"{value!r} is not a {self.what} id (a whole number)", param, ctx)
        if not 1 <= number <= LARGEST_ID:
            self.fail(f"there is no {self.what} {value} ({self.what} ids run from 1 to {LARGEST_ID})", param, ctx)
        return number


def since(text: str) -> datetime:
    """What ``--since`` means: a date from midnight in London, an instant (UTC when it names
    no zone), or a duration back from now."""
    return parse_since(text, datetime.now(UTC))


class Since(click.ParamType):
    """``--since``: see ``since``."""

    name = "since"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return since(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Duration(click.ParamType):
    """A duration: seconds, or a number with its unit (``730d``); in seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


# -- printing ----------------------------------------------------------------------------------


def shown(text: object) -> str:
    """Page-derived text made safe to print: a record written before page text was cleaned,
    or an error quoting a server, may hold escape sequences a terminal would obey."""
    return without_controls(str(text))


def fmt_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def print_report(report: SendReport) -> None:
    """What a run of the sender did, when it did anything."""
    if report.sent or report.retrying or report.failed or report.left:
        print(f"email via {report.delivery}: {len(report.sent)} sent, {len(report.retrying)} to retry, "
              f"{len(report.failed)} failed" + (f", {report.left} left for the next run (send_budget ran out)"
                                                 if report.left else ""))
    for _id, recipient, error in report.failed:
        print(f"  failed for good: {recipient}: {error}")
    for _id, recipient, error in report.retrying:
        print(f"  will retry: {recipient}: {error}")
