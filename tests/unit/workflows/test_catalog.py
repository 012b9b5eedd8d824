"""Catalog: loading, problem reporting, schema checks against object_info 0.8.0, describe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vq_extension.workflows import (
    Catalog,
    WorkflowNotFound,
    check_graph,
    schema_problems,
)
from vq_extension.workflows.modelcheck import options_from_object_info

SHIPPED = [
    "i2i", "image-upscale", "image-upscale-model", "smoke-image", "smoke-video", "t2i", "video-upscale",
    "wan-context-2stage-split-prompts", "wan-context-3stage-split-prompts", "wan-i2v", "wan-i2v-nstage",
]


def test_every_shipped_workflow_loads_and_validates(catalog, object_info):
    assert catalog.names() == SHIPPED
    assert catalog.problems() == []
    for name in SHIPPED:
        wf = catalog.get(name)
        assert schema_problems(wf, object_info) == []
        assert check_graph(wf.template, object_info) == [], name


def test_shipped_templates_use_core_nodes_only(catalog, object_info):
    for name in SHIPPED:
        for node in catalog.get(name).template.values():
            assert object_info[node["class_type"]]["python_module"].startswith(("nodes", "comfy_extras")), name


def problems_of(tmp_path, object_info=None):
    cat = Catalog([tmp_path], object_info=(lambda: object_info) if object_info else None)
    return cat, {(Path(p.file).name, p.field): p.reason for p in cat.reload()}


def test_invalid_definition_is_reported_and_others_still_load(tmp_path, write_def, mini):
    defn, template = mini
    write_def(defn, template)
    write_def({**defn, "name": "broken", "mode": "video_magic"}, file="broken.yaml")
    (tmp_path / "bad-yaml.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    (tmp_path / "list.yaml").write_text("- just a list\n", encoding="utf-8")
    cat, found = problems_of(tmp_path)
    assert cat.names() == ["mini"]
    assert "'video_gen', 'image_gen', 'video_upscale' or 'image_upscale'" in found[("broken.yaml", "mode")]
    assert "cannot read the definition" in found[("bad-yaml.yaml", "")]
    assert "YAML mapping" in found[("list.yaml", "")]


@pytest.mark.parametrize("change, field, reason", [
    (lambda d: d["params"][0].update(defualt=3), "params.seed.defualt", "Extra inputs are not permitted"),
    (lambda d: d["params"][1].update(bind="3.scale_by"), "params.scale_by.bind[0]", "is not a binding"),
    (lambda d: d["params"][1].update(bind="9.inputs.scale_by"), "params.scale_by.bind", "node 9 is not in the template"),
    (lambda d: d["params"][1].update(default=9), "params.scale_by.default", "9.0 is above the maximum 8 (allowed 0.01–8)"),
    (lambda d: d["params"][2].update(default="area"), "params.method.default", "'area' is not one of"),
    (lambda d: d["params"].append({"name": "x", "type": "int", "bind": "3.inputs.scale_by"}),
     "params.x.default", "needs a default"),
    (lambda d: d["params"].append({"name": "seed", "type": "int", "default": 1}), "params.seed.name", "defined twice"),
    (lambda d: d["params"].append({"name": "y", "type": "float", "derived": "scale_by * zz"}),
     "params.y.derived", "reads zz"),
    (lambda d: d["params"].append({"name": "y", "type": "float", "derived": "__import__('os')"}),
     "params.y.derived", "only min, max"),
    (lambda d: d["params"].extend([{"name": "a", "type": "int", "derived": "b + 1"},
                                   {"name": "b", "type": "int", "derived": "a + 1"}]), "params.a.derived", "cycle"),
    (lambda d: d["params"][0].update(bind=[]), "params.seed", "input seed is not bound to seed"),
    (lambda d: d.update(template="../outside.json"), "template", "must lie inside"),
    (lambda d: d.update(template="templates/missing.json"), "template", "cannot read"),
    (lambda d: d["input"].update(kind="video"), "input.kind", "mode image_upscale takes image input"),
    (lambda d: d["input"].pop("binding"), "input", "needs a binding"),
    (lambda d: d["outputs"][0].update(node="99"), "outputs[0].node", "node 99 is not in the template"),
    (lambda d: d.update(checks=[{"expr": "scale_by < 9", "message": "m", "param": "nope"}]), "checks[0]", "nope"),
    (lambda d: d.update(checks=[{"expr": "scale_by > 2", "message": "too small"}]),
     "params.scale_by", "the defaults do not render: too small"),
    (lambda d: d["params"].append({"name": "p{k}", "type": "text", "per_stage": True}),
     "params.p{k}.per_stage", "need a stages section"),
    (lambda d: d["params"].append({"name": "l", "type": "lora", "removable": True, "default": "x",
                                   "bind": "3.inputs.upscale_method"}), "params.l.removable", "cannot be removed"),
])
def test_definition_errors_name_file_field_and_reason(tmp_path, write_def, mini, change, field, reason):
    defn, template = mini
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "mini.json").write_text(json.dumps(template), encoding="utf-8")
    change(defn)
    write_def(defn)
    cat, found = problems_of(tmp_path)
    assert cat.names() == []
    assert field in {f for _file, f in found}, found
    assert reason in found[("mini.yaml", field)]


@pytest.mark.parametrize("change, reason", [
    (lambda t: t["3"].update(class_type="NoSuchNode"), "node 3 (NoSuchNode): node class 'NoSuchNode' is not installed"),
    (lambda t: t["4"]["inputs"].pop("filename_prefix"), "required input 'filename_prefix' is not set"),
    (lambda t: t["4"]["inputs"].update(images=["1", 1]), "input 'images' expects IMAGE but node 1 output 1 is MASK"),
    (lambda t: t["4"]["inputs"].update(images=["1", 5]), "links to output 5 of node 1 (LoadImage), which has 2"),
    (lambda t: t["3"]["inputs"].update(image="not a link"), "expects a link to a IMAGE output"),
    (lambda t: t["4"].update(class_type="ImageInvert", inputs={"image": ["3", 0]}), "no output node"),
])
def test_template_checked_against_node_schemas(tmp_path, write_def, mini, object_info, change, reason):
    defn, template = mini
    change(template)
    write_def(defn, template)
    cat, found = problems_of(tmp_path, object_info)
    assert cat.names() == []
    assert any(reason in r for r in found.values()), found


def test_bound_input_must_exist_on_the_node_class(load_def, mini, object_info):
    defn, template = mini
    defn["params"][1]["bind"] = "3.inputs.scale"
    problems = dict(schema_problems(load_def(defn, template), object_info))
    assert "ImageScaleBy has no input 'scale'" in problems["params.scale_by.bind"]


def test_catalog_ignores_inputs_the_server_does_not_declare(tmp_path, write_def, mini, object_info):
    defn, template = mini
    template["3"]["inputs"]["resolution_steps"] = 8  # e.g. an input newer ComfyUI versions added
    write_def(defn, template)
    cat, found = problems_of(tmp_path, object_info)
    assert found == {} and cat.names() == ["mini"]
    assert check_graph(template, object_info) == ["node 3 (ImageScaleBy): unknown input 'resolution_steps'"]


def test_shipped_workflows_also_load_on_comfyui_0_3_64(shipped_dir, object_info_0364):
    cat = Catalog([shipped_dir], object_info=lambda: object_info_0364)
    assert cat.reload() == [] and cat.names() == SHIPPED


def test_without_object_info_templates_load_unchecked_then_reload_checks(tmp_path, write_def, mini, object_info):
    defn, template = mini
    template["3"]["class_type"] = "NoSuchNode"
    write_def(defn, template)
    live: dict = {}
    cat = Catalog([tmp_path], object_info=lambda: live.get("oi"))
    assert cat.names() == ["mini"]
    live["oi"] = object_info
    assert [p.field for p in cat.reload()] == ["template"]
    assert cat.names() == []


def test_object_info_failure_is_contained(tmp_path, write_def, mini):
    write_def(*mini)

    def broken():
        raise ConnectionError("server not ready")

    assert Catalog([tmp_path], object_info=broken).names() == ["mini"]


def test_later_folder_overrides_earlier_and_duplicates_in_one_folder_are_reported(tmp_path, write_def, mini):
    defn, template = mini
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    write_def(defn, template, folder=shipped)
    write_def({**defn, "display_name": "Mine"}, template, folder=user)
    write_def({**defn, "display_name": "Again"}, template, folder=user, file="zz-again.yaml")
    cat = Catalog([shipped, user, tmp_path / "absent"])
    problems = cat.reload()
    assert cat.get("mini").definition.title == "Mine"
    assert [(Path(p.file).name, p.field) for p in problems] == [("zz-again.yaml", "name")]
    assert "already defined in mini.yaml" in problems[0].reason


def test_reload_picks_up_changes(tmp_path, write_def, mini):
    defn, template = mini
    cat = Catalog([tmp_path])
    assert cat.names() == []
    write_def(defn, template)
    assert cat.reload() == [] and cat.names() == ["mini"]


def test_unknown_workflow_names_the_known_ones(catalog):
    with pytest.raises(WorkflowNotFound) as err:
        catalog.get("wan-i2x")
    assert err.value.name == "wan-i2x"
    assert "wan-i2v" in err.value.known and "known: i2i, image-upscale" in str(err.value)


def test_describe_is_json_safe_and_complete(object_info, shipped_dir):
    live = options_from_object_info(object_info)

    def options(source):
        return ["my_lora.safetensors"] if source == "loras" else live(source)

    cat = Catalog([shipped_dir], object_info=lambda: object_info, options=options)
    for name in cat.names():
        json.dumps(cat.describe(name), allow_nan=False)
    d = cat.describe("wan-i2v")
    assert d["mode"] == "video_gen" and d["input"]["kind"] == "image" and ".png" in d["input"]["extensions"]
    params = {p["name"]: p for p in d["params"]}
    names = [p["name"] for p in d["params"]]
    assert names.index("resolution") == names.index("flip_orientation") - 1 == names.index("width") - 2
    assert params["resolution"]["options"][0] == {"value": "480p-landscape", "label": "480p landscape (832×480)"}
    assert params["length"] == {**params["length"], "default": 81, "min": 5, "max": 1001, "step": 4}
    assert params["fps"]["default"] == 24
    assert params["sampler_name"]["options"][0] == {"value": "euler", "label": None}
    assert params["sampler_name"]["options_live"] and not params["resolution"]["options_live"]
    assert params["extra_loras"]["options"] == [{"value": "my_lora.safetensors", "label": None}]
    assert params["extra_loras"]["chain"] == [{"name": "high", "label": "high noise"}, {"name": "low", "label": "low noise"}]
    assert params["positive_prompt"]["ui"]["multiline"] and params["positive_prompt"]["per_file"]
    assert d["groups"][:3] == ["Prompt", "Video", "Sampling"]
    assert d["timing"] == {"fps": 24.0, "frames_per_stage": 81, "stages": 1, "total_frames": 81,
                           "seconds_per_stage": 3.375, "total_seconds": 3.375,
                           "fps_param": "fps", "frames_per_stage_param": "length"}
    n = cat.describe("wan-i2v-nstage")
    assert n["stages"] == {"count_param": "stages", "min": 1, "max": 8, "default": 3}
    assert n["prompt_params"] == ["positive_prompt_stage{k}"]
    assert n["default_prompt_params"] == ["positive_prompt_stage1", "positive_prompt_stage2", "positive_prompt_stage3"]
    assert n["timing"]["total_frames"] == 241
    assert {p["name"]: p["derived"] for p in n["params"]}["seed_stage{k}"] == "seed + k - 1"


def test_describe_survives_a_failing_options_source(tmp_path, write_def, mini):
    defn, template = mini
    defn["params"].append({"name": "sampler", "type": "select", "default": "euler", "options_source": "samplers"})
    write_def(defn, template)

    def options(source):
        raise RuntimeError("lists unavailable")

    entry = {p["name"]: p for p in Catalog([tmp_path], options=options).describe("mini")["params"]}["sampler"]
    assert entry["options"] is None and entry["options_error"] == "lists unavailable"
