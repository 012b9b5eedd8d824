"""render: golden graphs, seeds on every sampler, split-stage prompt mapping, LoRA chains, input file."""

from __future__ import annotations

import json

import pytest

from vq_extension.workflows import ParamError, check_graph, render, resolve_params

WAN_PROMPT = "She slowly turns her head toward the camera and smiles; the camera pushes in."
STAGE_PROMPTS = ["She lifts the cup and drinks.", "She puts the cup down and looks out of the window.",
                 "She stands up and walks out of the frame; the camera holds still."]


def test_golden_wan_i2v(shipped, golden):
    graph = render(shipped("wan-i2v"), {"positive_prompt": WAN_PROMPT}, input_file="vq/in/cat.png", seed=42)
    golden("wan-i2v", graph)


@pytest.mark.parametrize("n", [2, 3])
def test_golden_split_stages(shipped, golden, n):
    params = {f"positive_prompt_stage{k + 1}": STAGE_PROMPTS[k] for k in range(n)}
    graph = render(shipped(f"wan-context-{n}stage-split-prompts"), params, input_file="vq/in/cat.png", seed=42)
    golden(f"wan-context-{n}stage-split-prompts", graph)


def test_golden_nstage_with_lora_changes(shipped, golden):
    params = {"stages": 4, **{f"positive_prompt_stage{k}": f"beat {k}" for k in range(1, 5)},
              "lightning_lora_low": "", "extra_loras": [{"high": "motion_high.safetensors", "low": "motion_low.safetensors",
                                                         "strength": 0.8}, {"high": "style.safetensors"}]}
    golden("wan-i2v-nstage-4", render(shipped("wan-i2v-nstage"), params, input_file="a.png", seed=7))


def test_every_rendered_default_graph_is_valid(catalog, object_info):
    for name in catalog.names():
        wf = catalog.get(name)
        kind = wf.definition.input.kind
        graph = render(wf, {}, input_file={"image": "x.png", "video": "x.mp4"}.get(kind), seed=1)
        assert check_graph(graph, object_info) == [], name


def seeds_in(graph):
    return {(nid, name): v for nid, n in graph.items() for name, v in n["inputs"].items() if name in ("seed", "noise_seed")}


@pytest.mark.parametrize("name", ["wan-i2v", "t2i", "i2i", "smoke-image", "smoke-video"])
def test_seed_reaches_every_sampler(shipped, name):
    wf = shipped(name)
    graph = render(wf, {}, input_file=None if wf.definition.input.kind == "none" else "x.png", seed=987654321)
    assert seeds_in(graph) and set(seeds_in(graph).values()) == {987654321}


def test_each_stage_has_its_own_seed_on_both_samplers(shipped):
    graph = render(shipped("wan-context-3stage-split-prompts"), {"seed": 1}, input_file="x.png", seed=500)
    by_stage = {}
    for (nid, _input), value in seeds_in(graph).items():
        by_stage.setdefault(graph[nid]["_meta"]["title"].rsplit("(", 1)[1].rstrip(")"), set()).add(value)
    assert by_stage == {"stage 1": {500}, "stage 2": {501}, "stage 3": {502}}


def encoder_of_stage(graph, wan_node):
    return graph[graph[wan_node]["inputs"]["positive"][0]]["inputs"]["text"]


@pytest.mark.parametrize("name, wan_nodes", [("wan-context-2stage-split-prompts", ["12", "32"]),
                                             ("wan-context-3stage-split-prompts", ["12", "32", "42"])])
def test_split_prompts_reach_only_their_own_stage(shipped, name, wan_nodes):
    params = {f"positive_prompt_stage{k + 1}": STAGE_PROMPTS[k] for k in range(len(wan_nodes))}
    graph = render(shipped(name), params, input_file="x.png", seed=1)
    assert [encoder_of_stage(graph, n) for n in wan_nodes] == STAGE_PROMPTS[:len(wan_nodes)]
    texts = json.dumps(graph, ensure_ascii=False)
    for prompt in params.values():
        assert texts.count(json.dumps(prompt)[1:-1]) == 1


