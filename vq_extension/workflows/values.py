"""Turn one raw parameter value (JSON, CLI text or YAML) into the typed value a graph gets.

Each function raises ValueError with a message that names the allowed range or values;
callers add the parameter name (params.ParamError) or the definition field.
Coercion is idempotent: a coerced value coerces to itself, so resolved parameters can be
stored and resolved again.
"""

from __future__ import annotations

import math
from typing import Any

from .schema import ParamDef

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def coerce(p: ParamDef, raw: Any) -> Any:
    if p.type == "int":
        return _in_range(p, _to_int(raw))
    if p.type == "float":
        return _in_range(p, _to_float(raw))
    if p.type == "bool":
        return to_bool(raw)
    if p.type == "text":
        if not isinstance(raw, str):
            raise ValueError(f"expects text, got {raw!r}")
        return raw
    if p.type == "select":
        return _select(p, raw)
    if p.type == "image":
        return input_name(raw)
    if p.chain is not None:
        return _lora_entries(p, raw)
    return _lora_file(p, raw)


def to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError(f"expects true or false, got {raw!r}")


def input_name(raw: Any) -> str:
    """A file name as ComfyUI's loaders take it: relative to its input folder."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"expects a file name inside ComfyUI's input folder, got {raw!r}")
    text = raw.strip()
    parts = text.replace("\\", "/").split("/")
    if text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":") or ".." in parts:
        raise ValueError(f"{text!r} must be a name relative to ComfyUI's input folder (stage the file first)")
    return text


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"expects an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            raw = float(text)
        except ValueError:
            raise ValueError(f"expects an integer, got {raw!r}") from None
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    raise ValueError(f"expects an integer, got {raw!r}")


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError(f"expects a number, got {raw!r}")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expects a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expects a finite number, got {raw!r}")
    return value


def _in_range(p: ParamDef, value: int | float) -> int | float:
    if p.min is not None and value < p.min:
        raise ValueError(f"{value} is below the minimum {p.min}{_span(p)}")
    if p.max is not None and value > p.max:
        raise ValueError(f"{value} is above the maximum {p.max}{_span(p)}")
    if p.type == "int" and p.step is not None and p.step > 1:
        base = int(p.min or 0)
        if (value - base) % int(p.step):
            below = value - (value - base) % int(p.step)
            raise ValueError(f"{value} is not allowed: use {base} plus a multiple of {int(p.step)} "
                             f"(e.g. {below} or {below + int(p.step)})")
    return value


def _span(p: ParamDef) -> str:
    if p.min is not None and p.max is not None:
        return f" (allowed {p.min}–{p.max})"
    return ""


def _select(p: ParamDef, raw: Any) -> Any:
    if not p.options:  # a live list only (options_source): the server validates membership
        if not isinstance(raw, str) or not raw:
            raise ValueError(f"expects a name from the {p.options_source} list, got {raw!r}")
        return raw
    for option in p.options:
        if raw == option.value or (isinstance(raw, str) and raw.strip() == str(option.value)):
            return option.value
    allowed = ", ".join(repr(o.value) for o in p.options)
    raise ValueError(f"{raw!r} is not one of {allowed}")


def _lora_file(p: ParamDef, raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if p.removable:
            return None  # the loader node is removed; its links are kept (render.bypass)
        raise ValueError("expects a LoRA file name (this LoRA cannot be removed)")
    if not isinstance(raw, str):
        raise ValueError(f"expects a LoRA file name, got {raw!r}")
    return raw.strip()


def _lora_entries(p: ParamDef, raw: Any) -> list[dict[str, Any]]:
    """Normalize the extra-LoRA list to `[{<chain>: file|None, "strength_<chain>": float}]`.

    An entry is a file name (applied to every chain at strength 1.0), or an object with
    `name` (every chain) and/or per-chain names (`high`, `low`), `strength` and/or
    `strength_<chain>`. A chain whose name is null skips that entry.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("expects a list of LoRAs, e.g. [{\"high\": \"a_high.safetensors\", "
                         "\"low\": \"a_low.safetensors\", \"strength\": 0.8}]")
    if len(raw) > p.max_items:
        raise ValueError(f"{len(raw)} LoRAs given; at most {p.max_items}")
    chains = [c.name for c in p.chain or []]
    allowed = {"name", "strength", *chains, *(f"strength_{c}" for c in chains)}
    entries = []
    for i, item in enumerate(raw, 1):
        entry = {"name": item} if isinstance(item, str) else item
        if not isinstance(entry, dict):
            raise ValueError(f"LoRA {i}: expects a file name or an object, got {item!r}")
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise ValueError(f"LoRA {i}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        out: dict[str, Any] = {}
        for chain in chains:
            file = entry.get(chain, entry.get("name"))
            if file is not None and not isinstance(file, str):
                raise ValueError(f"LoRA {i}: {chain} expects a file name, got {file!r}")
            out[chain] = file.strip() if file and file.strip() else None
            strength = entry.get(f"strength_{chain}", entry.get("strength", 1.0))
            try:
                out[f"strength_{chain}"] = _in_range(p, _to_float(strength))
            except ValueError as exc:
                raise ValueError(f"LoRA {i}: strength_{chain}: {exc}") from None
        if not any(out[c] for c in chains):
            raise ValueError(f"LoRA {i} names no file (give name, or one of {', '.join(chains)})")
        entries.append(out)
    return entries
