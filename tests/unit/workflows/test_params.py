"""resolve_params: coercion, ranges, presets and flip, stages, derived values, checks — and each error."""

from __future__ import annotations

import pytest

from vq_extension.workflows import ParamError, resolve_params, timing
from vq_extension.workflows.expr import ExprError, compile_expr


def err(wf, raw) -> ParamError:
    with pytest.raises(ParamError) as caught:
        resolve_params(wf, raw)
    return caught.value


def test_defaults_and_coercion_from_text(shipped):
    wf = shipped("wan-i2v")
    v = resolve_params(wf, {"steps": "6", "cfg": "3.5", "length": 41.0, "seed": " 12 "})
    assert (v["steps"], v["cfg"], v["length"], v["seed"]) == (6, 3.5, 41, 12)
    assert v["fps"] == 24.0 and v["width"] == 832 and v["height"] == 480 and v["resolution"] == "480p-landscape"
    assert v["extra_loras"] == [] and v["positive_prompt"] == ""


def test_resolving_is_idempotent(shipped):
    for name in ("wan-i2v", "wan-context-3stage-split-prompts", "wan-i2v-nstage", "image-upscale-model", "t2i"):
        wf = shipped(name)
        once = resolve_params(wf, {"flip_orientation": True} if wf.definition.resolution else {})
        assert resolve_params(wf, once) == once, name
    custom = resolve_params(shipped("wan-i2v"), {"width": 640, "height": 352, "flip_orientation": "yes"})
    assert resolve_params(shipped("wan-i2v"), custom) == custom


@pytest.mark.parametrize("raw, param, message", [
    ({"steps": 0}, "steps", "0 is below the minimum 1 (allowed 1–100)"),
    ({"steps": 101}, "steps", "101 is above the maximum 100 (allowed 1–100)"),
    ({"steps": "four"}, "steps", "expects an integer, got 'four'"),
    ({"steps": 4.5}, "steps", "expects an integer, got 4.5"),
    ({"steps": True}, "steps", "expects an integer, got True"),
    ({"cfg": "nan"}, "cfg", "expects a finite number"),
    ({"cfg": [1]}, "cfg", "expects a number"),
    ({"length": 80}, "length", "80 is not allowed: use 5 plus a multiple of 4 (e.g. 77 or 81)"),
    ({"width": 840, "resolution": "custom"}, "width", "use 128 plus a multiple of 16"),
    ({"positive_prompt": 5}, "positive_prompt", "expects text, got 5"),
    ({"sampler_name": ""}, "sampler_name", "expects a name from the samplers list"),
    ({"lightning_lora_high": 3}, "lightning_lora_high", "expects a LoRA file name"),
    ({"flip_orientation": "maybe"}, "flip_orientation", "expects true or false"),
    ({"resolution": "1080p"}, "resolution", "'1080p' is not a preset; choose one of 480p-landscape"),
    ({"resolution": "720p-portrait", "width": 1280}, "width", "1280 conflicts with preset 720p-portrait (720×1280)"),
    ({"stepz": 4}, "stepz", "unknown parameter for workflow wan-i2v; did you mean steps"),
    ({"positive_prompt_stage2": "x"}, "positive_prompt_stage2", "unknown parameter"),
    ({"split_step": 5}, "split_step", "must not be above steps"),
    ({"extra_loras": "a.safetensors"}, "extra_loras", "expects a list of LoRAs"),
    ({"extra_loras": [{"hi": "a"}]}, "extra_loras", "LoRA 1: unknown key(s) hi; allowed: high, low, name, strength"),
    ({"extra_loras": [{"high": None}]}, "extra_loras", "LoRA 1 names no file"),
    ({"extra_loras": [{"name": "a", "strength": 11}]}, "extra_loras", "LoRA 1: strength_high: 11.0 is above the maximum 10"),
    ({"extra_loras": ["a"] * 9}, "extra_loras", "9 LoRAs given; at most 8"),
])
def test_each_parameter_error_names_the_parameter_and_the_rule(shipped, raw, param, message):
    e = err(shipped("wan-i2v"), raw)
    assert e.param == param
    assert message in e.message
    assert str(e).startswith(f"{param}: ")


def test_select_with_static_options_and_numeric_values(shipped):
    wf = shipped("image-upscale-model")
    assert resolve_params(wf, {"model_factor": "2", "target_factor": 3})["post_scale"] == 1.5
    e = err(wf, {"model_factor": 3})
    assert e.param == "model_factor" and e.message == "3 is not one of 1, 2, 4, 8"
    assert resolve_params(wf, {"target_factor": 8, "model_factor": 1})["post_scale"] == 8.0
    assert err(wf, {"post_scale": 0.7}).message.startswith("is computed as target_factor / model_factor (= 0.5)")


