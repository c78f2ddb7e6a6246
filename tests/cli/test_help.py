"""Help and README true to the code: every command has an example in its --help, every example
parses against the command's real options, and the README's command list names every command."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from vfl.cli.main import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands(
    cmd: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, name
            yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(cli))
LEAVES = [p for p, c in COMMANDS.items() if not isinstance(c, click.Group)]


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def _examples(text: str) -> list[list[str]]:
    """The `vfl ...` command lines under a help text's Example(s) heading (continuations joined,
    comments and `&&` chains split)."""
    block = text.split("Example", 1)[1].split("Options:", 1)[0].replace("\\\n", " ")
    lines = []
    for line in block.splitlines():
        for part in line.split("#", 1)[0].split("&&"):
            words = shlex.split(part)
            if words[:1] == ["vfl"]:
                lines.append(words[1:])
    return lines


def _parse(argv: list[str]) -> click.Command:
    """Parse argv as vfl would, down to the command, without running it."""
    cmd: click.Command = cli
    ctx = cli.make_context("vfl", list(argv), resilient_parsing=False)
    while isinstance(cmd, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        name, sub, args = cmd.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        cmd, ctx = sub, sub.make_context(name, args, parent=ctx)
    return cmd


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(("vfl", *p)))
def test_every_command_has_an_example_that_parses(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "Example" in text, f"`vfl {' '.join(path)} --help` has no example"
    examples = _examples(text)
    assert examples, text
    for argv in examples:
        try:
            _parse(argv)
        except click.exceptions.Exit as done:  # an example that asks for --help
            assert done.exit_code == 0 and "--help" in argv
        except click.UsageError as exc:  # an unknown option or a bad value in the example
            pytest.fail(f"example `vfl {shlex.join(argv)}` does not parse: {exc}")


def test_readme_lists_every_command() -> None:
    section = README.read_text().split("## Commands", 1)[1].split("\n## ", 1)[0]
    listed: set[tuple[str, ...]] = set()
    for m in re.finditer(r"vfl ((?:[a-z]+ )?)([a-z]+(?:\|[a-z]+)*)", section):
        group = m.group(1).strip()
        for name in m.group(2).split("|"):
            listed.add((group, name) if group else (name,))
    missing = [" ".join(p) for p in LEAVES if p not in listed]
    assert not missing, f"the README's ## Commands lacks: {missing}"


DATASETS = Path(__file__).resolve().parents[2] / "vfl" / "data" / "datasets"


def _named_columns(cell: str) -> list[str]:
    """`a`, `x0`..`x6` as the README writes them, ranges expanded."""
    names: list[str] = []
    for m in re.finditer(r"`([a-z_]+?)(\d*)`(?:\.\.`([a-z_]+?)(\d+)`)?", cell):
        stem, first, _, last = m.groups()
        names += [f"{stem}{i}" for i in range(int(first), int(last) + 1)] if last else [stem + first]
    return names


def test_default_dataset_readme_names_the_files_columns() -> None:
    import gzip

    rows = [r for r in (DATASETS / "default" / "README.md").read_text().splitlines() if ".csv.gz |" in r]
    assert len(rows) == 3
    for row in rows:
        _, party, file, columns, *_ = (c.strip() for c in row.split("|"))
        with gzip.open(DATASETS / "default" / file, "rt") as f:
            header = f.readline().strip().split(",")
        assert _named_columns(columns.split("(")[0]) == header, party
