"""The ``sendwatch`` command: a thin layer over the library (config, monitor, storage).

Each command is a click command beside its handler, in the module of its group:
``running`` (init, check, notify, serve, status, demo, kinds), ``record`` (sources,
history, diff, changes, prune), ``ledger`` (commitments, explain, review, export) and
``subscribers``.
``main`` runs one command line and turns every failure a person can act on into one
line on standard error and an exit status; docs/cli.md is made from the commands' help
(``python -m monitor.app.cli.reference``).
"""

from __future__ import annotations

import logging
import sys

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from config import ConfigError, load_settings
from monitor.app.cli import ledger, record, running, subscribers
from monitor.app.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Group,
    Invocation,
    UsageError,
    since,
)
from monitor.core.errors import one_line
from monitor.sources import KINDS
from storage import DatabaseUnavailable

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main", "sendwatch", "since"]


@click.group("sendwatch", cls=Group, context_settings={"help_option_names": ["-h", "--help"]},
             example="sendwatch init && sendwatch check && sendwatch changes --since 7d")
def sendwatch() -> None:
    """Follow the UK government's SEND commitments on GOV.UK and Parliament."""


for _command in (running.init, running.check, record.sources, record.history, record.diff, record.changes,
                 record.prune, ledger.commitments, ledger.explain, ledger.review, running.notify, running.serve,
                 running.worker, subscribers.subscribers, running.operator_password, running.status, running.demo,
                 running.kinds, ledger.export):
    sendwatch.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Run ``sendwatch ARGV`` (default: the process's arguments); the exit status."""
    try:
        return _run(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt:  # Ctrl-C: the user's own wish, not an error to explain
        print("sendwatch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(argv: list[str]) -> int:
    invocation = Invocation()
    try:
        with sendwatch.make_context("sendwatch", argv, obj=invocation) as ctx:
            code = sendwatch.invoke(ctx)
        return EXIT_OK if code is None else code
    except click.exceptions.Exit as exc:  # --help
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:  # "sendwatch" alone: what it can do
        print(exc.ctx.get_help() if exc.ctx else exc.format_message(), file=sys.stderr)
        return EXIT_USAGE
    except click.UsageError as exc:
        print(_usage_line(exc), file=sys.stderr)
        return EXIT_USAGE
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
        print(f"sendwatch: cannot use the database{_database_of(invocation)}: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except SQLAlchemyError as exc:  # refused for another reason: no permission to create tables, say
        logging.getLogger("sendwatch").debug("database error", exc_info=True)
        print(f"sendwatch: the database{_database_of(invocation)} refused: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"sendwatch: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _usage_line(exc: click.UsageError) -> str:
    """Wrong arguments in one line, naming the command and where to read more (click would
    print the usage first, which buries the one line that matters)."""
    path = exc.ctx.command_path if exc.ctx else "sendwatch"
    message = exc.format_message().rstrip(".")
    if isinstance(exc, click.BadParameter) and not isinstance(exc, click.MissingParameter) and exc.param:
        message = f"argument {_name_of(exc.param)}: {exc.message.rstrip('.')}"
    elif message[:2].istitle():  # "Missing argument 'ID'", "No such option: --x": in the middle of a line
        message = message[0].lower() + message[1:]
    return f"{path}: {message} (see: {path} --help)"


def _name_of(param: click.Parameter) -> str:
    """A parameter as its command's help shows it: an option by its long name, an argument
    by its metavar, a choice by what it chooses."""
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    if isinstance(param.type, click.Choice) and param.name:  # its metavar lists the choices: name what they are
        return param.name.upper()
    return param.human_readable_name.removesuffix("...").strip("[]")


def _database_of(invocation: Invocation) -> str:
    """' URL' of the database the command used, for the message of a failure."""
    if invocation.command == "demo":  # the demo makes a database of its own
        return ""
    try:
        url = load_settings(invocation.config, kinds=KINDS).database
    except ConfigError:
        return ""
    return " " + make_url(url).render_as_string(hide_password=True)
