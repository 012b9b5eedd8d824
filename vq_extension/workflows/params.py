"""Parameters -> resolved values: coercion, ranges, presets, flip, stages, derived values, checks."""

from __future__ import annotations

import difflib
from typing import Any

from .loaded import RESOLUTION_KEYS, LoadedWorkflow
from .values import coerce, to_bool

CUSTOM = "custom"


class ParamError(ValueError):
    """A parameter value a user must change; `param` names it, `file` the input file if per-file."""

    def __init__(self, param: str, message: str, *, file: str | None = None):
        self.param = param
        self.message = message
        self.file = file
        super().__init__(f"{file}: {param}: {message}" if file else f"{param}: {message}")


def stage_count(wf: LoadedWorkflow, raw: dict[str, Any]) -> int:
    spec = wf.definition.stages
    if spec is None:
        return 1
    p = wf.params[spec.count_param]
    try:
        return coerce(p, raw[p.name]) if p.name in raw else wf.defaults[p.name]
    except ValueError as exc:
        raise ParamError(p.name, str(exc)) from None


def resolve_params(wf: LoadedWorkflow, raw: dict[str, Any] | None) -> dict[str, Any]:
    """Every parameter's value for one render, from user values over defaults.

    Raises ParamError for an unknown name, a bad type or range, a preset conflict, a derived
    value that leaves its range, or a failed check. Idempotent: resolving the result again
    gives the same dict.
    """
    raw = dict(raw or {})
    n_stages = stage_count(wf, raw)
    values: dict[str, Any] = {}
    derived: set[str] = set()
    for name, p, _k in wf.concrete(n_stages):
        if p.derived is not None:
            derived.add(name)
        elif name in raw:
            try:
                values[name] = coerce(p, raw[name])
            except ValueError as exc:
                raise ParamError(name, str(exc)) from None
        else:
            values[name] = wf.defaults[p.name]
    _unknown(wf, raw, values.keys() | derived, n_stages)
    if wf.definition.resolution is not None:
        _resolution(wf, raw, values)
    derive(wf, values, n_stages)
    for name in derived & raw.keys():
        if raw[name] != values[name]:
            raise ParamError(name, f"is computed as {wf.exprs[wf.lookup(name)[0].name].text} "
                                   f"(= {values[name]!r}); leave it out or change what it is computed from")
    run_checks(wf, values)
    return values


def derive(wf: LoadedWorkflow, values: dict[str, Any], n_stages: int, changed: set[str] | None = None) -> None:
    """Compute derived values in place; with `changed`, only those that depend on it (and add them)."""
    for declared in wf.derived_order:
        p, expr = wf.params[declared], wf.exprs[declared]
        if changed is not None and not expr.names & changed:
            continue
        for k in range(1, n_stages + 1) if p.per_stage else (None,):
            name = declared.replace("{k}", str(k)) if k else declared
            scope = values if k is None else {**values, "k": k}
            try:
                result = expr(scope)
                if p.type == "int" and isinstance(result, float) and result.is_integer():
                    result = int(result)
                values[name] = coerce(p, result)
            except (ValueError, TypeError, ZeroDivisionError) as exc:
                inputs = ", ".join(f"{n}={scope[n]!r}" for n in sorted(expr.names) if n in scope)
                raise ParamError(name, f"{expr.text} with {inputs}: {exc}") from None
            if changed is not None:
                changed.add(name)


def run_checks(wf: LoadedWorkflow, values: dict[str, Any], changed: set[str] | None = None) -> None:
    for check, expr in wf.checks:
        if changed is None or expr.names & changed:
            if not expr(values):
                raise ParamError(check.param or sorted(expr.names)[0], check.message)


def prompt_params(wf: LoadedWorkflow, values: dict[str, Any]) -> list[str]:
    """Names of the prompt parameters (those a file can override) for these values' stage count."""
    return [name for name, p, _k in wf.concrete(stage_count(wf, values)) if p.per_file]


def timing(wf: LoadedWorkflow, values: dict[str, Any]) -> dict[str, Any] | None:
    """fps, frames and seconds per stage and in total, for auto-prompt's temporal markers."""
    t = wf.definition.timing
    if t is None:
        return None
    fps, frames, stages = (values[v] if isinstance(v, str) else v for v in (t.fps, t.frames_per_stage, t.stages))
    total = frames + (frames - 1) * (stages - 1)  # each later stage drops its first frame (the seam)
    return {"fps": fps, "frames_per_stage": frames, "stages": stages, "total_frames": total,
            "seconds_per_stage": round(frames / fps, 3), "total_seconds": round(total / fps, 3)}


def _unknown(wf: LoadedWorkflow, raw: dict[str, Any], known: set[str], n_stages: int) -> None:
    allowed = known | (set(RESOLUTION_KEYS) if wf.definition.resolution else set())
    for name in raw:
        if name in allowed:
            continue
        hit = wf.lookup(name)
        if hit is not None and hit[1] is not None:
            raise ParamError(name, f"stage {hit[1]} does not exist: this render has {n_stages} stage(s)")
        close = difflib.get_close_matches(name, sorted(allowed), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(allowed))}"
        raise ParamError(name, f"unknown parameter for workflow {wf.name}; {hint}")


def _resolution(wf: LoadedWorkflow, raw: dict[str, Any], values: dict[str, Any]) -> None:
    res = wf.definition.resolution
    wp, hp = res.width_param, res.height_param
    try:
        flip = to_bool(raw.get("flip_orientation", False))
    except ValueError as exc:
        raise ParamError("flip_orientation", str(exc)) from None
    if flip and not res.flip:
        raise ParamError("flip_orientation", f"workflow {wf.name} has no orientation toggle")
    presets = {p.name: p for p in res.presets}
    preset = raw.get("resolution")
    if preset is None:
        preset = CUSTOM if (wp in raw or hp in raw) else res.default
    if preset not in presets and preset != CUSTOM:
        raise ParamError("resolution", f"{preset!r} is not a preset; choose one of {', '.join(presets)} or custom")
    if preset == CUSTOM:
        if flip:  # the flip is applied to the given size and so consumed: resolving again keeps it
            values[wp], values[hp] = values[hp], values[wp]
        values.update(resolution=CUSTOM, flip_orientation=False)
        return
    size = (presets[preset].width, presets[preset].height)
    if flip:
        size = size[::-1]
    for name, want in zip((wp, hp), size):
        if name in raw and values[name] != want:
            raise ParamError(name, f"{values[name]} conflicts with preset {preset} ({size[0]}×{size[1]}"
                                   f"{', flipped' if flip else ''}); set resolution to custom to choose a size")
        values[name] = want
    values.update(resolution=preset, flip_orientation=flip)
