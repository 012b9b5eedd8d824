"""Pydantic models of a workflow definition (one YAML file in workflow_defs_v2/).

These models check the *shape* of a definition: field types, allowed values, and rules
that concern one object at a time. Rules that tie objects together (a binding names a
template node, a derived value names another parameter, a preset fits the width range)
live in `loaded.py`, which sees the whole definition and its template at once and can
name the exact field that is wrong. docs/workflows.md describes every field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ..media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from .expr import ExprError, compile_expr
from .modelcheck import OPTION_SOURCES

Mode = Literal["video_gen", "image_gen", "video_upscale", "image_upscale"]
ParamType = Literal["text", "int", "float", "bool", "select", "image", "lora"]
InputKind = Literal["image", "video", "none"]
OutputKind = Literal["image", "video", "audio"]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\{k\}[a-z0-9_]*)?$")
WORKFLOW_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
BINDING_RE = re.compile(r"^(?P<node>[A-Za-z0-9_:-]+)\.inputs\.(?P<input>[A-Za-z_][A-Za-z0-9_.]*)$")
STAGE_TOKEN = "{k}"
MAX_STAGES = 8

# Extensions looked for when a definition does not list its own.
DEFAULT_EXTENSIONS = {"image": sorted(IMAGE_EXTENSIONS), "video": sorted(VIDEO_EXTENSIONS), "none": []}


class Binding(NamedTuple):
    """`"<node id>.inputs.<input name>"`, parsed."""

    node: str
    input: str

    def __str__(self) -> str:
        return f"{self.node}.inputs.{self.input}"


def parse_binding(text: str) -> Binding:
    m = BINDING_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a binding; write \"<node id>.inputs.<input name>\", e.g. \"13.inputs.steps\"")
    return Binding(m["node"], m["input"])


def _binding_text(text: str) -> str:
    parse_binding(text)
    return text.strip()


def _expr_text(text: str) -> str:
    try:
        compile_expr(text)
    except ExprError as exc:
        raise ValueError(str(exc)) from None
    return text


BindingText = Annotated[str, AfterValidator(_binding_text)]
ExprText = Annotated[str, AfterValidator(_expr_text)]


class _Model(BaseModel):
    # Unknown keys are errors, so a typo ("defualt") is reported instead of ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class UiHints(_Model):
    widget: str | None = None  # e.g. "textarea", "slider", "seed", "file"; the UI falls back by type
    multiline: bool = False
    group: str | None = None  # form section
    order: int | None = None  # sort key within the form; defaults to the position in the file
    placeholder: str | None = None
    help: str | None = None
    advanced: bool = False  # folded away by default


class Option(_Model):
    value: str | int | float | bool
    label: str | None = None


class ChainTarget(_Model):
    """One LoRA chain: extra LoRAs are inserted just before `consumer` (a MODEL input)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    consumer: BindingText
    label: str | None = None

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in ("name", "strength") or v.startswith("strength_"):
            raise ValueError(f"{v!r} is reserved in LoRA entries; pick another chain name")
        return v


