"""Snapshots of the human output: stable text, aligned columns, no ANSI when piped.
Rewrite them with VQ_UPDATE_SNAPSHOTS=1 after an intended change, and review the diff."""

from __future__ import annotations

import pytest

from tests.unit.cli import samples as s
from tests.unit.cli.fakes import FakeVq, run
from tests.unit.cli.snapshot import check


@pytest.fixture
def fake() -> FakeVq:
    failed = {**s.finished("failed"), "id": 11, "name": "portraits"}
    return (FakeVq().on("GET", "/health", s.HEALTH).on("GET", "/jobs", s.job_list())
            .on("GET", "/jobs/12", s.detail()).on("GET", "/jobs/11", failed)
            .on("GET", "/jobs/{id}/log", s.LOG).on("GET", "/queue", s.QUEUE))


@pytest.mark.parametrize("name, argv", [
    ("list.txt", ["list"]),
    ("status.txt", ["status", "12"]),
    ("status-failed-verbose.txt", ["status", "11", "-v"]),
    ("health.txt", ["health"]),
    ("log.txt", ["log", "12"]),
])
def test_piped_output(fake: FakeVq, name: str, argv: list[str]) -> None:
    r = run(fake, *argv)
    assert r.code == 0 and r.err == ""
    assert "\x1b" not in r.out
    check(name, r.out)


def test_list_on_a_terminal_uses_relative_times(fake: FakeVq) -> None:
    r = run(fake, "list", tty=True, width=100)
    assert "\x1b" not in r.out  # a terminal without colour (NO_COLOR) gets none
    check("list-tty.txt", r.out)


def test_no_color_env_turns_colour_off_on_a_terminal(fake: FakeVq) -> None:
    from vq_extension.cli.output import IO

    class Tty:
        def isatty(self) -> bool:
            return True

    import sys

    saved = sys.stdout
    sys.stdout = Tty()  # type: ignore[assignment]
    try:
        assert IO.from_system(environ={"NO_COLOR": "1"}).color is False
        assert IO.from_system(environ={}).color is True
        assert IO.from_system(environ={}, no_color=True).color is False
        assert IO.from_system(environ={"TERM": "dumb"}).color is False
    finally:
        sys.stdout = saved
