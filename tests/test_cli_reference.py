"""docs/cli.md is what the commands' ``--help`` says: regenerate it with
``python -m monitor.app.cli.reference`` whenever a command or its help changes."""

import re
from pathlib import Path

from monitor.app.cli.reference import reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_the_committed_reference_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == reference(), \
        "docs/cli.md is out of date: run python -m monitor.app.cli.reference"


def test_each_section_is_what_help_prints(sendwatch, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    sections = re.findall(r"^## (sendwatch[^\n]*)\n\n```\n(.*?)\n```$", DOC.read_text(encoding="utf-8"),
                          flags=re.M | re.S)
    assert len(sections) >= 20  # the group, every command, the commands in commitments and notify
    for path, text in sections:
        shown = sendwatch(*path.split()[1:], "--help")
        assert (shown.code, shown.out) == (0, text + "\n"), path
