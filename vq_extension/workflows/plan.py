"""One submit -> the list of prompts to queue: files × tries, seeds, per-file prompts.

Pure functions: the job service stages files and stores the result. The base graph is
built once per job; each prompt is a cheap copy with only its own values written (seed and
what derives from it, per-file prompts, input file), so a 1,000-file batch plans in
well under a second (bench/render.py).
"""

from __future__ import annotations

import gc
import os
import random
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..media import PROCESSED_DIR
from .graphutil import graph_copier
from .loaded import SEED, LoadedWorkflow
from .params import (
    ParamError,
    derive,
    prompt_params,
    resolve_params,
    run_checks,
    stage_count,
)
from .render import apply, build, set_input
from .values import coerce

PROMPT_MODES = ("manual", "per-image manual", "per-image auto")
MAX_TRIES = 100
RANDOM_SEED_LIMIT = 2**53  # random seeds stay exact in JavaScript (the sidebar shows them)


class InputError(ValueError):
    """The input files of a submit are missing, unreadable or do not fit the workflow."""


@dataclass(frozen=True)
class PlannedPrompt:
    input_file: str | None  # as given in `files` (the original), None without input
    try_index: int
    seed: int | None  # None for workflows without a seed
    params: dict[str, Any]  # resolved, including this file's overrides and derived seeds
    graph: dict[str, Any]


def plan_prompts(wf: LoadedWorkflow, *, files: list[str], params: dict[str, Any],
                 per_file_params: dict[str, dict[str, Any]], prompt_mode: str, tries: int,
                 seed: int | None, randomize_seed: bool, rng: random.Random,
                 input_names: Mapping[str, str] | None = None) -> list[PlannedPrompt]:
    """Plan every prompt of a job, file-major (all tries of file 1, then file 2, ...).

    Seeds: with `randomize_seed`, every prompt draws a fresh seed from `rng`; otherwise try t
    uses `seed + t` (`seed` defaults to the seed parameter), so a job is reproducible.
    `input_names` maps a file to the name the graph gets (the staged copy); without it the
    file itself is used and must already be relative to ComfyUI's input folder.
    """
    if prompt_mode not in PROMPT_MODES:
        raise ParamError("prompt_mode", f"{prompt_mode!r} is not one of {', '.join(PROMPT_MODES)}")
    if isinstance(tries, bool) or not isinstance(tries, int) or not 1 <= tries <= MAX_TRIES:
        raise ParamError("tries", f"{tries!r} is not allowed: give a whole number from 1 to {MAX_TRIES}")
    if tries > 1 and not wf.has_seed:
        raise ParamError("tries", f"workflow {wf.name} has no seed, so every try would render the same "
                                  "graph (and ComfyUI would reuse the cached result); use 1 try")
    _check_files(wf, files)
    raw = dict(params)
    if seed is not None and wf.has_seed:
        raw[SEED] = seed
    base = resolve_params(wf, raw)
    prompts = prompt_params(wf, base)
    overrides = _per_file(files, per_file_params or {}, wf, prompts)
    _check_prompt_mode(wf, prompt_mode, files, base, overrides, prompts)

    graph, targets = build(wf, base)
    copy = graph_copier(graph)  # sees each file's input set on `graph` below
    n_stages = stage_count(wf, base)
    seed_param = wf.params.get(SEED)
    planned = []
    with _gc_paused():
        for file in files or [None]:
            _set_file_input(wf, graph, file, input_names)
            own = overrides.get(file, {})
            for t in range(tries):
                values = {**base, **own}
                changed = set(own)
                if seed_param is not None:
                    s = rng.randrange(RANDOM_SEED_LIMIT) if randomize_seed else base[SEED] + t
                    try:
                        values[SEED] = coerce(seed_param, s)
                    except ValueError as exc:
                        raise ParamError(SEED, f"try {t + 1}: {exc}") from None
                    changed.add(SEED)
                derive(wf, values, n_stages, changed)
                run_checks(wf, values, changed)
                out = copy()
                apply(out, targets, values, changed)
                planned.append(PlannedPrompt(file, t, values.get(SEED), values, out))
    return planned


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic graphs.

    Each graph is a few hundred small dicts and lists that all stay alive; without the pause
    the collector keeps re-scanning them and takes about half of the planning time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _set_file_input(wf: LoadedWorkflow, graph: dict[str, Any], file: str | None,
                    input_names: Mapping[str, str] | None) -> None:
    name = file
    if file is not None and input_names is not None:
        if file not in input_names:
            raise InputError(f"{file}: no staged name was given for this file")
        name = input_names[file]
    try:
        set_input(wf, graph, name)
    except ParamError as exc:
        raise ParamError(exc.param, exc.message, file=file) from None


