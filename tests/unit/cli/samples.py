"""API bodies for CLI tests, shaped like ``api/views.py`` answers. ``test_samples``
validates every one against ``vq_extension.api.responses``, so they cannot drift from the
real shapes unnoticed."""

from __future__ import annotations

import copy
from typing import Any

T0 = "2026-11-18T08:00:00.000Z"
T1 = "2026-11-18T08:01:30.000Z"
T2 = "2026-11-18T08:20:00.000Z"


def summary(job_id: int = 12, status: str = "running", *, name: str = "night batch", done: int = 3, total: int = 5,
            counts: dict[str, int] | None = None, eta: float | None = 312.5, current: dict[str, Any] | None = None,
            workflow: str | None = "smoke-image", priority: int = 0) -> dict[str, Any]:
    return {
        "id": job_id, "name": name, "workflow": workflow, "mode": "image_gen" if workflow else None,
        "status": status, "priority": priority, "workspace": None,
        "created_at": T0, "started_at": T1 if status != "pending" else None,
        "finished_at": T2 if status in ("succeeded", "failed", "canceled") else None,
        "total": total, "done": done,
        "counts": counts if counts is not None else {"succeeded": 3, "running": 1, "pending": 1},
        "current": current, "eta_seconds": eta,
    }


def prompt(index: int, status: str, *, job_id: int = 12, seed: int | None = 1000, attempt: int = 1,
           error: dict[str, Any] | None = None, outputs: list[dict[str, Any]] | None = None,
           progress: dict[str, Any] | None = None, input_file: str | None = None) -> dict[str, Any]:
    pid = 40 + index
    comfy = None if status == "pending" else f"{index}c4b7a97-0000-4000-8000-00000000004{index}"
    return {
        "id": pid, "job_id": job_id, "index": index, "status": status, "attempt": 0 if status == "pending" else attempt,
        "comfy_prompt_id": comfy, "progress": progress, "error": error,
        "max_attempts": 2, "seed": seed, "input_file": input_file or f"/data/stills/img{index + 1}.png",
        "staged_name": f"vq_staged/ab{index}/img{index + 1}.png", "try_index": 0, "params": {"steps": 4},
        "outputs": outputs or [], "created_at": T0, "queued_at": None if status == "pending" else T1,
        "started_at": None if status in ("pending", "queued") else T1,
        "finished_at": T2 if status in ("succeeded", "failed", "canceled") else None,
        "attempts": [] if status == "pending" else [{
            "attempt": attempt, "comfy_prompt_id": comfy, "status": status, "queued_at": T1,
            "started_at": T1, "finished_at": T2 if status in ("succeeded", "failed", "canceled") else None,
            "error": error}],
    }


def output(name: str) -> dict[str, Any]:
    return {"kind": "image", "filename": name, "subfolder": "vq", "type": "output", "node": "9",
            "url": f"/view?filename={name}&subfolder=vq&type=output", "path": f"/comfy/output/vq/{name}"}


ERROR = {"type": "execution_error", "message": "CUDA out of memory", "node_id": "13", "node_type": "KSampler",
         "traceback": ["Traceback (most recent call last):", "  File \"execution.py\", line 1", "RuntimeError"],
         "details": {}}


def detail(status: str = "running") -> dict[str, Any]:
    job = summary(status=status, current={"prompt_id": 43, "value": 12, "max": 20, "node": "13"},
                  counts={"succeeded": 2, "failed": 1, "running": 1, "pending": 1})
    job.update(params={"steps": 4}, options={"max_attempts": 2, "tries": 1}, source={"folder": "/data/stills"},
               prompts=[
                   prompt(0, "succeeded", seed=1000, outputs=[output("img1_00001_.png")]),
                   prompt(1, "succeeded", seed=1001, outputs=[output("img2_00001_.png")]),
                   prompt(2, "failed", seed=1002, error=ERROR),
                   prompt(3, "running", seed=1003, progress={"value": 12, "max": 20, "node": "13"}),
                   prompt(4, "pending", seed=1004),
               ])
    return job


def finished(status: str = "succeeded") -> dict[str, Any]:
    job = detail(status)
    n = len(job["prompts"])
    job.update(done=n, total=n, eta_seconds=None, current=None, counts={status: n} if status != "failed"
               else {"succeeded": n - 1, "failed": 1})
    for i, p in enumerate(job["prompts"]):
        final = ("failed" if i == 2 else "succeeded") if status == "failed" else status
        p.update(prompt(i, final, seed=1000 + i, error=ERROR if final == "failed" else None,
                        outputs=[output(f"img{i + 1}_00001_.png")] if final == "succeeded" else None))
    return job


QUEUE = {"paused": False, "worker": "running", "worker_error": None, "in_flight": 1, "max_in_flight": 2,
         "counts": {"pending": 6, "running": 1, "succeeded": 3, "failed": 1}, "stuck": []}

HEALTH = {
    "ok": True, "vq_version": "0.1.0", "comfyui_version": "0.8.0",
    "strategies": {"comfyui_version": "0.8.0", "submit": "post_prompt_handler", "validate": "async/4-args",
                   "queue_item_arity": 6, "queue_item_arity_from": "task_done_signature",
                   "cancel": "mutex_check_then_interrupt",
                   "queue_read": "get_current_queue_volatile", "data_dir": "system_user_directory"},
    "queue": QUEUE, "data_dir": "/comfy/user/__video_queue",
    "db": {"path": "/comfy/user/__video_queue/vq.sqlite3", "schema_version": 1, "sqlite_version": "3.45.1"},
    "settings": {"max_in_flight": 2, "max_attempts": 2, "prompt_timeout_seconds": 0.0, "stage_on_submit": True},
    "instance": "gpu-box:8188:4242:1767225600.000:a1b2c3",
    "instances": [{"id": "gpu-box:8188:4242:1767225600.000:a1b2c3", "host": "gpu-box", "port": 8188, "pid": 4242,
                   "started_at": 1767225600.0, "heartbeat_at": 1767229200.0}],
}


def job_list() -> dict[str, Any]:
    jobs = [
        summary(12, "running", current={"prompt_id": 43, "value": 12, "max": 20, "node": "13"}),
        summary(11, "failed", name="portraits", done=4, total=4, eta=None, counts={"succeeded": 3, "failed": 1}),
        summary(13, "pending", name="upscale set", done=0, total=10, eta=None, counts={"pending": 10},
                workflow=None, priority=5),
        summary(9, "succeeded", name="ünïcode 名前", done=2, total=2, eta=None, counts={"succeeded": 2}),
    ]
    return {"jobs": jobs, "total": 4, "limit": 50, "offset": 0,
            "counts": {"running": 1, "failed": 1, "pending": 1, "succeeded": 1}}


LOG = {"entries": [
    {"id": 1, "at": T0, "level": "info", "event": "submitted", "message": "submitted with 5 prompt(s)",
     "prompt_id": None},
    {"id": 2, "at": T1, "level": "info", "event": "queued", "message": "prompt #0 queued in ComfyUI", "prompt_id": 40},
    {"id": 3, "at": T2, "level": "error", "event": "failed", "message": "prompt #2 failed in node 13 (KSampler): "
                                                                          "CUDA out of memory", "prompt_id": 42},
], "next_after": 3}


def clone(value: Any) -> Any:
    return copy.deepcopy(value)
