"""Load workflow definitions from folders, check them, look them up, describe them for the UI.

Each `*.yaml` in a folder is one definition. A definition that is invalid (bad YAML, a
field of the wrong shape, a binding to a missing node, a template ComfyUI would reject) is
reported as `DefinitionProblem(file, field, reason)`; every other definition still loads.
Folders are read in order and a later folder's definition replaces an earlier one of the
same name, so a user folder can override a shipped workflow.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .graphcheck import check_graph
from .loaded import RESOLUTION_KEYS, DefinitionInvalid, LoadedWorkflow, compile_workflow
from .modelcheck import input_spec
from .params import ParamError, prompt_params, resolve_params, timing
from .render import build, set_input
from .schema import ParamDef, WorkflowDef

log = logging.getLogger("vq.workflows")

_PROBE_INPUT = {"image": "vq_probe.png", "video": "vq_probe.mp4"}


@dataclass(frozen=True)
class DefinitionProblem:
    file: str
    field: str  # dotted path in the definition, e.g. "params.steps.default"; "" for the whole file
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}" if self.field else f"{self.file}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class WorkflowNotFound(LookupError):
    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.known = known
        super().__init__(f"unknown workflow {name!r}; known: {', '.join(known) or 'none'}")


def load_workflow(path: Path) -> LoadedWorkflow:
    """Read, validate and compile one definition; raises DefinitionInvalid listing every problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DefinitionInvalid([("", f"cannot read the definition: {exc}")]) from None
    if not isinstance(data, dict):
        raise DefinitionInvalid([("", "a definition is a YAML mapping (name:, mode:, template:, ...)")])
    try:
        defn = WorkflowDef.model_validate(data)
    except ValidationError as exc:
        raise DefinitionInvalid([(_field(err["loc"], data), err["msg"]) for err in exc.errors()]) from None
    folder = path.parent.resolve()
    template_path = (folder / defn.template).resolve()
    if os.path.commonpath([folder, template_path]) != str(folder):
        raise DefinitionInvalid([("template", f"{defn.template!r} must lie inside {folder}")])
    try:
        template = json.loads(template_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DefinitionInvalid([("template", f"cannot read {template_path}: {exc}")]) from None
    wf = compile_workflow(defn, template, path=path, template_path=template_path)
    for raw in _probes(wf):  # the defaults (at every stage-count extreme) must render
        try:
            build(wf, resolve_params(wf, raw))
        except ParamError as exc:
            raise DefinitionInvalid([(f"params.{exc.param}", f"the defaults do not render: {exc.message}")]) from None
    return wf


def schema_problems(wf: LoadedWorkflow, object_info: dict[str, Any], *, strict: bool = True) -> list[tuple[str, str]]:
    """Check the workflow against node schemas: classes, bound inputs, and rendered probe graphs.

    With `strict`, inputs the server does not declare are problems too (see check_graph);
    the catalog checks leniently so templates stay usable on older ComfyUI versions,
    and the test suite checks the shipped ones strictly against 0.8.0.
    """
    problems: list[tuple[str, str]] = []
    bound = [(f"params.{n}.bind", b) for n, bs in wf.targets.items() for b in bs]
    if wf.input_binding is not None:
        bound.append(("input.binding", wf.input_binding))
    for where, b in bound:
        cls = wf.template[b.node]["class_type"]
        info = object_info.get(cls)
        if strict and info is not None and input_spec(info, b.input) is None:
            problems.append((where, f"{b}: {cls} has no input {b.input!r}"))
    for i, out in enumerate(wf.definition.outputs):
        cls = wf.template[out.node]["class_type"]
        if cls in object_info and not object_info[cls].get("output_node"):
            problems.append((f"outputs[{i}].node", f"node {out.node} ({cls}) is not an output node"))
    seen: set[str] = set()
    for raw in _probes(wf):
        graph, _targets = build(wf, resolve_params(wf, raw))
        set_input(wf, graph, _PROBE_INPUT.get(wf.definition.input.kind))
        for problem in check_graph(graph, object_info, strict=strict):
            if problem not in seen:
                seen.add(problem)
                problems.append(("template", problem))
    return problems


def _probes(wf: LoadedWorkflow) -> list[dict[str, Any]]:
    """Parameter sets that exercise every structure: most stages and a LoRA in each chain;
    fewest stages and every removable LoRA removed."""
    most: dict[str, Any] = {}
    fewest: dict[str, Any] = {}
    if wf.definition.stages is not None:
        count = wf.params[wf.definition.stages.count_param]
        most[count.name], fewest[count.name] = count.max, count.min
    for name, p in wf.params.items():
        if p.chain is not None:
            most[name] = [{c.name: "vq_probe.safetensors" for c in p.chain}]
        elif p.removable:
            fewest[name] = None
    return [most, fewest]


def _field(loc: tuple[Any, ...], data: Any) -> str:
    """Pydantic's error location as a dotted path, naming list items by their `name` when they have one."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            item = node[key] if isinstance(node, list) and key < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(str(name) if isinstance(name, str) else f"[{key}]")
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts).replace(".[", "[")


class Catalog:
    """All workflow definitions of some folders. Loads lazily; `reload()` rereads everything.

    `object_info()` returns node schemas (None while unavailable: then templates are only
    checked against themselves). `options(source)` returns a live option list, e.g. the
    installed LoRAs for "loras", used by `describe`.
    """

    def __init__(self, dirs: list[Path], object_info: Callable[[], dict | None] | None = None,
                 options: Callable[[str], list[str]] | None = None):
        self._dirs = [Path(d) for d in dirs]
        self._object_info = object_info
        self._options = options
        self._lock = threading.Lock()
        self._workflows: dict[str, LoadedWorkflow] | None = None
        self._problems: list[DefinitionProblem] = []

    def reload(self) -> list[DefinitionProblem]:
        info = self._fetch_object_info()
        workflows: dict[str, LoadedWorkflow] = {}
        problems: list[DefinitionProblem] = []
        for folder in self._dirs:
            if not folder.is_dir():
                if folder.exists():
                    problems.append(DefinitionProblem(str(folder), "", "is not a folder"))
                continue
            here: dict[str, Path] = {}
            for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
                try:
                    wf = load_workflow(path)
                    if info is not None and (found := schema_problems(wf, info, strict=False)):
                        raise DefinitionInvalid(found)
                except DefinitionInvalid as exc:
                    problems.extend(DefinitionProblem(str(path), f, r) for f, r in exc.problems)
                    continue
                if wf.name in here:
                    problems.append(DefinitionProblem(str(path), "name", f"{wf.name!r} is already defined "
                                                                         f"in {here[wf.name].name}"))
                    continue
                here[wf.name] = path
                workflows[wf.name] = wf
        for problem in problems:
            log.warning("workflow definition problem: %s", problem)
        with self._lock:
            self._workflows, self._problems = workflows, problems
        return list(problems)

    def names(self) -> list[str]:
        return sorted(self._loaded())

    def get(self, name: str) -> LoadedWorkflow:
        workflows = self._loaded()
        if name not in workflows:
            raise WorkflowNotFound(name, sorted(workflows))
        return workflows[name]

    def problems(self) -> list[DefinitionProblem]:
        self._loaded()
        return list(self._problems)

    def summaries(self) -> list[dict[str, Any]]:
        """One line per workflow, for a picker."""
        return [{"name": wf.name, "display_name": wf.definition.title, "description": wf.definition.description,
                 "mode": wf.definition.mode, "tags": list(wf.definition.tags)}
                for wf in (self.get(n) for n in self.names())]

    def describe(self, name: str) -> dict[str, Any]:
        """Everything a form needs, JSON-safe: parameters with types, defaults, ranges, options and UI hints."""
        wf = self.get(name)
        d = wf.definition
        defaults = resolve_params(wf, {})
        entries = [(p.ui.order if p.ui.order is not None else i, self._param(wf, p)) for i, p in enumerate(d.params)]
        if d.resolution is not None:
            at = next(i for i, p in enumerate(d.params) if p.name == d.resolution.width_param)
            width = wf.params[d.resolution.width_param]
            order = width.ui.order if width.ui.order is not None else at
            entries.append((order - 0.2, self._resolution_param(wf, width)))
            if d.resolution.flip:
                entries.append((order - 0.1, self._flip_param(width)))
        params = [e for _o, e in sorted(entries, key=lambda e: e[0])]
        stages = None
        if d.stages is not None:
            count = wf.params[d.stages.count_param]
            stages = {"count_param": count.name, "min": count.min, "max": count.max, "default": wf.defaults[count.name]}
        return {
            "name": wf.name, "display_name": d.title, "description": d.description, "mode": d.mode,
            "tags": list(d.tags), "file": str(wf.path) if wf.path else None,
            "input": {"kind": d.input.kind, "multiple": d.input.multiple, "glob": d.input.glob,
                      "extensions": d.input.suffixes if d.input.kind != "none" else []},
            "params": params,
            "groups": list(dict.fromkeys(p["ui"]["group"] for p in params if p["ui"]["group"])),
            "resolution": None if d.resolution is None else {
                "default": d.resolution.default, "flip": d.resolution.flip,
                "width_param": d.resolution.width_param, "height_param": d.resolution.height_param,
                "presets": [{"name": p.name, "label": p.label or p.name, "width": p.width, "height": p.height}
                            for p in d.resolution.presets]},
            "timing": None if d.timing is None else {**timing(wf, defaults), **{
                f"{k}_param": v for k, v in d.timing.model_dump().items() if isinstance(v, str)}},
            "stages": stages,
            "prompt_params": [p.name for p in d.params if p.per_file],
            "default_prompt_params": prompt_params(wf, defaults),
            "outputs": [o.model_dump() for o in d.outputs],
        }

    def _param(self, wf: LoadedWorkflow, p: ParamDef) -> dict[str, Any]:
        source = p.options_source or ("loras" if p.type == "lora" else None)
        entry: dict[str, Any] = {
            "name": p.name, "label": p.label or _humanize(p.name), "type": p.type,
            "default": wf.defaults.get(p.name), "min": p.min, "max": p.max, "step": p.step,
            "options": [o.model_dump() for o in p.options] if p.options else None,
            # live lists (installed files) are suggestions: the server, not vq, refuses a missing file
            "options_live": False,
            "options_source": source, "derived": p.derived, "per_stage": p.per_stage, "per_file": p.per_file,
            "removable": p.removable, "ui": p.ui.model_dump(),
        }
        if p.chain is not None:
            entry.update(chain=[{"name": c.name, "label": c.label or c.name} for c in p.chain], max_items=p.max_items)
        if source and not p.options and self._options is not None:
            try:
                entry["options"] = [{"value": v, "label": None} for v in self._options(source)]
                entry["options_live"] = True
            except Exception as exc:  # a broken option list must not break the form
                log.exception("vq: options source %s failed", source)
                entry["options_error"] = str(exc)
        return entry

    def _resolution_param(self, wf: LoadedWorkflow, width: ParamDef) -> dict[str, Any]:
        res = wf.definition.resolution
        options = [{"value": p.name, "label": f"{p.label or p.name} ({p.width}×{p.height})"} for p in res.presets]
        return _synthetic(RESOLUTION_KEYS[0], "Resolution", "select", res.default, width,
                          "A preset sets width and height; custom uses them as given.",
                          options=[*options, {"value": "custom", "label": "Custom (width × height)"}])

    def _flip_param(self, width: ParamDef) -> dict[str, Any]:
        return _synthetic(RESOLUTION_KEYS[1], "Flip orientation", "bool", False, width,
                          "Swap width and height (portrait ↔ landscape).")

    def _loaded(self) -> dict[str, LoadedWorkflow]:
        if self._workflows is None:
            self.reload()
        return self._workflows

    def _fetch_object_info(self) -> dict[str, Any] | None:
        if self._object_info is None:
            return None
        try:
            return self._object_info()
        except Exception:  # checking is best effort; definitions still load unchecked
            log.exception("vq: object_info unavailable; workflow templates not checked against node schemas")
            return None


def _synthetic(name: str, label: str, type_: str, default: Any, beside: ParamDef, help_: str,
               options: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A form entry for a value that is not a declared parameter (resolution preset, flip)."""
    return {"name": name, "label": label, "type": type_, "default": default, "min": None, "max": None,
            "step": None, "options": options, "options_live": False, "options_source": None, "derived": None, "per_stage": False,
            "per_file": False, "removable": False,
            "ui": {**beside.ui.model_dump(), "help": help_, "advanced": False, "widget": None}}


def _humanize(name: str) -> str:
    return name.replace("_", " ").capitalize()
