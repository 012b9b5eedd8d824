"""What the running ComfyUI can do, detected from its objects rather than its version
string (integration brief §11): forks, backports and builds between a change and its
release tag report versions that do not say what their code does.

Only ``comfy/`` imports this; the chosen strategies are reported by ``GET /vq/v1/health``.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Capabilities:
    comfyui_version: str
    submit: str  # "post_prompt_handler" | "validate_and_put"
    validate: str  # how execution.validate_prompt is called
    queue_item_arity: int  # 6 when the worker reads item[5] (sensitive extra_data), else 5 (fallback path only)
    queue_item_arity_from: str  # what the arity was decided from: "task_done_signature" | "version"
    cancel: str  # "interrupt_if_running" | "mutex_check_then_interrupt"
    queue_read: str  # "get_current_queue_volatile" | "get_current_queue"
    data_dir: str  # "system_user_directory" | "user_directory"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def queue_item_arity(queue: Any, version: str) -> tuple[int, str]:
    """How many elements ComfyUI's worker expects in a queue item, and how we know.

    Upstream's commit that added the sixth element (``sensitive``, read unchecked by the
    worker as ``item[5]``) also gave ``PromptQueue.task_done`` its ``process_item``
    parameter, which strips that element before history. So the parameter's presence is
    the shape. Only when the signature cannot be read does the version string decide."""
    try:
        parameters = inspect.signature(queue.task_done).parameters
    except (AttributeError, TypeError, ValueError):
        return (6 if version_tuple(version) >= (0, 3, 68) else 5), "version"
    return (6 if "process_item" in parameters else 5), "task_done_signature"


def validate_arity(execution: ModuleType) -> int:
    return len(inspect.signature(execution.validate_prompt).parameters)


def detect(*, server: Any, execution: ModuleType, folder_paths: ModuleType, version: str,
           has_post_prompt: bool) -> Capabilities:
    queue = server.prompt_queue
    arity, arity_from = queue_item_arity(queue, version)
    validate = execution.validate_prompt
    return Capabilities(
        comfyui_version=version,
        submit="post_prompt_handler" if has_post_prompt else "validate_and_put",
        validate=("async" if inspect.iscoroutinefunction(validate) else "sync") + f"/{validate_arity(execution)}-args",
        queue_item_arity=arity,
        queue_item_arity_from=arity_from,
        cancel="interrupt_if_running" if hasattr(queue, "interrupt_if_running") else "mutex_check_then_interrupt",
        queue_read="get_current_queue_volatile" if hasattr(queue, "get_current_queue_volatile")
        else "get_current_queue",
        data_dir="system_user_directory" if hasattr(folder_paths, "get_system_user_directory")
        else "user_directory",
    )
