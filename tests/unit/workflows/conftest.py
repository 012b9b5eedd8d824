"""Fixtures for the workflow tests: the 0.8.0 node schemas, the shipped catalog, scratch definitions.

The schemas were captured from real ComfyUIs (tests/fixtures/comfy/, see its README).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.fakecomfy.captured import load_comfy_json
from vq_extension.workflows import Catalog, LoadedWorkflow, load_workflow

REPO = Path(__file__).resolve().parents[3]
DEFS = REPO / "workflow_defs_v2"
GOLDEN = Path(__file__).parent / "golden"


def _object_info(version: str) -> dict[str, Any]:
    return load_comfy_json(f"object_info-{version}.json")


@pytest.fixture(scope="session")
def object_info() -> dict[str, Any]:
    return _object_info("0.8.0")


@pytest.fixture(scope="session")
def object_info_0364() -> dict[str, Any]:
    return _object_info("0.3.64")


@pytest.fixture(scope="session")
def shipped_dir() -> Path:
    return DEFS


@pytest.fixture(scope="session")
def catalog(object_info: dict[str, Any]) -> Catalog:
    cat = Catalog([DEFS], object_info=lambda: object_info)
    assert cat.reload() == []
    return cat


@pytest.fixture(scope="session")
def shipped(catalog: Catalog) -> Callable[[str], LoadedWorkflow]:
    return catalog.get


@pytest.fixture
def write_def(tmp_path: Path) -> Callable[..., Path]:
    """Write a definition (dict) and its template (dict) into tmp_path; returns the YAML path."""

    def write(defn: dict[str, Any], template: dict[str, Any] | None = None, *, folder: Path | None = None,
              file: str | None = None) -> Path:
        where = folder or tmp_path
        where.mkdir(parents=True, exist_ok=True)
        if template is not None:
            (where / defn["template"]).parent.mkdir(parents=True, exist_ok=True)
            (where / defn["template"]).write_text(json.dumps(template), encoding="utf-8")
        path = where / (file or f"{defn['name']}.yaml")
        path.write_text(yaml.safe_dump(defn, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_def(write_def: Callable[..., Path]) -> Callable[..., LoadedWorkflow]:
    return lambda defn, template: load_workflow(write_def(defn, template))


@pytest.fixture
def golden() -> Callable[[str, Any], None]:
    return _golden


def _golden(name: str, actual: Any) -> None:
    """Compare with golden/<name>.json; VQ_UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN / f"{name}.json"
    text = json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("VQ_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}; run with VQ_UPDATE_GOLDEN=1 to create it"
    assert json.loads(path.read_text(encoding="utf-8")) == actual, f"rendered graph differs from {path}"


@pytest.fixture
def mini() -> tuple[dict[str, Any], dict[str, Any]]:
    """A small valid definition and template (image in, seeded noise, scale, image out) to vary."""
    template = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "in.png"}},
        "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 0, "strength": 0.1}},
        "3": {"class_type": "ImageScaleBy", "inputs": {"image": ["2", 0], "upscale_method": "lanczos", "scale_by": 1.0}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "t/x"}},
    }
    defn = {
        "name": "mini", "mode": "image_upscale", "template": "templates/mini.json",
        "input": {"kind": "image", "binding": "1.inputs.image"},
        "outputs": [{"node": "4", "kind": "image"}],
        "params": [
            {"name": "seed", "type": "int", "default": 1, "min": 0, "max": 1000, "bind": "2.inputs.seed"},
            {"name": "scale_by", "type": "float", "default": 1.5, "min": 0.01, "max": 8, "bind": "3.inputs.scale_by"},
            {"name": "method", "type": "select", "default": "lanczos", "options": ["bicubic", "lanczos"],
             "bind": "3.inputs.upscale_method"},
        ],
    }
    return defn, template
