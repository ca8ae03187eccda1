"""The command reference, docs/cli.md, made from each command's own ``--help``.

    python -m monitor.app.cli.reference            # (re)writes docs/cli.md
    python -m monitor.app.cli.reference --check    # exit 1 when docs/cli.md is out of date

tests/test_cli_reference.py fails when the committed file differs from what ``--help``
says, so the reference cannot drift from the commands. Help is laid out as ``--help``
prints it in a terminal of 80 columns or more (click leaves two columns of margin).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

WIDTH = 78
DEFAULT_PATH = Path("docs/cli.md")


def commands(group: click.Group, parent: click.Context) -> Iterator[tuple[click.Context, click.Command]]:
    """Every command under ``group``, groups before the commands in them, in the order
    ``sendwatch --help`` lists them."""
    for name in group.list_commands(parent):
        command = group.get_command(parent, name)
        if command is None or command.hidden:
            continue
        ctx = click.Context(command, info_name=name, parent=parent)
        yield ctx, command
        if isinstance(command, click.Group):
            yield from commands(command, ctx)


def help_text(ctx: click.Context) -> str:
    """What ``--help`` prints for the command of ``ctx``, without the trailing newline."""
    return ctx.command.get_help(ctx)


def reference() -> str:
    """docs/cli.md: the ``sendwatch --help`` of every command, in Markdown."""
    from monitor.app.cli import sendwatch

    root = click.Context(sendwatch, info_name="sendwatch", terminal_width=WIDTH,
                         **sendwatch.context_settings)
    sections = [(root, sendwatch), *commands(sendwatch, root)]
    lines = ["# sendwatch command reference", "",
             "Each command's `--help`, made from the commands themselves by `python -m monitor.app.cli.reference`",
             "(tests/test_cli_reference.py fails when this file is out of date).", ""]
    lines += [f"- [`{ctx.command_path}`](#{_anchor(ctx.command_path)})" for ctx, _command in sections[1:]]
    for ctx, _command in sections:
        lines += ["", f"## {ctx.command_path}", "", "```", help_text(ctx), "```"]
    return "\n".join(lines) + "\n"


def _anchor(title: str) -> str:
    """The anchor GitHub makes of a heading: lower case, spaces as hyphens."""
    return title.lower().replace(" ", "-")


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    path = Path(paths[0]) if paths else DEFAULT_PATH
    text = reference()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run python -m monitor.app.cli.reference", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
