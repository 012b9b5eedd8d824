"""Static check of an API-format graph against node schemas (`GET /object_info`).

It finds what ComfyUI's own validation would reject, without a server: unknown node
classes, missing required inputs, unknown inputs, links to missing nodes or slots or of the
wrong type, numbers out of range, combo values outside their options, no output node.
Model-file and upload combos are skipped: whether a file is installed is a property of the
server, reported separately by `modelcheck.missing_models`.
"""

from __future__ import annotations

from typing import Any

from .modelcheck import combo_options, input_spec, model_folder

_WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}
_UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload", "file_upload")


def check_graph(graph: dict[str, Any], object_info: dict[str, Any], *, strict: bool = True) -> list[str]:
    """Problems found, each naming the node, its class and the input; empty when valid.

    `strict` also reports inputs the node class does not declare. ComfyUI ignores those,
    so without it a template written for a newer server (e.g. 0.8.0's required
    `resolution_steps`) still passes on an older one.
    """
    problems: list[str] = []
    outputs = 0
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
            problems.append(f"node {node_id}: needs class_type and an inputs object")
            continue
        class_type = node.get("class_type")
        info = object_info.get(class_type) if isinstance(class_type, str) else None
        where = f"node {node_id} ({class_type})"
        if info is None:
            problems.append(f"{where}: node class {class_type!r} is not installed")
            continue
        outputs += bool(info.get("output_node"))
        declared = info.get("input") or {}
        for name in declared.get("required") or {}:
            if name not in node["inputs"]:
                problems.append(f"{where}: required input {name!r} is not set")
        for name, value in node["inputs"].items():
            spec = input_spec(info, name)
            if spec is None:
                if strict:
                    problems.append(f"{where}: unknown input {name!r}")
            elif isinstance(value, list):
                problems.extend(_check_link(graph, object_info, where, name, spec, value))
            else:
                problem = _check_literal(class_type, info, name, spec, value)
                if problem:
                    problems.append(f"{where}: input {name!r}: {problem}")
    if outputs == 0:
        problems.append("the graph has no output node (e.g. SaveImage or SaveVideo)")
    return problems


def _check_link(graph: dict, object_info: dict, where: str, name: str, spec: list, link: list) -> list[str]:
    if len(link) != 2 or not isinstance(link[0], str) or not isinstance(link[1], int) or isinstance(link[1], bool):
        return [f"{where}: input {name!r}: a link is [\"<node id>\", <output index>], got {link!r}"]
    source_id, slot = link
    source = graph.get(source_id)
    if not isinstance(source, dict):
        return [f"{where}: input {name!r} links to node {source_id}, which is not in the graph"]
    source_info = object_info.get(source.get("class_type"))
    if source_info is None:
        return []  # reported on the source node itself
    outs = source_info.get("output") or []
    if not 0 <= slot < len(outs):
        return [f"{where}: input {name!r} links to output {slot} of node {source_id} "
                f"({source['class_type']}), which has {len(outs)} output(s)"]
    expected, got = spec[0], outs[slot]
    if not _types_match(expected, got):
        shown = "COMBO" if isinstance(expected, list) else expected
        return [f"{where}: input {name!r} expects {shown} but node {source_id} output {slot} is {got}"]
    return []


def _types_match(expected: Any, got: Any) -> bool:
    if isinstance(expected, list) or expected == "COMBO":
        return isinstance(got, list) or got in ("COMBO", "*")
    if isinstance(got, list) or not isinstance(expected, str) or not isinstance(got, str):
        return False
    if "*" in (expected, got):
        return True
    return bool(set(expected.split(",")) & set(got.split(",")))


def _check_literal(class_type: str, info: dict, name: str, spec: list, value: Any) -> str | None:
    kind = spec[0]
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    options = combo_options(spec)
    if options is not None:
        if model_folder(class_type, name, info) or any(opts.get(f) for f in _UPLOAD_FLAGS):
            return None if isinstance(value, str) else f"a file name is text, got {value!r}"
        return None if value in options else f"{value!r} is not one of {_preview(options)}"
    if kind == "INT":
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expects an integer, got {value!r}"
        return _range(value, opts)
    if kind == "FLOAT":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return f"expects a number, got {value!r}"
        return _range(value, opts)
    if kind == "STRING":
        return None if isinstance(value, str) else f"expects text, got {value!r}"
    if kind == "BOOLEAN":
        return None if isinstance(value, bool) else f"expects true or false, got {value!r}"
    if kind not in _WIDGET_TYPES:
        return f"expects a link to a {kind} output, got the value {value!r}"
    return None


def _range(value: float, opts: dict) -> str | None:
    if "min" in opts and value < opts["min"]:
        return f"{value} is below the minimum {opts['min']}"
    if "max" in opts and value > opts["max"]:
        return f"{value} is above the maximum {opts['max']}"
    return None


def _preview(options: list) -> str:
    shown = ", ".join(repr(o) for o in options[:8])
    return f"[{shown}{', …' if len(options) > 8 else ''}]"