def test_presets_and_flip(shipped):
    wf = shipped("wan-i2v")
    v = resolve_params(wf, {"resolution": "720p-landscape", "flip_orientation": True})
    assert (v["width"], v["height"], v["resolution"], v["flip_orientation"]) == (720, 1280, "720p-landscape", True)
    v = resolve_params(wf, {"resolution": "480p-portrait"})
    assert (v["width"], v["height"]) == (480, 832)
    v = resolve_params(wf, {"width": 640, "height": 352})  # a size without a preset means custom
    assert (v["width"], v["height"], v["resolution"]) == (640, 352, "custom")
    v = resolve_params(wf, {"resolution": "custom", "width": 640, "height": 352, "flip_orientation": True})
    assert (v["width"], v["height"], v["flip_orientation"]) == (352, 640, False)
    v = resolve_params(wf, {"resolution": "480p-landscape", "width": 832})  # agreeing values are fine
    assert v["height"] == 480


def test_split_stage_parameters_and_derived_seeds(shipped):
    wf = shipped("wan-context-3stage-split-prompts")
    v = resolve_params(wf, {"seed": 100, "length": 49})
    assert (v["seed_stage2"], v["seed_stage3"]) == (101, 102)
    assert (v["last_frame_index_stage1"], v["last_frame_index_stage2"]) == (48, 48)
    e = err(wf, {"seed": 9007199254740991})
    assert e.param == "seed_stage2"
    assert e.message == "seed + 1 with seed=9007199254740991: 9007199254740992 is above the maximum 9007199254740991 (allowed 0–9007199254740991)"
    assert err(wf, {"seed_stage2": 5}).message.startswith("is computed as seed + 1")
    assert resolve_params(wf, {"seed": 3, "seed_stage2": 4})["seed_stage2"] == 4  # agreeing is accepted


def test_dynamic_stage_count_decides_which_stage_names_exist(shipped):
    wf = shipped("wan-i2v-nstage")
    v = resolve_params(wf, {"stages": 5, "positive_prompt_stage5": "end", "seed": 7})
    assert [v[f"seed_stage{k}"] for k in range(1, 6)] == [7, 8, 9, 10, 11]
    assert v["positive_prompt_stage5"] == "end" and "positive_prompt_stage6" not in v
    e = err(wf, {"stages": 2, "positive_prompt_stage3": "x"})
    assert (e.param, e.message) == ("positive_prompt_stage3", "stage 3 does not exist: this render has 2 stage(s)")
    assert err(wf, {"stages": 9}).message == "9 is above the maximum 8 (allowed 1–8)"
    assert timing(wf, resolve_params(wf, {"stages": 4, "fps": 16}))["total_seconds"] == round(321 / 16, 3)


def test_removable_lora_accepts_empty(shipped):
    v = resolve_params(shipped("wan-i2v"), {"lightning_lora_high": "", "lightning_lora_low": None})
    assert v["lightning_lora_high"] is None and v["lightning_lora_low"] is None


def test_lora_entries_are_normalized(shipped):
    v = resolve_params(shipped("wan-i2v"), {"extra_loras": [
        "both.safetensors",
        {"high": "h.safetensors", "low": None, "strength": "0.5"},
        {"name": "x.safetensors", "low": "x_low.safetensors", "strength_low": 0.25},
    ]})
    assert v["extra_loras"] == [
        {"high": "both.safetensors", "strength_high": 1.0, "low": "both.safetensors", "strength_low": 1.0},
        {"high": "h.safetensors", "strength_high": 0.5, "low": None, "strength_low": 0.5},
        {"high": "x.safetensors", "strength_high": 1.0, "low": "x_low.safetensors", "strength_low": 0.25},
    ]


def test_image_parameter_names_stay_inside_the_input_folder(load_def, mini):
    defn, template = mini
    defn["params"].append({"name": "mask", "type": "image", "default": "mask.png"})
    wf = load_def(defn, template)
    assert resolve_params(wf, {"mask": "vq/m.png"})["mask"] == "vq/m.png"
    for bad in ("/etc/passwd", "C:\\\\x.png", "../x.png", ""):
        assert err(wf, {"mask": bad}).param == "mask"


@pytest.mark.parametrize("text", ["().__class__", "a[0]", "2 ** 99", "[x for x in y]", "open('f')", "lambda: 1",
                                  "min(a, key=b)", "b'x'"])
def test_expressions_are_whitelisted(text):
    with pytest.raises(ExprError):
        compile_expr(text)


def test_expressions_evaluate():
    e = compile_expr("max(1, a - 1) if b else round(a / 3)")
    assert e.names == {"a", "b"}
    assert (e({"a": 10, "b": True}), e({"a": 10, "b": False})) == (9, 3)
    with pytest.raises(ExprError, match="needs b"):
        e({"a": 1})
