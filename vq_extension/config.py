"""vq settings: defaults, overridden by an optional ``vq.yaml`` in the data dir, then by
``VQ_*`` environment variables (the last word, for one-off runs)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(ValueError):
    pass


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_in_flight: int = Field(2, ge=1, le=16, description="vq prompts kept in ComfyUI's queue at once")
    max_attempts: int = Field(2, ge=1, le=10, description="interruptions (restarts, lost prompts) tolerated")
    prompt_timeout_seconds: float = Field(0, ge=0, description="interrupt and fail a prompt running longer; 0 = off")
    poll_seconds: float = Field(1.0, gt=0, le=60, description="reconcile interval while work is in flight")
    idle_poll_seconds: float = Field(5.0, gt=0, le=600, description="reconcile interval with nothing in flight")
    lost_grace_seconds: float = Field(2.0, ge=0, description="how long a prompt may be missing before it is lost")
    reinterrupt_seconds: float = Field(3.0, gt=0, description="repeat a cancel's interrupt after this long")
    owner_id: str = Field(default_factory=socket.gethostname, description="this machine's name in instance ids "
                          "(several ComfyUI processes or hosts on one database)")
    lease_seconds: float = Field(30.0, gt=0, le=3600, description="a prompt in ComfyUI stays its instance's while "
                                 "the instance renews it this often; after that another instance may take it over")
    allowed_roots: list[str] = Field(default_factory=list, description="extra folders vq may read inputs from")
    max_folder_files: int = Field(20_000, ge=1, description="folders holding more entries are refused by the "
                                  "folder check, the browser and a folder submit (scans of huge folders "
                                  "slow ComfyUI down)")
    stage_on_submit: bool = Field(True, description="copy folder inputs into staging on submit (uploads always are)")
    upload_max_bytes: int = Field(20 * 1024**3, ge=1, description="largest upload vq accepts; "
                                  "ComfyUI's --max-upload-size does not apply to vq's streamed uploads")
    staging_retention_days: float = Field(7, ge=0, description="keep staged inputs this long after their last "
                                          "job finished")
    json_body_max_bytes: int = Field(100 * 1024**2, ge=1024, description="largest JSON request body vq reads "
                                     "(413 above it)")
    staging_sweep_hours: float = Field(0, ge=0, description="run the staging cleanup this often; 0 = off")
    job_retention_days: float = Field(30, ge=0, description="delete finished jobs (prompts, logs) this long after "
                                      "they finished, in the periodic sweep; 0 = keep forever")
    lmstudio_url: str = Field("http://127.0.0.1:1234", min_length=1,
                              description="LM Studio (or any OpenAI-compatible server) root for auto-prompt; "
                                          "/v1 is added")
    autoprompt_caption_model: str = Field("Qwen3-VL-8B-NSFW-Caption-V4.5", min_length=1,
                                          description="auto-prompt stage 1: the vision model that captions images")
    autoprompt_motion_model: str = Field("Dolphin-Mistral-24B-Venice-Edition", min_length=1,
                                         description="auto-prompt stage 2: the text model that writes motion "
                                                     "prompts")
    autoprompt_timeout_seconds: float = Field(120, gt=0, le=3600,
                                              description="longest wait for one LM Studio answer (a first "
                                                          "request may load the model)")
    autoprompt_image_long_side: int = Field(1024, ge=64, le=4096,
                                            description="images are downscaled to this many pixels on the long "
                                                        "side before captioning")


ENV_PREFIX = "VQ_"
CONFIG_FILE = "vq.yaml"


def load_settings(data_dir: Path, environ: dict[str, str] | None = None) -> Settings:
    """Settings from ``<data_dir>/vq.yaml`` and the environment; a bad value raises
    ConfigError naming the file or variable and the field."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    path = data_dir / CONFIG_FILE
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of setting: value")
        values.update(loaded)
    for name in Settings.model_fields:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = [p for p in raw.split(os.pathsep) if p] if name == "allowed_roots" else raw
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid vq settings (from {path} or VQ_* variables): {problems}") from exc
