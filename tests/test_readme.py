"""The README's examples are runnable: every TOML example is a valid sendwatch config."""

import re
import tomllib
from pathlib import Path

import click
import pytest

from config import parse_settings
from config.loader import embedded_watchlist_text
from monitor.app.cli import sendwatch
from monitor.sources import KINDS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```toml\n(.*?)```", README, flags=re.S)


def shipped_commitments() -> str:
    text = embedded_watchlist_text()
    return text[text.index("[[commitment]]"):text.index("# Sources: where delivery would appear.")]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"toml-{n}" for n in range(len(BLOCKS))])
def test_every_toml_example_is_a_valid_config(block):
    tomllib.loads(block)
    # Examples name the shipped commitments; an example that defines its own stands alone.
    text = block if "[[commitment]]" in block else shipped_commitments() + "\n" + block
    parse_settings(text, origin="README example", env={}, kinds=KINDS)


def test_the_readme_has_examples_and_documents_every_kind_and_command():
    assert len(BLOCKS) >= 4
    for kind in KINDS:
        assert f"`{kind}`" in README, kind
    for command in command_paths(sendwatch, "sendwatch"):
        assert command in README, command


def command_paths(group, path):
    for name, command in group.commands.items():
        yield f"{path} {name}"
        if isinstance(command, click.Group):
            yield from command_paths(command, f"{path} {name}")
