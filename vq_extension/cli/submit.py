"""Workflow commands: submit, workflows, cleanup (filled in when their routes land)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .errors import CliError
from .http import VqClient
from .output import IO

Clock = Callable[[], float]


def run_submit(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    raise CliError("vq submit is not available yet")


def run_workflows(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    raise CliError("vq workflows is not available yet")


def run_cleanup(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    raise CliError("vq cleanup is not available yet")
