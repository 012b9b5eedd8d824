"""Test helpers: the repo root, captured graphs, closed schemas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fixtures.fakecomfy.captured import load_comfy_json

REPO = Path(__file__).resolve().parents[1]


def comfy_graph(name: str) -> dict[str, Any]:
    """A model-free API graph captured from a real ComfyUI 0.8.0 (tests/fixtures/comfy/graphs)."""
    return load_comfy_json(f"graphs/{name}.json")


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


def statements_run(store: Any, call: Callable[[], Any]) -> list[str]:
    """Every SQL statement ``call`` runs on a store's connection (BEGIN and COMMIT too), with
    its values inlined: for tests that bound the statements an operation costs."""
    seen: list[str] = []
    store._conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        store._conn.set_trace_callback(None)
    return seen
