"""Answers of the workflow routes (``workflows/service.py`` / ``workflows.Catalog.describe``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class WorkflowSummary(BaseModel):
    name: str
    display_name: str
    description: str
    mode: Literal["video_gen", "image_gen", "video_upscale", "image_upscale"]
    tags: list[str]


class DefinitionProblem(BaseModel):
    file: str
    field: str = Field(description="dotted path in the definition; empty for the whole file")
    reason: str


class WorkflowList(BaseModel):
    workflows: list[WorkflowSummary]
    problems: list[DefinitionProblem] = Field(description="definitions that failed to load, and why")


class WorkflowReload(BaseModel):
    workflows: list[str] = Field(description="names of the definitions now loaded")
    problems: list[DefinitionProblem]


class ParamOption(BaseModel):
    value: str | int | float | bool
    label: str | None


class ChainTarget(BaseModel):
    name: str
    label: str


class UiHints(BaseModel):
    widget: str | None
    multiline: bool
    group: str | None
    order: int | None
    placeholder: str | None
    help: str | None
    advanced: bool


class ParamDescription(BaseModel):
    name: str = Field(description="per-stage names hold {k}: positive_prompt_stage{k} is set as "
                                  "positive_prompt_stage1, positive_prompt_stage2, ...")
    label: str
    type: Literal["text", "int", "float", "bool", "select", "image", "lora"]
    default: Any = None
    min: int | float | None
    max: int | float | None
    step: int | float | None
    options: list[ParamOption] | None
    options_live: bool = Field(description="options were read from ComfyUI (installed files): suggestions, "
                                           "not a closed list")
    options_source: str | None
    options_error: str | None = Field(None, description="reading the live option list failed")
    derived: str | None = Field(description="an expression: the value is computed, not set")
    per_stage: bool
    per_file: bool = Field(description="may be set per input file (per_file_params)")
    removable: bool = Field(description="a LoRA that an empty value removes")
    chain: list[ChainTarget] | None = Field(None, description="a LoRA list: one file per chain and a strength")
    max_items: int | None = None
    ui: UiHints


class InputDescription(BaseModel):
    kind: Literal["image", "video", "none"]
    multiple: bool
    glob: str
    extensions: list[str]


class ResolutionPreset(BaseModel):
    name: str
    label: str
    width: int
    height: int


class ResolutionDescription(BaseModel):
    default: str
    flip: bool
    width_param: str
    height_param: str
    presets: list[ResolutionPreset]


class StagesDescription(BaseModel):
    count_param: str
    min: int
    max: int
    default: int


class OutputDescription(BaseModel):
    node: str
    kind: Literal["image", "video", "audio"]


class WorkflowDescription(BaseModel):
    name: str
    display_name: str
    description: str
    mode: Literal["video_gen", "image_gen", "video_upscale", "image_upscale"]
    tags: list[str]
    file: str | None = Field(description="the definition file on the ComfyUI host")
    input: InputDescription
    params: list[ParamDescription] = Field(description="in form order, with the resolution preset and flip")
    groups: list[str]
    resolution: ResolutionDescription | None
    timing: dict[str, Any] | None = Field(description="fps, frames and seconds per stage, for auto-prompt")
    stages: StagesDescription | None
    prompt_params: list[str] = Field(description="declared names of the per-file (prompt) parameters")
    default_prompt_params: list[str] = Field(description="their concrete names at the default stage count")
    outputs: list[OutputDescription]


class PlannedPrompt(BaseModel):
    index: int
    input_file: str | None
    staged_name: str | None = Field(description="the name staging would give the file")
    try_index: int
    seed: int | None
    params: dict[str, Any]
    graph: dict[str, Any] | None = Field(description="the rendered graph (beyond 50 prompts, the first only)")


class DryRun(BaseModel):
    """``POST /vq/v1/jobs`` with ``dry_run: true``: answered 200, nothing queued."""

    dry_run: Literal[True]
    workflow: str | None
    name: str
    total: int
    params: dict[str, Any] = Field(description="the job's resolved parameters")
    warnings: list[str]
    offset: int = Field(description="index of the first prompt listed")
    next_offset: int | None = Field(description="send dry_run_offset=this for the next 500; null on the last page")
    prompts: list[PlannedPrompt] = Field(description="at most 500 planned prompts, from offset")


