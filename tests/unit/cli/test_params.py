"""--param / --per-file: syntax, and values typed by the workflow's description."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO
from vq_extension.cli.errors import UsageError
from vq_extension.cli.params import (
    coerce_params,
    coerce_per_file,
    parse_params,
    parse_per_file,
)
from vq_extension.workflows import Catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog([Path(REPO / "workflow_defs_v2")])


@pytest.fixture(scope="module")
def nstage(catalog: Catalog) -> dict[str, Any]:
    return catalog.describe("wan-i2v-nstage")


# A description with every parameter type the CLI must type, as GET /vq/v1/workflows/{name} answers.
SYNTHETIC = {"name": "every-type", "prompt_params": ["prompt"], "params": [
    {"name": "prompt", "type": "text", "per_file": True},
    {"name": "steps", "type": "int", "min": 1, "max": 100},
    {"name": "width", "type": "int", "min": 64, "max": 2048, "step": 16},
    {"name": "cfg", "type": "float", "min": 0, "max": 30},
    {"name": "tiled", "type": "bool"},
    {"name": "frames", "type": "select", "options": [{"value": 49}, {"value": 81}]},
    {"name": "sampler_name", "type": "select", "options": None, "options_source": "samplers"},
    {"name": "unet", "type": "select", "options": [{"value": "a.safetensors"}], "options_live": True,
     "options_source": "diffusion_models"},
    {"name": "mask", "type": "image"},
    {"name": "lora", "type": "lora", "removable": True},
    {"name": "fixed_lora", "type": "lora", "removable": False},
    {"name": "extra", "type": "lora", "min": 0, "max": 2, "chain": [{"name": "model"}], "max_items": 2},
    {"name": "seed_2", "type": "int", "derived": "seed + 1"},
]}


# --- syntax --------------------------------------------------------------------------------------


def test_parse_params_splits_on_the_first_equals() -> None:
    assert parse_params(["steps=20", "prompt=a=b c", "empty="]) == {"steps": "20", "prompt": "a=b c", "empty": ""}


@pytest.mark.parametrize("text", ["steps", "=20", "Steps=20", "2steps=1", "st eps=1", "steps:20"])
def test_malformed_params_name_the_argument(text: str) -> None:
    with pytest.raises(UsageError, match=r"--param .*expected NAME=VALUE") as info:
        parse_params([text])
    assert repr(text) in info.value.message


def test_a_param_given_twice_is_an_error() -> None:
    with pytest.raises(UsageError, match="--param steps is given twice"):
        parse_params(["steps=1", "steps=2"])


@pytest.mark.parametrize("text, file, name, value", [
    ("cat.png:prompt=the cat yawns", "cat.png", "prompt", "the cat yawns"),
    (r"C:\stills\cat.png:prompt=x", r"C:\stills\cat.png", "prompt", "x"),
    ("/data/a b.png:prompt=time: 5s, mood=calm", "/data/a b.png", "prompt", "time: 5s, mood=calm"),
    ("a.png:prompt=", "a.png", "prompt", ""),
])
def test_parse_per_file(text: str, file: str, name: str, value: str) -> None:
    assert parse_per_file([text]) == {file: {name: value}}


@pytest.mark.parametrize("text", ["cat.png", "cat.png=x", ":prompt=x", "cat.png:Prompt=x"])
def test_malformed_per_file(text: str) -> None:
    with pytest.raises(UsageError, match="expected FILE:NAME=VALUE"):
        parse_per_file([text])


def test_per_file_merges_one_files_values_and_refuses_repeats() -> None:
    assert parse_per_file(["a.png:p=1", "a.png:q=2", "b.png:p=3"]) == {"a.png": {"p": "1", "q": "2"},
                                                                       "b.png": {"p": "3"}}
    with pytest.raises(UsageError, match="a.png:p is given twice"):
        parse_per_file(["a.png:p=1", "a.png:p=2"])


# --- typing by definition ------------------------------------------------------------------------


@pytest.mark.parametrize("name, text, value", [
    ("prompt", "  spaced  ", "  spaced  "),
    ("steps", "20", 20),
    ("steps", "20.0", 20),
    ("width", "832", 832),
    ("cfg", "3.5", 3.5),
    ("cfg", "7", 7.0),
    ("tiled", "yes", True),
    ("tiled", "OFF", False),
    ("frames", "81", 81),
    ("sampler_name", "dpmpp_2m", "dpmpp_2m"),  # a live list: the server checks membership
    ("unet", "not-installed.safetensors", "not-installed.safetensors"),  # live options are suggestions
    ("mask", "masks/a.png", "masks/a.png"),
    ("lora", "", None),
    ("lora", "none", None),
    ("lora", "style.safetensors", "style.safetensors"),
    ("extra", "a.safetensors", [{"model": "a.safetensors", "strength_model": 1.0}]),
    ("extra", '[{"name": "a.safetensors", "strength": 0.5}]', [{"model": "a.safetensors", "strength_model": 0.5}]),
])
def test_values_are_typed_by_the_definition(name: str, text: str, value: Any) -> None:
    result = coerce_params(SYNTHETIC, {name: text})[name]
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize("name, text, message", [
    ("steps", "abc", "--param steps: expects an integer, got 'abc'"),
    ("steps", "2.5", "--param steps: expects an integer"),
    ("steps", "0", "--param steps: 0 is below the minimum 1 (allowed 1–100)"),
    ("width", "100", "--param width: 100 is not allowed: use 64 plus a multiple of 16"),
    ("cfg", "nan", "--param cfg: expects a finite number"),
    ("tiled", "maybe", "--param tiled: expects true or false"),
    ("frames", "50", "--param frames: '50' is not one of 49, 81"),
    ("mask", "/etc/passwd", "--param mask: '/etc/passwd' must be a name relative to ComfyUI's input folder"),
    ("fixed_lora", "", "--param fixed_lora: expects a LoRA file name (this LoRA cannot be removed)"),
    ("extra", "[oops", "--param extra: not valid JSON"),
    ("extra", "a,b,c", "--param extra: 3 LoRAs given; at most 2"),
    ("extra", '[{"name": "a", "strength": 5}]', "--param extra: LoRA 1: strength_model: 5.0 is above the maximum 2"),
    ("seed_2", "5", "--param seed_2: is computed as seed + 1; leave it out"),
    ("stepz", "5", "--param stepz: unknown parameter for workflow every-type; did you mean steps?"),
    ("zzz", "5", "--param zzz: unknown parameter for workflow every-type; known: prompt, steps"),
])
def test_invalid_values_name_the_parameter(name: str, text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        coerce_params(SYNTHETIC, {name: text})
    assert info.value.message.startswith(message) and info.value.exit_code == 2


def test_per_file_values_must_be_per_file_parameters() -> None:
    assert coerce_per_file(SYNTHETIC, {"a.png": {"prompt": "x"}}) == {"a.png": {"prompt": "x"}}
    with pytest.raises(UsageError, match=r"--per-file a.png:steps: cannot be set per file \(per-file parameters: "
                                         r"prompt\)"):
        coerce_per_file(SYNTHETIC, {"a.png": {"steps": "3"}})


def test_a_real_definition_types_presets_stages_and_chains(nstage: dict[str, Any]) -> None:
    values = coerce_params(nstage, {"stages": "4", "resolution": "720p-portrait", "flip_orientation": "true",
                                    "positive_prompt_stage4": "the end", "cfg": "1.5",
                                    "lightning_lora_high": "", "extra_loras": "x.safetensors"})
    assert values["stages"] == 4 and values["flip_orientation"] is True and values["cfg"] == 1.5
    assert values["positive_prompt_stage4"] == "the end" and values["lightning_lora_high"] is None
    assert values["extra_loras"][0]["high"] == values["extra_loras"][0]["low"] == "x.safetensors"
    assert coerce_per_file(nstage, {"a.png": {"positive_prompt_stage2": "b"}}) == {
        "a.png": {"positive_prompt_stage2": "b"}}
    with pytest.raises(UsageError, match="--param seed_stage2: is computed as seed"):
        coerce_params(nstage, {"seed_stage2": "1"})
    with pytest.raises(UsageError, match="unknown parameter"):
        coerce_params(nstage, {"positive_prompt_stage0": "x"})  # stages count from 1


def test_every_shipped_definition_types_its_own_defaults(catalog: Catalog) -> None:
    """The CLI can type every default of every shipped workflow from text (str(default))."""
    for name in catalog.names():
        description = catalog.describe(name)
        for entry in description["params"]:
            default = entry["default"]
            if entry.get("derived") or default is None or isinstance(default, (list, dict)):
                continue
            text = str(default).lower() if isinstance(default, bool) else str(default)
            assert coerce_params(description, {entry["name"]: text})[entry["name"]] == default, (name, entry["name"])