def model_chain(graph, sampler):
    """Class and LoRA names from a sampler's model input back to the UNET loader."""
    chain, link = [], graph[sampler]["inputs"]["model"]
    while link:
        node = graph[link[0]]
        chain.append(node["inputs"].get("lora_name", node["class_type"]))
        link = node["inputs"].get("model")
    return chain


def test_lora_chain_extra_loras_go_last_and_base_pair_is_removable(shipped, object_info):
    wf = shipped("wan-i2v")
    base = render(wf, {}, input_file="x.png", seed=1)
    assert model_chain(base, "13") == ["ModelSamplingSD3", "wan2.2_i2v_lightx2v_4steps_lora_v1_high_noise.safetensors",
                                       "UNETLoader"]
    loras = [{"high": "a_high.safetensors", "low": "a_low.safetensors", "strength": 0.7},
             {"high": "only_high.safetensors"}]
    graph = render(wf, {"extra_loras": loras, "lightning_lora_low": ""}, input_file="x.png", seed=1)
    assert model_chain(graph, "13") == ["ModelSamplingSD3", "only_high.safetensors", "a_high.safetensors",
                                        "wan2.2_i2v_lightx2v_4steps_lora_v1_high_noise.safetensors", "UNETLoader"]
    assert model_chain(graph, "14") == ["ModelSamplingSD3", "a_low.safetensors", "UNETLoader"]
    assert "4" not in graph and check_graph(graph, object_info) == []
    strengths = {n["inputs"]["lora_name"]: n["inputs"]["strength_model"] for n in graph.values()
                 if n["class_type"] == "LoraLoaderModelOnly"}
    assert strengths["a_high.safetensors"] == strengths["a_low.safetensors"] == 0.7
    assert strengths["only_high.safetensors"] == 1.0
    none = render(wf, {"lightning_lora_high": None, "lightning_lora_low": None}, input_file="x.png", seed=1)
    assert model_chain(none, "13") == ["ModelSamplingSD3", "UNETLoader"] and check_graph(none, object_info) == []


def test_render_returns_a_fresh_graph_each_time(shipped):
    wf = shipped("wan-i2v")
    first = render(wf, {}, input_file="x.png", seed=1)
    second = render(wf, {}, input_file="x.png", seed=1)
    assert first == second
    first["12"]["inputs"]["start_image"][0] = "99"
    first["13"]["inputs"]["steps"] = 99
    assert render(wf, {}, input_file="x.png", seed=1) == second
    assert wf.template["12"]["inputs"]["start_image"] == ["11", 0]


def test_render_takes_resolved_params_and_recomputes_what_derives_from_the_seed(shipped):
    wf = shipped("wan-context-2stage-split-prompts")
    resolved = resolve_params(wf, {"seed": 10})
    graph = render(wf, resolved, input_file="x.png", seed=20)
    assert graph["13"]["inputs"]["noise_seed"] == 20 and graph["33"]["inputs"]["noise_seed"] == 21


def test_input_file_goes_to_the_loader_and_nowhere_else(shipped):
    graph = render(shipped("video-upscale"), {}, input_file="vq/ab/clip.mp4", seed=None)
    assert graph["1"]["inputs"]["file"] == "vq/ab/clip.mp4"
    assert json.dumps(graph).count("clip.mp4") == 1


@pytest.mark.parametrize("name, input_file, message", [
    ("wan-i2v", None, "workflow wan-i2v needs an input image"),
    ("t2i", "x.png", "workflow t2i takes no input file"),
    ("wan-i2v", "/home/me/pictures/cat.png", "must be a name relative to ComfyUI's input folder"),
    ("wan-i2v", "C:\\Users\\me\\cat.png", "must be a name relative to ComfyUI's input folder"),
    ("wan-i2v", "../secret.png", "must be a name relative to ComfyUI's input folder"),
])
def test_input_file_errors(shipped, name, input_file, message):
    with pytest.raises(ParamError) as err:
        render(shipped(name), {}, input_file=input_file, seed=1)
    assert err.value.param == "input_file" and message in err.value.message
