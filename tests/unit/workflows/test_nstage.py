"""The dynamic N-stage builder, property style: for 1-8 stages the graph is valid, the stages are
continuous (frames, seeds, prompts, model chain), building is deterministic, and 2 or 3 stages
give the same graph as the hand-written split-prompt templates."""

from __future__ import annotations

import json

import pytest

from vq_extension.workflows import check_graph, render, resolve_params, timing


def params_for(n, length=81, seed=1000):
    return {"stages": n, "length": length, "seed": seed, "output_prefix": "vq/test",
            **{f"positive_prompt_stage{k}": f"prompt for stage {k}" for k in range(1, n + 1)}}


def stage_decodes(graph):
    """Follow CreateVideo's frames back through the ImageBatch chain: the decode node of each stage."""
    link = graph["16"]["inputs"]["images"]
    decodes = []
    while graph[link[0]]["class_type"] == "ImageBatch":
        batch = graph[link[0]]["inputs"]
        trim = graph[batch["image2"][0]]
        assert trim["class_type"] == "ImageFromBatch"
        assert (trim["inputs"]["batch_index"], trim["inputs"]["length"]) == (1, 4096)
        decodes.append(trim["inputs"]["image"][0])
        link = batch["image1"]
    decodes.append(link[0])
    return decodes[::-1]


@pytest.mark.parametrize("n", range(1, 9))
@pytest.mark.parametrize("length", [81, 33])
def test_n_stages_are_valid_and_continuous(shipped, object_info, n, length):
    wf = shipped("wan-i2v-nstage")
    seed = 4242 + n
    graph = render(wf, params_for(n, length, seed), input_file="vq/in.png", seed=seed)
    assert check_graph(graph, object_info) == []
    decodes = stage_decodes(graph)
    assert len(decodes) == n
    assert sum(node["class_type"] == "WanImageToVideo" for node in graph.values()) == n
    for k, decode in enumerate(decodes, 1):
        low = graph[graph[decode]["inputs"]["samples"][0]]
        high = graph[low["inputs"]["latent_image"][0]]
        wan = graph[high["inputs"]["positive"][0]]["inputs"]
        assert wan["length"] == length and (wan["width"], wan["height"]) == (832, 480)
        assert graph[wan["positive"][0]]["inputs"]["text"] == f"prompt for stage {k}"
        assert wan["negative"] == ["10", 0] and wan["vae"] == ["8", 0]
        assert (high["inputs"]["noise_seed"], low["inputs"]["noise_seed"]) == (seed + k - 1, seed + k - 1)
        assert (high["inputs"]["model"], low["inputs"]["model"]) == (["5", 0], ["6", 0])
        start = graph[wan["start_image"][0]]
        if k == 1:
            assert wan["start_image"] == ["11", 0] and graph["11"]["inputs"]["image"] == "vq/in.png"
        else:
            assert start["class_type"] == "ImageFromBatch"
            assert start["inputs"] == {"image": [decodes[k - 2], 0], "batch_index": length - 1, "length": 1}
    assert timing(wf, resolve_params(wf, params_for(n, length)))["total_frames"] == length + (length - 1) * (n - 1)


@pytest.mark.parametrize("n", [1, 4, 8])
def test_building_is_deterministic(shipped, n):
    wf = shipped("wan-i2v-nstage")
    params = params_for(n)
    extra = {"extra_loras": [{"high": "h.safetensors", "low": "l.safetensors"}]}
    one = render(wf, {**params, **extra}, input_file="a.png", seed=5)
    two = render(wf, dict(reversed(list({**extra, **params}.items()))), input_file="a.png", seed=5)
    assert json.dumps(one) == json.dumps(two)


def canonical(graph, object_info):
    """The graph with ids replaced by first-visit order from its output nodes (titles dropped)."""
    order: dict[str, int] = {}

    def visit(node_id):
        if node_id not in order:
            order[node_id] = len(order)
            for name in sorted(graph[node_id]["inputs"]):
                value = graph[node_id]["inputs"][name]
                if isinstance(value, list):
                    visit(value[0])

    for node_id in sorted(graph):
        if object_info[graph[node_id]["class_type"]]["output_node"]:
            visit(node_id)
    assert len(order) == len(graph), "every node feeds an output"
    return sorted((order[i], n["class_type"], {k: ["link", order[v[0]], v[1]] if isinstance(v, list) else v
                                               for k, v in n["inputs"].items()}) for i, n in graph.items())


@pytest.mark.parametrize("n", [2, 3])
def test_builder_matches_the_hand_written_split_templates(shipped, object_info, n):
    params = {k: v for k, v in params_for(n).items() if k != "stages"}
    built = render(shipped("wan-i2v-nstage"), {**params, "stages": n}, input_file="a.png", seed=9)
    static = render(shipped(f"wan-context-{n}stage-split-prompts"), params, input_file="a.png", seed=9)
    assert canonical(built, object_info) == canonical(static, object_info)
