"""Small operations on API-format graphs shared by the renderer and the stage builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Graph = dict[str, dict[str, Any]]

# Loader nodes that can be removed from a chain: output slot -> the input it passes through.
PASSTHROUGH: dict[str, dict[int, str]] = {
    "LoraLoaderModelOnly": {0: "model"},
    "LoraLoader": {0: "model", 1: "clip"},
}


def copy_graph(graph: Graph) -> Graph:
    """A copy sharing nothing mutable with `graph`; much faster than copy.deepcopy."""
    return graph_copier(graph)()


def graph_copier(graph: Graph) -> Callable[[], Graph]:
    """A function that returns fresh copies of `graph`, for copying one graph many times.

    Values are literals or `[node id, slot]` links, so copying node dicts, input dicts and
    link lists is a full copy. Where the links are is worked out once; later changes to
    literal inputs of `graph` show in the copies made after them, changes to links do not.
    """
    plan = [(node_id, node["class_type"], node["inputs"],
             [(k, v[0], v[1]) for k, v in node["inputs"].items() if type(v) is list], node.get("_meta"))
            for node_id, node in graph.items()]

    def copy() -> Graph:
        out: Graph = {}
        for node_id, class_type, inputs, links, meta in plan:
            copied_inputs = inputs.copy()
            for name, source, slot in links:
                copied_inputs[name] = [source, slot]
            node = {"class_type": class_type, "inputs": copied_inputs}
            if meta is not None:
                node["_meta"] = dict(meta)
            out[node_id] = node
        return out

    return copy


def make_node(class_type: str, title: str, **inputs: Any) -> dict[str, Any]:
    return {"class_type": class_type, "inputs": inputs, "_meta": {"title": title}}


def title_of(node: dict[str, Any]) -> str:
    return str(node.get("_meta", {}).get("title") or node["class_type"])


def next_node_id(graph: Graph) -> int:
    return max((int(i) for i in graph if i.isdigit()), default=0) + 1


def bypass(graph: Graph, node_id: str) -> None:
    """Remove a pass-through node and reconnect its consumers to what fed it."""
    node = graph.pop(node_id)
    through = PASSTHROUGH[node["class_type"]]
    for other in graph.values():
        for name, value in other["inputs"].items():
            if type(value) is list and value[0] == node_id:
                other["inputs"][name] = list(node["inputs"][through[value[1]]])
