"""The ``POST /vq/v1/jobs`` body for a ``vq submit`` command line: shared by the online
submit and the offline one (``offline.py``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .errors import UsageError
from .params import coerce_params, coerce_per_file


def submit_body(args: argparse.Namespace, description: dict[str, Any], raw_params: dict[str, str],
                raw_per_file: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The POST /vq/v1/jobs body for this command line (also what offline mode submits).
    Options left at their default are left out, so the server's defaults apply (staging
    from its settings, prompt mode from per-file params, random seeds without --seed)."""
    params = coerce_params(description, raw_params)
    per_file = coerce_per_file(description, raw_per_file)
    seed = args.seed
    if "seed" in params:
        # The server draws random seeds unless `seed` is given, which would silently ignore
        # --param seed=N: it means --seed N.
        if seed is not None or args.random_seed:
            raise UsageError("give the seed once: --seed N, --random-seed or --param seed=N")
        seed = params.pop("seed")
    body: dict[str, Any] = {"workflow": args.workflow, "params": params, "tries": args.tries,
                            "priority": args.priority}
    optional = {
        "input": input_value(args.inputs),
        "per_file_params": per_file or None,
        "prompt_mode": args.prompt_mode,
        "seed": seed,
        "randomize_seed": True if args.random_seed else None,
        "name": args.name,
        "stage": False if args.no_stage else None,
        "move_processed": True if args.move_processed else None,
        "dry_run": True if args.dry_run else None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def input_value(inputs: list[str]) -> str | list[str] | None:
    """Nothing (T2I), one folder or file, or a list of files. Paths that exist here are made
    absolute: the server does not know the CLI's working directory. Others are sent as
    given (a path on the ComfyUI host, e.g. when --url points at another machine)."""
    resolved = [local_path(p) for p in inputs]
    if not resolved:
        return None
    return resolved[0] if len(resolved) == 1 else resolved


def local_path(path: str) -> str:
    expanded = os.path.expanduser(path)
    return os.path.abspath(expanded) if os.path.exists(expanded) else path
