"""Answers of the auto-prompt routes (``autoprompt/service.py``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..timestamps import Timestamp


class AutopromptImageError(BaseModel):
    code: str = Field(description="invalid_image, caption_missing, autoprompt_bad_output, autoprompt_backend_error")
    stage: str = Field(description="caption or motion: where it failed")
    message: str


class AutopromptImage(BaseModel):
    path: str = Field(description="as given in image_paths")
    caption: str | None = None
    motion_prompt: str | None = Field(None, description="single-prompt workflows")
    clip_prompts: list[str] | None = Field(None, description="split workflows: one prompt per clip, in order")
    error: AutopromptImageError | None = None


class AutopromptResult(BaseModel):
    workflow_name: str
    stage: Literal["caption", "motion", "both"]
    clips: int = Field(description="prompts per image: 1, or the split workflow's stage count")
    results: list[AutopromptImage]
    stage1_model: str | None = Field(description="the caption model's id in LM Studio, if stage 1 ran")
    stage2_model: str | None = Field(description="the motion model's id in LM Studio, if stage 2 ran")
    elapsed_seconds: float
    cache_hits: dict[str, int] = Field(description="caption and motion answers served from the cache")


class AutopromptRunError(BaseModel):
    status: int = Field(description="the HTTP status the synchronous route would have answered")
    code: str
    message: str
    hint: str | None
    stage: str | None


class StageProgress(BaseModel):
    done: int
    total: int


class AutopromptRun(BaseModel):
    id: int
    status: Literal["running", "succeeded", "failed", "canceled"]
    workflow_name: str
    stage: Literal["caption", "motion", "both"]
    current_stage: str | None = Field(description="the stage working now; null once the run ended")
    progress: dict[str, StageProgress] = Field(description="per stage that runs: images done of total")
    created_at: Timestamp
    finished_at: Timestamp | None
    result: AutopromptResult | None = Field(description="when succeeded")
    error: AutopromptRunError | None = Field(description="when failed")


class AutopromptStageStatus(BaseModel):
    model: str
    available: bool
    loaded: bool | None = Field(None, description="null: the server does not say")
    vision: bool | None = None
    note: str | None = None
    message: str | None = Field(None, description="why it is not available")
    hint: str | None = None


class AutopromptModel(BaseModel):
    id: str
    loaded: bool | None
    vision: bool | None


class AutopromptStatus(BaseModel):
    url: str = Field(description="lmstudio_url")
    reachable: bool
    source: str | None = Field(description="the listing that described the models: api/v1, api/v0 or v1")
    error: str | None
    hint: str | None
    models: list[AutopromptModel]
    stages: dict[str, AutopromptStageStatus] = Field(description="caption and motion")
    settings: dict[str, Any]
