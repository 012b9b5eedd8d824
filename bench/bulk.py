"""Bulk actions on a big queue: cancel, retry and clear of 10,000 prompts (not a test: prints numbers).

Runs vq in this process on the fake ComfyUI (tests/fixtures/fakecomfy), through its real
HTTP routes (aiohttp TestServer + client on the same loop), and reports for each action:

  time        POST sent -> answer received (the sidebar gives up after 15 s)
  events      vq.* websocket messages sent by the action, until the coalescer is drained
              (counted at ComfyUI's send_sync, split by type)
  loop stall  the longest event-loop stall while the action and its events ran: a probe
              task sleeps 5 ms in a loop and records how late it wakes up
  statements  sqlite3 calls the action made on vq's connection (what a trigger runs inside
              a statement is part of it, not a call)

Then, in a second database filled directly through the store API (--jobs jobs of
--prompts-per-job prompts, statuses set by SQL so most jobs are finished, a few running,
some pending), the p50/p95 of GET /vq/v1/jobs (first page, default sort) and of
GET /vq/v1/queue.

Why the fake host and not a real ComfyUI: none of these actions runs ComfyUI code except
deleting at most max_in_flight prompts from its queue; the fake host gives the same vq code
path, an in-process loop-lag probe and exact message counts, and needs no 0.8 GB ComfyUI
(any developer can run it with the test venv). Like the test suite, the fake host loads
the ComfyUI data captured in tests/fixtures/comfy/; the graphs come from bench/graphs/. The fake ComfyUI's worker is not started, so
the prompts vq hands over stay queued in ComfyUI and cancel/clear must delete them.

    .venv/bin/python bench/bulk.py [--prompts 10000] [--jobs 10000 --prompts-per-job 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from tests.fixtures.fakecomfy import FakeComfy  # noqa: E402
from tests.helpers import RecordingConnection, Statement  # noqa: E402
from vq_extension.queue.records import NewJob, NewPrompt  # noqa: E402

GRAPH = json.loads((REPO / "bench" / "graphs" / "upscale.json").read_text())
API = "/api/vq/v1"


def graph(i: int) -> dict[str, Any]:
    g = json.loads(json.dumps(GRAPH))
    g["2"]["inputs"]["scale_by"] = 1 + i / 1_000_000
    g["3"]["inputs"]["filename_prefix"] = f"bulk/p{i}"
    return g


class LoopProbe:
    """Sleeps `step` s in a loop; the worst lateness is the longest stall of the loop."""

    def __init__(self, step: float = 0.005) -> None:
        self.step, self.worst, self._task = step, 0.0, None

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.step)
            self.worst = max(self.worst, time.perf_counter() - t - self.step)

    def start(self) -> None:
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> float:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        return self.worst


class Host:
    """The fake ComfyUI with vq loaded, its app served, and counters."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    async def __aenter__(self) -> Host:
        self.host = FakeComfy(self.tmp, profile="0.8.0")
        self.host.install()
        assert self.host.load_custom_node(REPO), "vq did not load"
        self.host.add_routes()
        self.host.make_image("vq_smoke.png", size=(8, 8))  # the graphs' input, so they validate
        self.events: dict[str, int] = {}
        original = self.host.server.send_sync

        def counting(event: Any, data: Any, sid: Any = None) -> Any:
            if isinstance(event, str) and event.startswith("vq."):
                self.events[event] = self.events.get(event, 0) + 1
            return original(event, data, sid)

        self.host.server.send_sync = counting
        self.server = TestServer(self.host.app)
        self.client = TestClient(self.server)
        await self.client.start_server()  # on_startup: the dispatcher starts
        self.plugin = self.host.server._vq_plugin
        self.calls: list[Statement] = []
        self.plugin.store._conn = RecordingConnection(self.plugin.store._conn, self.calls)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.close()
        self.host.stop()

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.client.request(method, API + path, json=body) as r:
            return r.status, await r.json()

    async def settle(self) -> None:
        """Let the dispatcher and the event coalescer finish what the action started."""
        for _ in range(3):
            await asyncio.sleep(0.15)
            await self.plugin.dispatcher.events.drain()

    async def measure(self, name: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        await self.settle()
        self.events.clear()
        self.calls.clear()
        probe = LoopProbe()
        probe.start()
        t = time.perf_counter()
        status, answer = await self.call(method, path, body)
        took = time.perf_counter() - t
        statements_answer = len(self.calls)
        await self.settle()
        stall = await probe.stop()
        if status != 200:
            raise RuntimeError(f"{name}: HTTP {status}: {str(answer)[:300]}")
        return {"action": name, "seconds": round(took, 3), "events": sum(self.events.values()),
                "by_type": dict(self.events), "stall_ms": round(stall * 1000, 1),
                "statements": statements_answer, "statements_total": len(self.calls)}


async def bulk_actions(n: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        async with Host(Path(tmp)) as h:
            results = []
            status, job = await h.call("POST", "/jobs", {"name": "bulk", "graphs": [graph(i) for i in range(n)]})
            assert status in (200, 201), job
            job_id = job["id"]
            await h.settle()  # the dispatcher hands max_in_flight prompts to the (stopped) fake ComfyUI
            results.append(await h.measure(f"cancel job ({n} prompts)", "POST", f"/jobs/{job_id}/cancel"))
            results.append(await h.measure(f"retry job ({n} prompts)", "POST", f"/jobs/{job_id}/retry"))
            _, q = await h.call("GET", "/queue")
            waiting = sum(q["counts"].get(s, 0) for s in ("pending", "queued"))
            results.append(await h.measure(f"clear queue ({waiting} prompts)", "POST", "/queue/clear",
                                           {"expected_count": waiting, "include_running": False}))
            return results


def fill(store: Any, jobs: int, per_job: int) -> None:
    """jobs x per_job prompts through the store API, then statuses by SQL: 97% of the jobs
    succeeded, 1% failed, 1% canceled, the newest 1% pending (a realistic history). The
    store's triggers keep the counters and derive the jobs' statuses; the times are set here."""
    g = json.dumps(graph(0))
    t0 = time.time() - jobs
    for j in range(jobs):
        prompts = [NewPrompt(graph=json.loads(g), max_attempts=2, seed=None) for _ in range(per_job)]
        store.create_job(NewJob(name=f"job {j}", priority=0, options={"max_attempts": 2}), prompts, t0 + j)
    conn = store._conn
    with store._lock:
        conn.execute("BEGIN")
        cut_pending = jobs - jobs // 100
        for status, lo, hi in (("failed", 0, jobs // 100), ("canceled", jobs // 100, jobs // 50),
                               ("succeeded", jobs // 50, cut_pending)):
            conn.execute("UPDATE prompt SET status = ?, attempt = 1, started_at = created_at, "
                         "finished_at = created_at + 1 WHERE job_id > ? AND job_id <= ?", (status, lo, hi))
            conn.execute("UPDATE job SET started_at = created_at, finished_at = created_at + 10 "
                         "WHERE id > ? AND id <= ?", (lo, hi))
        conn.execute("COMMIT")


async def list_bench(jobs: int, per_job: int, repeats: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "vqdata"
        os.environ["VQ_DATA_DIR"] = str(data)
        from vq_extension.queue.store import SqliteQueueStore
        t = time.perf_counter()
        store = SqliteQueueStore(data / "vq.sqlite3")
        fill(store, jobs, per_job)
        store.close()
        built = time.perf_counter() - t
        os.environ["VQ_MAX_IN_FLIGHT"] = "2"
        async with Host(Path(tmp) / "comfy") as h:
            await h.call("POST", "/queue/pause")  # keep the dispatcher from running the pending jobs
            await h.settle()
            out = []
            for name, path in (("GET /vq/v1/jobs (first page)", "/jobs"),
                               ("GET /vq/v1/queue", "/queue")):
                await h.call("GET", path)  # warm
                times = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    status, body = await h.call("GET", path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert status == 200, body
                out.append({"request": name, "p50_ms": round(statistics.median(times), 2),
                            "p95_ms": round(sorted(times)[int(len(times) * 0.95) - 1], 2),
                            "max_ms": round(max(times), 2), "db": f"{jobs} jobs / {jobs * per_job} prompts",
                            "built_s": round(built, 1)})
            return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=10_000, help="prompts in the bulk job (default 10000)")
    ap.add_argument("--jobs", type=int, default=10_000, help="jobs in the listing database (default 10000)")
    ap.add_argument("--prompts-per-job", type=int, default=10, help="(default 10: 100,000 prompts)")
    ap.add_argument("--repeats", type=int, default=30, help="GET requests per listing (default 30)")
    ap.add_argument("--skip-actions", action="store_true")
    ap.add_argument("--skip-list", action="store_true")
    ap.add_argument("--out", help="write the numbers as JSON here")
    args = ap.parse_args()
    os.environ.setdefault("VQ_MAX_IN_FLIGHT", "2")
    doc: dict[str, Any] = {}
    if not args.skip_actions:
        doc["actions"] = asyncio.run(bulk_actions(args.prompts))
        print(f"{'action':32} {'seconds':>8} {'vq.* msgs':>10} {'longest stall ms':>17} {'SQL stmts':>10}  by type")
        for r in doc["actions"]:
            print(f"{r['action']:32} {r['seconds']:>8} {r['events']:>10} {r['stall_ms']:>17} "
                  f"{r['statements']:>10}  {r['by_type']}")
    if not args.skip_list:
        doc["listing"] = asyncio.run(list_bench(args.jobs, args.prompts_per_job, args.repeats))
        for r in doc["listing"]:
            print(f"{r['request']:32} p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, max {r['max_ms']} ms "
                  f"({r['db']}; built in {r['built_s']} s)")
    print("(SQL stmts = sqlite3 calls on vq's connection before the answer; stall = worst lateness of a "
          "5 ms sleep on the loop during the action and its events)")
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
