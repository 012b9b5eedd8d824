"""bench/throughput_real.py's reading of the websocket: which messages say a prompt finished.

The 5.5 s "tail" of every vq run in the first after-run (docs/performance.md) was this
reader: it knew only ``vq.prompt``, vq now sends ``vq.prompts`` batches, so it never saw
vq's prompts finish and fell back to polling the job after 5 quiet seconds."""

from __future__ import annotations

from bench.throughput_real import finished_in


def brief(job_id: int, index: int, status: str) -> dict:
    return {"id": 100 + index, "job_id": job_id, "index": index, "status": status, "attempt": 1,
            "comfy_prompt_id": f"c{index}", "progress": None, "error": None}


def test_a_vq_prompts_batch_finishes_its_terminal_prompts() -> None:
    batch = {"prompts": [brief(7, 0, "succeeded"), brief(7, 1, "running"), brief(7, 2, "failed"),
                         brief(7, 3, "canceled")]}
    assert finished_in("vq.prompts", batch) == ([], [(7, 0), (7, 2), (7, 3)])


def test_a_single_vq_prompt_still_counts() -> None:
    assert finished_in("vq.prompt", {"prompt": brief(3, 4, "succeeded")}) == ([], [(3, 4)])
    assert finished_in("vq.prompt", {"prompt": brief(3, 4, "queued")}) == ([], [])


def test_comfyuis_end_of_prompt_and_other_messages() -> None:
    assert finished_in("executing", {"node": None, "prompt_id": "abc"}) == (["abc"], [])
    assert finished_in("executing", {"node": "5", "prompt_id": "abc"}) == ([], [])
    assert finished_in("vq.job", {"job": {"id": 7, "status": "succeeded"}}) == ([], [])
    assert finished_in("status", {}) == ([], [])
