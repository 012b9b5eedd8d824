"""The queue's state machines (models.py), checked against tables written out here.

The expected tables are spelled out literally on purpose: a change to ``ALLOWED_FROM``,
the status sets or the actionable order must come with a change to this file.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest

from vq_extension.errors import PromptError
from vq_extension.queue.models import (
    ACTIONABLE_ORDER,
    ACTIVE,
    ALLOWED_FROM,
    IN_COMFY,
    RETRYABLE,
    TERMINAL,
    JobStatus,
    PromptStatus,
    can_transition,
    derive_job_status,
)

P = PromptStatus
J = JobStatus

# --- prompt transitions ------------------------------------------------------------

# Every allowed (from, to) pair, with why. Everything not listed is forbidden.
EXPECTED_ALLOWED: dict[tuple[PromptStatus, PromptStatus], str] = {
    (P.PENDING, P.QUEUED): "claimed and handed to ComfyUI",
    (P.PENDING, P.CANCELED): "canceled before it was claimed",
    (P.QUEUED, P.PENDING): "pulled back out of ComfyUI's queue (pause, ComfyUI unavailable)",
    (P.QUEUED, P.RUNNING): "ComfyUI started it",
    (P.QUEUED, P.CANCELING): "interrupt sent before vq saw it start",
    (P.QUEUED, P.SUCCEEDED): "a fast prompt finished before vq saw it running",
    (P.QUEUED, P.FAILED): "validation failure / refused by ComfyUI",
    (P.QUEUED, P.CANCELED): "deleted from ComfyUI's queue",
    (P.QUEUED, P.INTERRUPTED): "lost by ComfyUI (restart, cleared queue)",
    (P.RUNNING, P.CANCELING): "interrupt sent",
    (P.RUNNING, P.SUCCEEDED): "finished",
    (P.RUNNING, P.FAILED): "execution error, timeout",
    (P.RUNNING, P.CANCELED): "interrupted from outside vq",
    (P.RUNNING, P.INTERRUPTED): "lost by ComfyUI (restart)",
    (P.CANCELING, P.SUCCEEDED): "the cancel lost the race",
    (P.CANCELING, P.FAILED): "failed before the interrupt landed",
    (P.CANCELING, P.CANCELED): "interrupt confirmed",
    (P.FAILED, P.PENDING): "retry",
    (P.CANCELED, P.PENDING): "retry",
    (P.INTERRUPTED, P.PENDING): "recovery while attempts remain",
    (P.INTERRUPTED, P.FAILED): "attempts exhausted",
}

ALL_PAIRS = list(itertools.product(PromptStatus, PromptStatus))


def test_prompt_status_values_are_stable() -> None:
    # The values are stored in the database and sent over the API.
    assert [s.value for s in PromptStatus] == [
        "pending", "queued", "running", "canceling", "succeeded", "failed", "canceled", "interrupted",
    ]
    assert [s.value for s in JobStatus] == ["pending", "running", "succeeded", "failed", "canceled"]
    assert str(P.CANCELING) == "canceling" and str(J.FAILED) == "failed"


def test_allowed_from_covers_every_target_status() -> None:
    assert set(ALLOWED_FROM) == set(PromptStatus)


@pytest.mark.parametrize(("frm", "to"), ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_transition_pair(frm: PromptStatus, to: PromptStatus) -> None:
    expected = (frm, to) in EXPECTED_ALLOWED
    assert (frm in ALLOWED_FROM[to]) is expected
    assert can_transition(frm, to) is expected


def test_transition_table_equals_expected_table() -> None:
    actual = {(frm, to) for to, froms in ALLOWED_FROM.items() for frm in froms}
    assert actual == set(EXPECTED_ALLOWED)


def test_no_status_moves_to_itself() -> None:
    assert not [s for s in PromptStatus if can_transition(s, s)]


def test_succeeded_is_final() -> None:
    assert not [to for to in PromptStatus if can_transition(P.SUCCEEDED, to)]


def test_every_status_is_reachable_from_pending() -> None:
    seen = {P.PENDING}
    frontier = [P.PENDING]
    while frontier:
        frm = frontier.pop()
        for to in PromptStatus:
            if to not in seen and can_transition(frm, to):
                seen.add(to)
                frontier.append(to)
    assert seen == set(PromptStatus)


def test_every_non_final_status_has_a_way_out() -> None:
    stuck = [s for s in PromptStatus if s is not P.SUCCEEDED and not any(can_transition(s, t) for t in PromptStatus)]
    assert stuck == []


def test_status_sets() -> None:
    assert TERMINAL == {P.SUCCEEDED, P.FAILED, P.CANCELED}
    assert IN_COMFY == {P.QUEUED, P.RUNNING, P.CANCELING}
    assert RETRYABLE == {P.FAILED, P.CANCELED, P.INTERRUPTED}
    assert ACTIVE == {P.PENDING, P.QUEUED, P.RUNNING, P.CANCELING, P.INTERRUPTED}
    assert ACTIVE | TERMINAL == set(PromptStatus) and not ACTIVE & TERMINAL
    # retry is exactly "back to pending from anything but a claim"
    assert RETRYABLE == ALLOWED_FROM[P.PENDING] - {P.QUEUED}


# --- job status -------------------------------------------------------------------


def counts(**kw: int) -> dict[PromptStatus, int]:
    return {PromptStatus(k): v for k, v in kw.items()}


DERIVE_CASES: list[tuple[str, dict[PromptStatus, int], JobStatus]] = [
    ("no prompts (never stored)", counts(), J.PENDING),
    ("all pending", counts(pending=3), J.PENDING),
    ("zero counts are ignored", counts(pending=0, succeeded=2, failed=0), J.SUCCEEDED),
    ("one queued", counts(queued=1, pending=2), J.RUNNING),
    ("one running", counts(running=1), J.RUNNING),
    ("canceling", counts(canceling=1, canceled=1), J.RUNNING),
    ("running next to finished", counts(running=1, succeeded=5, failed=1), J.RUNNING),
    ("partly done, pending left", counts(succeeded=1, pending=2), J.RUNNING),
    ("a failure, pending left", counts(failed=1, pending=1), J.RUNNING),
    ("a cancel, pending left", counts(canceled=1, pending=1), J.RUNNING),
    ("all succeeded", counts(succeeded=4), J.SUCCEEDED),
    ("one failed among succeeded", counts(succeeded=3, failed=1), J.FAILED),
    ("failed and canceled", counts(failed=1, canceled=2), J.FAILED),
    ("failed, canceled, succeeded", counts(failed=1, canceled=1, succeeded=1), J.FAILED),
    ("succeeded and canceled", counts(succeeded=2, canceled=1), J.CANCELED),
    ("all canceled", counts(canceled=2), J.CANCELED),
    ("interrupted next to finished", counts(interrupted=1, succeeded=2), J.RUNNING),
    ("interrupted next to failed", counts(interrupted=1, failed=1), J.RUNNING),
    ("interrupted next to queued", counts(interrupted=1, queued=1), J.RUNNING),
]


@pytest.mark.parametrize(("case", "mix", "expected"), DERIVE_CASES, ids=[c[0] for c in DERIVE_CASES])
def test_derive_job_status(case: str, mix: dict[PromptStatus, int], expected: JobStatus) -> None:
    assert derive_job_status(mix) is expected


@pytest.mark.parametrize(
    "mix", [counts(interrupted=1, pending=2), counts(interrupted=2)], ids=["interrupted+pending", "all interrupted"]
)
def test_derive_job_status_interrupted_counts_as_started(mix: dict[PromptStatus, int]) -> None:
    # an interrupted prompt was handed to ComfyUI: the job has started (DESIGN §3)
    assert derive_job_status(mix) is J.RUNNING


def _reference_derive(mix: Mapping[PromptStatus, int]) -> JobStatus:
    """DESIGN §3 in words, for prompts that are not interrupted."""
    present = {s for s, n in mix.items() if n}
    if not present or present == {P.PENDING}:
        return J.PENDING  # none started
    if present <= TERMINAL:
        if present == {P.SUCCEEDED}:
            return J.SUCCEEDED
        return J.FAILED if P.FAILED in present else J.CANCELED
    return J.RUNNING  # something in ComfyUI, or partly done with pending left


def test_derive_job_status_every_mix_without_interrupted() -> None:
    statuses = [s for s in PromptStatus if s is not P.INTERRUPTED]
    wrong = []
    for values in itertools.product((0, 1, 2), repeat=len(statuses)):
        mix = dict(zip(statuses, values))
        if derive_job_status(mix) is not _reference_derive(mix):
            wrong.append((mix, derive_job_status(mix)))
    assert wrong == []


def test_actionable_order() -> None:
    assert ACTIONABLE_ORDER == (J.RUNNING, J.FAILED, J.PENDING, J.CANCELED, J.SUCCEEDED)
    assert sorted(ACTIONABLE_ORDER) == sorted(JobStatus)


# --- errors -----------------------------------------------------------------------


def test_prompt_error_round_trip() -> None:
    err = PromptError("execution_error", "boom", node_id="1", node_type="LoadImage",
                      traceback=["  File x\n"], details={"current_inputs": {"image": ["a.png"]}})
    assert PromptError.from_dict(err.to_dict()) == err
    assert PromptError.from_dict({}) == PromptError("error", "")
