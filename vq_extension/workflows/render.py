"""Resolved parameters -> a fresh API-format graph, ready for POST /prompt.

Building happens in a fixed order, so the same inputs always give the same graph:
copy the template, expand stages (nstage.py), write every bound value, remove loaders
whose removable LoRA is empty, insert the extra-LoRA chains, set the input file.
"""

from __future__ import annotations

from typing import Any

from .graphutil import Graph, bypass, copy_graph, make_node, next_node_id
from .loaded import SEED, LoadedWorkflow
from .nstage import expand_stages
from .params import ParamError, resolve_params, stage_count
from .schema import Binding, parse_binding
from .values import input_name

Targets = dict[str, tuple[Binding, ...]]


def render(wf: LoadedWorkflow, params: dict[str, Any], *, input_file: str | None, seed: int | None) -> Graph:
    """A new graph for one prompt.

    `params` may be raw or resolved (derived values in it are recomputed). `seed` replaces
    the seed parameter (ignored by workflows without one). `input_file` is the name
    ComfyUI's loader receives, relative to its input folder; None for workflows without input.
    """
    raw = {k: v for k, v in params.items() if (hit := wf.lookup(k)) is None or hit[0].derived is None}
    if wf.has_seed and seed is not None:
        raw[SEED] = seed
    values = resolve_params(wf, raw)
    graph, _targets = build(wf, values)
    set_input(wf, graph, input_file)
    return graph


def build(wf: LoadedWorkflow, values: dict[str, Any]) -> tuple[Graph, Targets]:
    """The graph for resolved values (without the input file) and the concrete bindings."""
    graph = copy_graph(wf.template)
    targets: Targets = wf.targets
    spec = wf.definition.stages
    if spec is not None:
        graph, targets = expand_stages(wf, graph, stage_count(wf, values), values[spec.length_param])
    apply(graph, targets, values, values.keys())
    for name, p in wf.params.items():
        if p.removable and values[name] is None:
            for b in targets[name]:
                if b.node in graph:
                    bypass(graph, b.node)
    for name, p in wf.params.items():
        if p.chain is not None and values[name]:
            _insert_chain(graph, p.label or name, p.chain, values[name])
    return graph, targets


def apply(graph: Graph, targets: Targets, values: dict[str, Any], names: Any) -> None:
    """Write the values of `names` into every input bound to them (skipping removed nodes)."""
    for name in names:
        for node_id, input_ in targets.get(name, ()):
            node = graph.get(node_id)
            if node is not None:
                node["inputs"][input_] = values[name]


def set_input(wf: LoadedWorkflow, graph: Graph, input_file: str | None) -> None:
    kind = wf.definition.input.kind
    if wf.input_binding is None:
        if input_file is not None:
            raise ParamError("input_file", f"workflow {wf.name} takes no input file")
        return
    if input_file is None:
        raise ParamError("input_file", f"workflow {wf.name} needs an input {kind}")
    try:
        name = input_name(input_file)
    except ValueError as exc:
        raise ParamError("input_file", str(exc)) from None
    graph[wf.input_binding.node]["inputs"][wf.input_binding.input] = name


def _insert_chain(graph: Graph, label: str, chains: Any, entries: list[dict[str, Any]]) -> None:
    """Add one LoraLoaderModelOnly per entry and chain just before each target's consumer."""
    next_id = next_node_id(graph)
    for target in chains:
        consumer = parse_binding(target.consumer)
        link = graph[consumer.node]["inputs"][consumer.input]
        for i, entry in enumerate(entries, 1):
            if not entry[target.name]:
                continue  # this LoRA has no file for this chain (e.g. a high-noise-only LoRA)
            node_id = str(next_id)
            next_id += 1
            graph[node_id] = make_node("LoraLoaderModelOnly", f"{label} {i} ({target.label or target.name})",
                                       model=link, lora_name=entry[target.name],
                                       strength_model=entry[f"strength_{target.name}"])
            link = [node_id, 0]
        graph[consumer.node]["inputs"][consumer.input] = link
