"""The dynamic N-stage builder: clone one stage block and chain the copies.

Stage 1 is the block as the template has it. For each stage k >= 2 the builder adds:

* a copy of every block node, numbered k*100 + i (i = position of the original in the
  block sorted by id). Links between block nodes are redirected to the copies; links to
  shared nodes (loaders, negative prompt, model chain) stay, so all stages use one model chain;
* `ImageFromBatch(frames of stage k-1, batch_index=length-1, length=1)`: the last frame,
  fed to the copy's start-image input;
* `ImageFromBatch(frames of stage k, batch_index=1, length=4096)`: stage k without its first
  frame, which re-renders the previous stage's last frame;
* `ImageBatch(frames so far, trimmed stage k)`: the running concatenation, which finally
  feeds the stage spec's output input.

Bindings follow: a parameter bound to a block node is bound to its copies too, and a
per-stage parameter `name{k}` is bound in stage k only. Same inputs, same graph.
"""

from __future__ import annotations

from .graphutil import Graph, make_node, title_of
from .loaded import LoadedWorkflow
from .schema import STAGE_TOKEN, Binding, parse_binding

LAST_INDEX_MAX = 4096  # ImageFromBatch.length maximum: "to the end of the batch"


def expand_stages(wf: LoadedWorkflow, graph: Graph, n_stages: int,
                  length: int) -> tuple[Graph, dict[str, tuple[Binding, ...]]]:
    """Chain `n_stages` copies of the block in `graph` (modified in place); returns it and the
    concrete bindings (per-stage names expanded)."""
    spec = wf.definition.stages
    block = sorted(spec.block, key=int)
    start, output = parse_binding(spec.start_image), parse_binding(spec.output)
    stage_ids = [{old: old for old in block}]
    if n_stages > 1:
        for old in block:
            graph[old]["_meta"] = {"title": f"{title_of(graph[old])} (stage 1)"}
    frames = [spec.frames, 0]
    for k in range(2, n_stages + 1):
        ids = {old: str(k * 100 + i) for i, old in enumerate(block)}
        for old in block:
            node = graph[old]
            inputs = {name: [ids.get(v[0], v[0]), v[1]] if type(v) is list else v
                      for name, v in node["inputs"].items()}
            base_title = title_of(node).removesuffix(" (stage 1)")
            graph[ids[old]] = {"class_type": node["class_type"], "inputs": inputs,
                               "_meta": {"title": f"{base_title} (stage {k})"}}
        last, trim, cat = (str(k * 100 + len(block) + j) for j in range(3))
        previous = stage_ids[-1][spec.frames]
        graph[last] = make_node("ImageFromBatch", f"Last frame of stage {k - 1}",
                                image=[previous, 0], batch_index=length - 1, length=1)
        graph[ids[start.node]]["inputs"][start.input] = [last, 0]
        graph[trim] = make_node("ImageFromBatch", f"Stage {k} without its first frame",
                                image=[ids[spec.frames], 0], batch_index=1, length=LAST_INDEX_MAX)
        graph[cat] = make_node("ImageBatch", f"Frames of stages 1-{k}", image1=frames, image2=[trim, 0])
        frames = [cat, 0]
        stage_ids.append(ids)
    graph[output.node]["inputs"][output.input] = frames
    return graph, _stage_targets(wf, stage_ids)


def _stage_targets(wf: LoadedWorkflow, stage_ids: list[dict[str, str]]) -> dict[str, tuple[Binding, ...]]:
    targets: dict[str, tuple[Binding, ...]] = {}
    for name, p in wf.params.items():
        bindings = wf.targets[name]
        if p.per_stage:
            for k, ids in enumerate(stage_ids, 1):
                targets[name.replace(STAGE_TOKEN, str(k))] = tuple(Binding(ids[b.node], b.input) for b in bindings)
        else:
            targets[name] = bindings + tuple(Binding(ids[b.node], b.input)
                                             for ids in stage_ids[1:] for b in bindings if b.node in ids)
    return targets
