"""How much idle time does vq add between ComfyUI prompts? (not a test: prints numbers)

Runs the plugin on the fake ComfyUI with near-instant prompts and measures, from the
executor's own events, the gap between one prompt's end (execution_success) and the
next one's start (execution_start), plus throughput. With max_in_flight >= 2 the next
prompt already waits in ComfyUI's queue, so the gap is ComfyUI's own hand-over; with
max_in_flight = 1 every gap includes vq's reconcile + claim + submit round trip.

    .venv/bin/python bench/dispatch.py [--prompts 300] [--in-flight 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiohttp.test_utils import TestServer  # noqa: E402

from tests.fixtures.fakecomfy import FakeComfy  # noqa: E402
from tests.helpers import comfy_graph  # noqa: E402


def instant_graph(i: int) -> dict[str, Any]:
    graph = comfy_graph("upscale")
    graph["2"]["inputs"]["scale_by"] = 1 + i / 100_000  # unique, so ComfyUI's cache never answers
    graph["3"]["inputs"]["filename_prefix"] = f"bench/p{i}"
    return graph


async def run(prompts: int, in_flight: int) -> dict[str, float]:
    """in_flight = 0: the baseline, every prompt queued straight into ComfyUI without vq."""
    os.environ["VQ_MAX_IN_FLIGHT"] = str(max(in_flight, 1))
    with tempfile.TemporaryDirectory() as tmp:
        host = FakeComfy(Path(tmp), profile="0.8.0")
        host.install()
        assert host.load_custom_node(REPO)
        host.add_routes()
        host.make_image("vq_smoke.png", size=(8, 8))
        marks: dict[str, dict[str, float]] = {}
        original = host.server.send_sync

        def timed(event: Any, data: Any, sid: Any = None) -> Any:
            if event in ("execution_start", "execution_success") and isinstance(data, dict):
                marks.setdefault(data["prompt_id"], {})[event] = time.perf_counter()
            return original(event, data, sid)

        host.server.send_sync = timed  # outermost: sees the executor's events first
        host.start_worker()
        server = TestServer(host.app)
        await server.start_server()  # runs on_startup: the dispatcher starts
        plugin = host.server._vq_plugin
        try:
            started = time.perf_counter()
            graphs = [instant_graph(i) for i in range(prompts)]
            if in_flight:
                await plugin.jobs.submit_graphs(name="bench", graphs=graphs, priority=0, max_attempts=None)
                await plugin.dispatcher.run_until_idle(timeout=600)
            else:
                for graph in graphs:
                    await host.submit_as_ui(graph, client_id="bench")
                while len([m for m in marks.values() if len(m) == 2]) < prompts:
                    await asyncio.sleep(0.01)
            wall = time.perf_counter() - started
        finally:
            await server.close()
            host.stop()
    runs = sorted((m["execution_start"], m["execution_success"]) for m in marks.values() if len(m) == 2)
    gaps = [(nxt[0] - prev[1]) * 1000 for prev, nxt in zip(runs, runs[1:])]
    busy = [(end - start) * 1000 for start, end in runs]
    return {
        "prompts": len(runs),
        "prompts_per_s": len(runs) / wall,
        "gap_median_ms": statistics.median(gaps),
        "gap_p95_ms": statistics.quantiles(gaps, n=20)[18],
        "prompt_median_ms": statistics.median(busy),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=300)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[0, 2, 1],
                        help="0 = baseline without vq (prompts queued straight into ComfyUI)")
    args = parser.parse_args()
    print(f"{'max_in_flight':>13} {'prompts':>8} {'prompts/s':>10} {'gap median':>11} {'gap p95':>9} "
          f"{'prompt median':>14}")
    baseline = None
    for in_flight in args.in_flight:
        r = asyncio.run(run(args.prompts, in_flight))
        label = "0 (no vq)" if in_flight == 0 else str(in_flight)
        if in_flight == 0:
            baseline = r["gap_median_ms"]
        added = "" if baseline is None or in_flight == 0 else f"  added by vq: {r['gap_median_ms'] - baseline:+.2f}ms"
        print(f"{label:>13} {r['prompts']:>8} {r['prompts_per_s']:>10.1f} {r['gap_median_ms']:>9.2f}ms "
              f"{r['gap_p95_ms']:>7.2f}ms {r['prompt_median_ms']:>12.2f}ms{added}")


if __name__ == "__main__":
    main()
