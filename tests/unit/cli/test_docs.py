"""docs/cli.md stays true to the parser: a section per command, and every `vq ...`
example in it parses."""

from __future__ import annotations

import re
import shlex

from tests.helpers import REPO
from vq_extension.cli.app import build_parser, parse_args
from vq_extension.cli.errors import ExitCode

CLI_MD = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
# A vq invocation inside a shell line: up to a pipe, ;, &&, ||, ) or a redirection.
INVOCATION = re.compile(r"(?:^|[|;&(]\s*|\$\()\s*(?:\w+=\S+\s+)*(vq(?:\s+[^|;&)>]+)?)")


def commands() -> set[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return set(sub.choices)


def examples() -> list[str]:
    found = []
    for block in SH_BLOCK.findall(CLI_MD):
        for line in block.splitlines():
            if line.strip().startswith("#"):
                continue
            found += [m.group(1).strip() for m in INVOCATION.finditer(line)]
    return found


def test_every_command_has_a_section_and_an_example() -> None:
    headings = set(re.findall(r"^### (.+)$", CLI_MD, re.M))
    documented = {name for h in headings for name in re.findall(r"vq (\w+)", h)}
    assert commands() <= documented
    used = {shlex.split(e)[1] for e in examples() if len(shlex.split(e)) > 1 and not shlex.split(e)[1].startswith("-")}
    assert commands() <= used


def test_every_example_parses() -> None:
    assert len(examples()) > 30
    for example in examples():
        # shell variables stand for ids here
        argv = [re.sub(r"^\$\w+$", "12", a) for a in shlex.split(example)[1:]]
        parse_args(argv, {})  # raises UsageError on a stale example


def test_the_exit_code_table_lists_every_code() -> None:
    for code in ExitCode:
        assert f"| {int(code)} |" in CLI_MD
