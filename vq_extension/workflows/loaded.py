"""A definition joined with its template, checked for consistency and pre-digested.

`compile_workflow` checks everything that ties the definition's parts to each other and to
its template graph (no node schemas needed), and reports every problem with the field it
concerns. The result, `LoadedWorkflow`, carries what rendering needs precomputed: coerced
defaults, parsed bindings, compiled expressions in dependency order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .expr import Expr, compile_expr
from .graphutil import PASSTHROUGH
from .schema import (
    MAX_STAGES,
    STAGE_TOKEN,
    Binding,
    CheckSpec,
    ParamDef,
    WorkflowDef,
    parse_binding,
)
from .values import coerce

SEED = "seed"
SEED_INPUTS = ("seed", "noise_seed")
RESOLUTION_KEYS = ("resolution", "flip_orientation")
MODE_INPUTS = {"video_upscale": ("video",), "image_upscale": ("image",),
               "video_gen": ("image", "none"), "image_gen": ("image", "none")}


class DefinitionInvalid(Exception):
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems  # (field, reason)
        super().__init__("; ".join(f"{f}: {r}" for f, r in problems))


@dataclass(frozen=True, eq=False)
class LoadedWorkflow:
    """A valid definition and its template. Treat `template` as read-only."""

    definition: WorkflowDef
    template: dict[str, Any]
    path: Path | None
    template_path: Path | None
    params: dict[str, ParamDef]  # declared name (per-stage names keep {k}) -> definition
    defaults: dict[str, Any]  # declared name -> coerced default (derived params have none)
    targets: dict[str, tuple[Binding, ...]]
    exprs: dict[str, Expr]  # derived declared name -> expression
    derived_order: tuple[str, ...]  # dependencies first
    checks: tuple[tuple[CheckSpec, Expr], ...]
    input_binding: Binding | None
    _stage_names: dict[str, re.Pattern[str]] = field(repr=False)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def has_seed(self) -> bool:
        return SEED in self.params

    def lookup(self, concrete: str) -> tuple[ParamDef, int | None] | None:
        """The parameter behind a concrete name, and its stage for per-stage names."""
        p = self.params.get(concrete)
        if p is not None and not p.per_stage:
            return p, None
        for declared, pattern in self._stage_names.items():
            m = pattern.match(concrete)
            if m:
                return self.params[declared], int(m[1])
        return None

    def concrete(self, n_stages: int) -> Iterator[tuple[str, ParamDef, int | None]]:
        """Every parameter name for a stage count, in declaration order, per-stage ones expanded."""
        for p in self.params.values():
            if p.per_stage:
                for k in range(1, n_stages + 1):
                    yield p.name.replace(STAGE_TOKEN, str(k)), p, k
            else:
                yield p.name, p, None


def compile_workflow(defn: WorkflowDef, template: Any, *, path: Path | None = None,
                     template_path: Path | None = None) -> LoadedWorkflow:
    c = _Compiler(defn, template)
    c.run()
    if c.problems:
        raise DefinitionInvalid(c.problems)
    return LoadedWorkflow(
        definition=defn, template=template, path=path, template_path=template_path,
        params=c.params, defaults=c.defaults, targets=c.targets, exprs=c.exprs,
        derived_order=tuple(c.order), checks=tuple(c.checks), input_binding=c.input_binding,
        _stage_names={n: re.compile("^" + re.escape(n).replace(re.escape(STAGE_TOKEN), r"([1-9][0-9]*)") + "$")
                      for n, p in c.params.items() if p.per_stage},
    )


class _Compiler:
    def __init__(self, defn: WorkflowDef, template: Any):
        self.d = defn
        self.g = template
        self.problems: list[tuple[str, str]] = []
        self.params: dict[str, ParamDef] = {}
        self.defaults: dict[str, Any] = {}
        self.targets: dict[str, tuple[Binding, ...]] = {}
        self.exprs: dict[str, Expr] = {}
        self.order: list[str] = []
        self.checks: list[tuple[CheckSpec, Expr]] = []
        self.input_binding: Binding | None = None

    def fail(self, where: str, reason: str) -> None:
        self.problems.append((where, reason))

    def run(self) -> None:
        if not self._template_ok():
            return
        self._params()
        self._derived()
        self._resolution()
        self._timing()
        self._stages()
        self._input_and_outputs()
        self._seed_coverage()
        self._checks()

    def _template_ok(self) -> bool:
        g = self.g
        if not isinstance(g, dict) or not g:
            self.fail("template", "must be a non-empty API-format graph: {\"<node id>\": {\"class_type\", \"inputs\"}}")
            return False
        for node_id, node in g.items():
            if not isinstance(node, dict) or not isinstance(node.get("class_type"), str) \
                    or not isinstance(node.get("inputs"), dict):
                self.fail("template", f"node {node_id}: needs class_type (text) and inputs (object); "
                                      "export the graph with Workflow → Export (API)")
                continue
            for name, value in node["inputs"].items():
                if isinstance(value, list) and (len(value) != 2 or value[0] not in g):
                    self.fail("template", f"node {node_id} input {name}: link {value!r} points at no node")
        return not self.problems

    def _node_exists(self, where: str, binding: Binding) -> bool:
        if binding.node not in self.g:
            self.fail(where, f"{binding}: node {binding.node} is not in the template")
            return False
        return True

    def _params(self) -> None:
        reserved = set(RESOLUTION_KEYS) if self.d.resolution else set()
        for p in self.d.params:
            where = f"params.{p.name}"
            if p.name in self.params or p.name in reserved or p.name == "k":
                self.fail(f"{where}.name", "is defined twice" if p.name in self.params else "is a reserved name")
                continue
            self.params[p.name] = p
            bindings = tuple(parse_binding(b) for b in p.bind)
            for b in bindings:
                self._node_exists(f"{where}.bind", b)
            self.targets[p.name] = bindings
            if p.removable:
                for b in bindings:
                    cls = self.g.get(b.node, {}).get("class_type")
                    if b.node in self.g and cls not in PASSTHROUGH:
                        self.fail(f"{where}.removable", f"node {b.node} ({cls}) cannot be removed; "
                                                        f"removable loaders: {', '.join(PASSTHROUGH)}")
            for target in p.chain or []:
                consumer = parse_binding(target.consumer)
                if self._node_exists(f"{where}.chain", consumer) and \
                        not isinstance(self.g[consumer.node]["inputs"].get(consumer.input), list):
                    self.fail(f"{where}.chain", f"{consumer} must be a link (the MODEL input the chain feeds)")
            if p.per_stage and self.d.stages is None:
                self.fail(f"{where}.per_stage", "per-stage parameters need a stages section")
            if p.derived is None:
                self._default(p)

    def _default(self, p: ParamDef) -> None:
        default = p.default
        if default is None:
            implicit = {"text": "", "bool": False}
            if p.type in implicit:
                default = implicit[p.type]
            elif p.type == "lora" and (p.chain is not None or p.removable):
                default = [] if p.chain is not None else None
            else:
                self.fail(f"params.{p.name}.default", f"a {p.type} parameter needs a default")
                return
        try:
            self.defaults[p.name] = coerce(p, default)
        except ValueError as exc:
            self.fail(f"params.{p.name}.default", str(exc))

    def _derived(self) -> None:
        for p in self.params.values():
            if p.derived is None:
                continue
            expr = compile_expr(p.derived)
            self.exprs[p.name] = expr
            allowed = {n for n, q in self.params.items() if not q.per_stage} | ({"k"} if p.per_stage else set())
            unknown = sorted(expr.names - allowed)
            if unknown:
                self.fail(f"params.{p.name}.derived", f"{p.derived!r} reads {', '.join(unknown)}, which is not "
                                                      "a parameter here (per-stage values can read k)")
        # Topological order; a name still unplaced after a full pass is on a cycle.
        pending = dict(self.exprs)
        while pending:
            ready = [n for n, e in pending.items() if not (e.names & pending.keys())]
            if not ready:
                for n in pending:
                    self.fail(f"params.{n}.derived", "derived values depend on each other in a cycle")
                return
            for n in ready:
                self.order.append(n)
                del pending[n]

    def _int_param(self, where: str, name: str, *, settable: bool = True) -> ParamDef | None:
        p = self.params.get(name)
        if p is None or p.type != "int" or p.per_stage or (settable and p.derived is not None):
            self.fail(where, f"{name!r} must name an int parameter" + (" that is not derived" if settable else ""))
            return None
        return p

    def _resolution(self) -> None:
        res = self.d.resolution
        if res is None:
            return
        w = self._int_param("resolution.width_param", res.width_param)
        h = self._int_param("resolution.height_param", res.height_param)
        if w is None or h is None:
            return
        for preset in res.presets:
            sizes = [(preset.width, preset.height)] + ([(preset.height, preset.width)] if res.flip else [])
            for width, height in sizes:
                for p, value in ((w, width), (h, height)):
                    try:
                        coerce(p, value)
                    except ValueError as exc:
                        self.fail(f"resolution.presets.{preset.name}", f"{p.name} {exc}")

    def _timing(self) -> None:
        t = self.d.timing
        if t is None:
            return
        for key in ("fps", "frames_per_stage", "stages"):
            ref = getattr(t, key)
            if isinstance(ref, str):
                p = self.params.get(ref)
                if p is None or p.type not in ("int", "float") or p.per_stage:
                    self.fail(f"timing.{key}", f"{ref!r} must be a number or the name of a number parameter")

    def _stages(self) -> None:
        s = self.d.stages
        if s is None:
            return
        count = self._int_param("stages.count_param", s.count_param)
        if count is not None and not (count.min is not None and count.max is not None
                                      and 1 <= count.min and count.max <= MAX_STAGES):
            self.fail(f"params.{count.name}", f"a stage count needs min >= 1 and max <= {MAX_STAGES}")
        self._int_param("stages.length_param", s.length_param)
        if any(not i.isdigit() or int(i) >= 100 for i in self.g):
            self.fail("template", "a staged template keeps node ids below 100: stage k's copies are numbered k*100+i")
        if len(s.block) + 3 > 100:
            self.fail("stages.block", "at most 97 nodes per stage")
        block = set(s.block)
        for node_id in s.block:
            if node_id not in self.g:
                self.fail("stages.block", f"node {node_id} is not in the template")
        if s.frames not in block:
            self.fail("stages.frames", f"node {s.frames} is not in the block")
        start, out = parse_binding(s.start_image), parse_binding(s.output)
        if start.node not in block:
            self.fail("stages.start_image", f"{start} is not an input of a block node")
        if out.node in block or not isinstance(self.g.get(out.node, {}).get("inputs", {}).get(out.input), list):
            self.fail("stages.output", f"{out} must be a linked input of a node outside the block")
        for p in self.params.values():
            if p.per_stage:
                for b in self.targets[p.name]:
                    if b.node not in block:
                        self.fail(f"params.{p.name}.bind", f"{b} is outside the stage block")

    def _input_and_outputs(self) -> None:
        spec = self.d.input
        if spec.kind not in MODE_INPUTS[self.d.mode]:
            self.fail("input.kind", f"mode {self.d.mode} takes {' or '.join(MODE_INPUTS[self.d.mode])} input")
        if spec.binding is not None:
            b = parse_binding(spec.binding)
            if self._node_exists("input.binding", b):
                self.input_binding = b
        for i, out in enumerate(self.d.outputs):
            if out.node not in self.g:
                self.fail(f"outputs[{i}].node", f"node {out.node} is not in the template")

    def _seed_coverage(self) -> None:
        """Every seed input is driven by `seed`, directly or through a derived value."""
        seeded = {SEED} if SEED in self.params else set()
        for name in self.order:  # dependencies first, so one pass follows chains
            if self.exprs[name].names & seeded:
                seeded.add(name)
        bound = {b for n in seeded for b in self.targets.get(n, ())}
        for node_id, node in self.g.items():
            for name in SEED_INPUTS:
                if name in node["inputs"] and Binding(node_id, name) not in bound:
                    self.fail("params.seed", f"node {node_id} ({node['class_type']}) input {name} is not bound to "
                                             "seed or a value derived from it, so tries would repeat its noise")

    def _checks(self) -> None:
        plain = {n for n, p in self.params.items() if not p.per_stage} | (set(RESOLUTION_KEYS)
                                                                        if self.d.resolution else set())
        for i, check in enumerate(self.d.checks):
            expr = compile_expr(check.expr)
            unknown = sorted(expr.names - plain)
            if unknown or (check.param is not None and check.param not in plain):
                self.fail(f"checks[{i}]", f"names unknown parameter(s): {', '.join(unknown or [check.param])}")
                continue
            self.checks.append((check, expr))
