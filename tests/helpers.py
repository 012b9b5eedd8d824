"""Shared test helpers: where the captured ComfyUI data lives, and the repo root."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``shared/`` beside the repo (CI lays it there), or VQ_SHARED_DIR."""
    return Path(os.environ.get("VQ_SHARED_DIR") or REPO.parent / "shared")


def comfy_graph(name: str) -> dict[str, Any]:
    """A model-free API graph captured from a real ComfyUI 0.8.0 (shared/comfy/graphs)."""
    return json.loads((shared_dir() / "comfy" / "graphs" / f"{name}.json").read_text())


def closed(schema: Any) -> Any:
    """The schema with every object closed (additionalProperties false): a field the server
    sends that the document does not declare then fails validation."""
    if isinstance(schema, dict):
        out = {k: closed(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [closed(v) for v in schema]
    return schema