class ParamDef(_Model):
    name: str
    label: str | None = None
    type: ParamType
    default: Any = None
    min: int | float | None = None
    max: int | float | None = None
    step: int | float | None = None
    options: list[Option] | None = None
    options_source: str | None = None  # live list, e.g. "loras"; see modelcheck.OPTION_SOURCES
    bind: list[BindingText] = []
    derived: ExprText | None = None  # expression over other parameters, e.g. "seed + 1"
    per_stage: bool = False  # name contains {k}; one value per stage of a dynamic workflow
    per_file: bool = False  # may be overridden per input file (prompts)
    removable: bool = False  # lora: an empty value removes the bound loader node(s), links kept
    chain: list[ChainTarget] | None = None  # lora: the value is a list of extra LoRAs
    max_items: int = Field(8, ge=1, le=32)
    ui: UiHints = UiHints()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("use lower_case letters, digits and _ (per-stage names contain {k} once)")
        return v

    @field_validator("bind", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("options", mode="before")
    @classmethod
    def _scalar_options(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [o if isinstance(o, dict) else {"value": o} for o in v]
        return v

    @field_validator("options_source")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        if v is not None and v not in OPTION_SOURCES:
            raise ValueError(f"unknown options source {v!r}; known: {', '.join(sorted(OPTION_SOURCES))}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ParamDef:
        t = self.type
        if (STAGE_TOKEN in self.name) != self.per_stage:
            raise ValueError("a per-stage parameter has {k} in its name (and only then)")
        numeric = t in ("int", "float") or (t == "lora" and self.chain is not None)
        if not numeric and (self.min is not None or self.max is not None):
            raise ValueError(f"min/max apply to int, float and LoRA-chain strengths, not to {t}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.step is not None and self.step <= 0:
            raise ValueError("step must be positive")
        if t == "select" and not self.options and not self.options_source:
            raise ValueError("a select needs options or an options_source")
        if self.options is not None and t != "select":
            raise ValueError("options apply to select parameters only (use options_source for live lists)")
        if (self.removable or self.chain is not None) and t != "lora":
            raise ValueError("removable and chain apply to lora parameters only")
        if self.chain is not None:
            if self.removable or self.bind:
                raise ValueError("a LoRA chain has no bind and is not removable: an empty list adds nothing")
            names = [c.name for c in self.chain]
            if not names or len(set(names)) != len(names):
                raise ValueError("chain needs one or more targets with distinct names")
        if self.per_file and t != "text":
            raise ValueError("only text parameters (prompts) can be overridden per file")
        if self.derived is not None:
            if t not in ("int", "float", "bool", "text"):
                raise ValueError(f"a {t} parameter cannot be derived")
            if self.default is not None or self.per_file:
                raise ValueError("a derived value is computed: it has no default and no per-file override")
        return self


class Preset(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    label: str | None = None
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class ResolutionSpec(_Model):
    """Presets that resolve to the width/height parameters; `flip` offers the orientation toggle."""

    width_param: str = "width"
    height_param: str = "height"
    presets: list[Preset] = Field(min_length=1)
    default: str
    flip: bool = True

    @model_validator(mode="after")
    def _names(self) -> ResolutionSpec:
        names = [p.name for p in self.presets]
        if len(set(names)) != len(names) or "custom" in names:
            raise ValueError("preset names must be distinct and not 'custom'")
        if self.default != "custom" and self.default not in names:
            raise ValueError(f"default {self.default!r} is not a preset ({', '.join(names)}) or 'custom'")
        return self


class TimingSpec(_Model):
    """Frame timing for auto-prompt: a number, or the name of the parameter that holds it."""

    fps: float | str
    frames_per_stage: int | str
    stages: int | str = 1


class StageSpec(_Model):
    """How the dynamic builder clones one stage block (see docs/workflows.md, "Stages")."""

    count_param: str
    length_param: str
    block: list[str] = Field(min_length=1)  # template node ids of stage 1
    start_image: BindingText  # block input that receives the previous stage's last frame
    frames: str  # block node whose output 0 is the stage's decoded frames (IMAGE)
    output: BindingText  # input (outside the block) that receives all frames


class OutputSpec(_Model):
    node: str
    kind: OutputKind


class InputSpec(_Model):
    kind: InputKind
    multiple: bool = True  # False: exactly one file per job
    glob: str = "*"
    extensions: list[str] | None = None
    binding: BindingText | None = None  # e.g. "11.inputs.image"; required unless kind is none

    @field_validator("glob")
    @classmethod
    def _relative(cls, v: str) -> str:
        if not v or v.startswith(("/", "\\")) or ".." in v.replace("\\", "/").split("/"):
            raise ValueError("glob must be a relative pattern inside the folder, e.g. '*' or '**/*'")
        return v

    @model_validator(mode="after")
    def _by_kind(self) -> InputSpec:
        if self.kind == "none":
            if self.binding is not None or self.extensions:
                raise ValueError("kind none takes no binding and no extensions")
        elif self.binding is None:
            raise ValueError(f"kind {self.kind} needs a binding, e.g. \"11.inputs.image\"")
        return self

    @property
    def suffixes(self) -> list[str]:
        exts = DEFAULT_EXTENSIONS[self.kind] if self.extensions is None else self.extensions
        return [e.lower() if e.startswith(".") else "." + e.lower() for e in exts]


class CheckSpec(_Model):
    """A rule over several parameters, e.g. `split_step <= steps`."""

    expr: ExprText
    message: str
    param: str | None = None  # the parameter an error names; defaults to the first one in expr


class WorkflowDef(_Model):
    name: str = Field(pattern=WORKFLOW_NAME_RE.pattern)
    display_name: str | None = None
    description: str = ""
    mode: Mode
    tags: list[str] = []
    template: str  # path of the API-format graph, relative to the definition file
    input: InputSpec
    params: list[ParamDef] = []
    resolution: ResolutionSpec | None = None
    timing: TimingSpec | None = None
    stages: StageSpec | None = None
    outputs: list[OutputSpec] = Field(min_length=1)
    checks: list[CheckSpec] = []

    @property
    def title(self) -> str:
        return self.display_name or self.name
