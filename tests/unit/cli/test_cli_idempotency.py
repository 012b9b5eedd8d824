"""vq submit sends an Idempotency-Key: a fresh one per run, the same one on its own retry
after a dropped connection, and on a timeout it says the job may exist and how to check."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from tests.unit.cli import samples as s
from tests.unit.cli.fakes import FakeVq, Request, run
from tests.unit.cli.test_cli_submit import fake  # noqa: F401  (the fixture)


def keys(fake: FakeVq) -> list[str]:
    return [r.headers.get("Idempotency-Key", "") for r in fake.requests if r.method == "POST" and r.path == "/jobs"]


def test_each_run_sends_a_fresh_key(fake: FakeVq) -> None:  # noqa: F811
    assert run(fake, "submit", "smoke-image", "/data/stills").code == 0
    assert run(fake, "submit", "smoke-image", "/data/stills").code == 0
    first, second = keys(fake)
    assert first != second and uuid.UUID(first) and uuid.UUID(second)


def test_a_dropped_connection_is_retried_with_the_same_key(fake: FakeVq) -> None:  # noqa: F811
    seen: list[Request] = []

    def flaky(req: Request) -> tuple[int, Any]:
        seen.append(req)
        if len(seen) == 1:
            raise requests.ConnectionError("Connection reset by peer")
        return 201, {**s.detail("pending"), "id": 21}

    fake.on("POST", "/jobs", handler=flaky)
    r = run(fake, "submit", "smoke-image", "/data/stills")
    assert r.code == 0, r.err
    first, second = keys(fake)
    assert first == second


def test_a_timeout_says_the_job_may_exist_and_how_to_check(fake: FakeVq) -> None:  # noqa: F811
    def slow(req: Request) -> tuple[int, Any]:
        raise requests.ReadTimeout("read timed out")

    fake.on("POST", "/jobs", handler=slow)
    r = run(fake, "submit", "smoke-image", "/data/stills", "--name", "night batch")
    assert r.code == 1
    (key,) = keys(fake)  # a timeout is not retried: the server may still be staging
    assert "may have been created" in r.err
    assert "vq list --search 'night batch'" in r.err and f"--idempotency-key {key}" in r.err


def test_the_key_of_a_timed_out_run_can_be_reused(fake: FakeVq) -> None:  # noqa: F811
    assert run(fake, "submit", "smoke-image", "/data/stills", "--idempotency-key", "k-123").code == 0
    assert keys(fake) == ["k-123"]
