"""Live progress is written on the loop and read on the DB thread (job summaries)."""

from __future__ import annotations

import threading

from vq_extension.queue.progress import LiveProgress


class _MutatingJobId:
    """A job id whose comparison lets another thread (the loop) change the map while
    ``for_job`` iterates it on this thread (the DB thread), as in production."""

    def __init__(self, live: LiveProgress) -> None:
        self.live = live
        self.mutated = threading.Event()

    def __eq__(self, other: object) -> bool:
        if not self.mutated.is_set():
            self.mutated.set()
            loop_thread = threading.Thread(target=self.live.update, args=(999, 7), kwargs={"value": 1})
            loop_thread.start()
            # Without a lock the writer finishes at once and the iteration breaks; with one
            # it waits for the reader, and joining times out harmlessly.
            loop_thread.join(timeout=0.2)
            self.threads.append(loop_thread)
        return False

    __hash__ = None  # type: ignore[assignment]
    threads: list[threading.Thread] = []


def test_for_job_survives_the_loop_adding_a_prompt_mid_iteration() -> None:
    live = LiveProgress()
    for prompt_id in range(3):
        live.update(prompt_id, 1, value=prompt_id)
    job_id = _MutatingJobId(live)
    job_id.threads = []
    assert live.for_job(job_id) is None  # before the fix: "dictionary changed size during iteration"
    for t in job_id.threads:
        t.join()
    assert live.get(999) is not None


def test_readers_get_copies_not_the_live_objects() -> None:
    live = LiveProgress()
    live.update(1, 5, value=1, max=10)
    seen = live.for_job(5)
    live.update(1, 5, value=9)
    assert seen is not None and seen.value == 1
    got = live.get(1)
    assert got is not None and got.value == 9