def discover_inputs(wf: LoadedWorkflow, folder: Path) -> list[Path]:
    """The workflow's input files in `folder` (glob + extensions), naturally sorted."""
    spec = wf.definition.input
    if spec.kind == "none":
        raise InputError(f"workflow {wf.name} takes no input files")
    if not folder.exists():
        raise InputError(f"input folder not found: {folder}")
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}")
    suffixes = spec.suffixes
    seen = 0
    found = []
    for path in folder.glob(spec.glob):
        rel = path.relative_to(folder).parts
        if not path.is_file() or any(p.startswith(".") or p == PROCESSED_DIR for p in rel):
            continue
        seen += 1
        if path.suffix.lower() in suffixes:
            found.append(path)
    if not found:
        what = "is empty" if not seen else f"has {seen} file(s) but none"
        raise InputError(f"input folder {folder} {what} matching {spec.glob!r} with extension "
                         f"{', '.join(suffixes)} (workflow {wf.name} takes {spec.kind} files)")
    return sorted(found, key=lambda p: _natural(p.relative_to(folder).as_posix()))


def _natural(text: str) -> tuple[tuple[Any, ...], str]:
    """Sort key: digit runs compare as numbers (img2 before img10), case-insensitive, then exact."""
    parts = tuple((0, int(s), "") if s.isdigit() else (1, 0, s) for s in re.split(r"(\d+)", text.casefold()) if s)
    return parts, text


def _check_files(wf: LoadedWorkflow, files: list[str]) -> None:
    spec = wf.definition.input
    if spec.kind == "none":
        if files:
            raise InputError(f"workflow {wf.name} takes no input files, got {len(files)}")
        return
    if not files:
        raise InputError(f"workflow {wf.name} needs at least one input {spec.kind}")
    if not spec.multiple and len(files) != 1:
        raise InputError(f"workflow {wf.name} takes exactly one input {spec.kind}, got {len(files)}")
    seen: set[str] = set()
    for f in files:
        if f in seen:
            raise InputError(f"{f} is listed twice")
        seen.add(f)


def _per_file(files: list[str], per_file: dict[str, dict[str, Any]], wf: LoadedWorkflow,
              allowed: list[str]) -> dict[str, dict[str, Any]]:
    """Validated overrides keyed by the file they apply to (a key may also be a unique base name)."""
    batch = set(files)
    by_base: dict[str, list[str]] = {}
    for f in files:
        by_base.setdefault(os.path.basename(f.replace("\\", "/")), []).append(f)
    out: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for key, overrides in per_file.items():
        matches = [key] if key in batch else by_base.get(key, [])
        if not matches:
            raise ParamError("per_file_params", f"names {key!r}, which is not in this batch of {len(files)} file(s)")
        if len(matches) > 1:
            raise ParamError("per_file_params", f"{key!r} matches several files ({', '.join(matches)}); use the full path")
        file = matches[0]
        if file in seen:
            raise ParamError("per_file_params", f"{file!r} is given twice (as {key!r} too)")
        seen.add(file)
        if not isinstance(overrides, dict):
            raise ParamError("per_file_params", f"{key!r}: expects an object of parameter values", file=file)
        coerced = {}
        for name, value in overrides.items():
            if name not in allowed:
                can = ", ".join(allowed) or "none in this workflow"
                raise ParamError(name, f"cannot be set per file (per-file parameters: {can})", file=file)
            try:
                coerced[name] = coerce(wf.lookup(name)[0], value)
            except ValueError as exc:
                raise ParamError(name, str(exc), file=file) from None
        if coerced:  # an empty entry overrides nothing
            out[file] = coerced
    return out


def _check_prompt_mode(wf: LoadedWorkflow, mode: str, files: list[str], base: dict[str, Any],
                       overrides: dict[str, dict[str, Any]], prompts: list[str]) -> None:
    if mode == "manual":
        if overrides:
            raise ParamError("per_file_params", "prompt_mode manual uses the same prompt for every file; "
                                                "choose per-image manual to give files their own prompts")
        for name in prompts:
            if not base[name].strip():
                raise ParamError(name, "is empty; prompt_mode manual uses it for every input")
        return
    if not prompts:
        raise ParamError("prompt_mode", f"workflow {wf.name} has no prompt; use manual")
    if not files:
        raise ParamError("prompt_mode", f"{mode} needs input files; workflow {wf.name} takes none")
    for name in prompts:
        if mode == "per-image auto":
            lacking = [f for f in files if not overrides.get(f, {}).get(name, "").strip()]
            advice = "run auto-prompt for them first, or switch to per-image manual"
        else:
            lacking = [f for f in files if not overrides.get(f, {}).get(name, base[name]).strip()]
            advice = "give each its own prompt or fill the shared one"
        if lacking:
            shown = ", ".join(lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
            raise ParamError(name, f"no prompt for {len(lacking)} file(s): {shown}; {advice}")
