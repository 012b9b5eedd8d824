"""Where vq's per-prompt time goes in a real ComfyUI (not a test: prints numbers).

Needs a ComfyUI started through bench/vq_timing.py (its docstring says how). For each
mode (vq, native) this resets the probes (SIGUSR1), runs N prompts with
bench/throughput_real.py's runners, makes the server dump (SIGUSR2) and prints, per
prompt: each probe's calls, wall ms and CPU ms (sync probes), and every thread's CPU ms.

    python bench/profile_real.py --url http://127.0.0.1:8289 --pid PID \\
        [--timing-file /tmp/vq-timing.json] [-n 200] [--size 64] [--modes vq,native]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput_real as tr  # noqa: E402


def dump(pid: int, path: Path) -> dict:
    before = path.stat().st_mtime_ns if path.exists() else 0
    os.kill(pid, signal.SIGUSR2)
    for _ in range(100):
        time.sleep(0.05)
        if path.exists() and path.stat().st_mtime_ns != before:
            return json.loads(path.read_text())
    raise TimeoutError("no timing dump")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True, help="PID of the ComfyUI running under vq_timing.py")
    ap.add_argument("--timing-file", default=os.environ.get("VQ_TIMING_OUT", "/tmp/vq-timing.json"))
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--modes", default="vq,native")
    ap.add_argument("--out", help="write the dumps as JSON here")
    args = ap.parse_args()
    path = Path(args.timing_file)
    c = tr.Comfy(args.url, "/api/vq/v1")
    ws = tr.Listener(c.url)
    base = json.loads(tr.GRAPH.read_text())
    image = c.upload(f"vq_bench_{args.size}.png", tr.make_png(args.size, args.size))
    tag = f"prof{int(time.time())}"
    tr.run_drip(c, ws, tr.graphs_for(base, image, tag + "-warm", 3, 0), 60)
    k = 10
    out = {}
    for mode in [m for m in args.modes.split(",") if m]:
        c.wait_idle()
        c.post("/free", {"unload_models": True})
        time.sleep(1.0)
        os.kill(args.pid, signal.SIGUSR1)
        time.sleep(0.2)
        graphs = tr.graphs_for(base, image, f"{tag}-{mode}", args.n, k)
        k += args.n
        t0_epoch = time.time()
        ids, t0 = tr.RUNNERS[mode](c, ws, graphs, 600)
        time.sleep(0.3)
        doc = dump(args.pid, path)
        summary = tr.analyze(ids, c.history(ids), ws, t0, t0_epoch)
        doc["summary"] = summary
        out[mode] = doc
        n = summary["ok"] or args.n
        print(f"\n=== {mode}: {summary['ok']} prompts, {summary['prompts_s']} p/s, gap mean {summary['gap_mean_ms']} ms, "
              f"exec mean {summary['exec_mean_ms']} ms ===")
        print("thread CPU ms per prompt: " + ", ".join(
            f"{t}: {v * 1000 / n:.2f}" for t, v in sorted(doc["thread_cpu_s"].items(), key=lambda kv: -kv[1]) if v))
        print(f"broadcasts: {doc['broadcasts']}")
        print(f"{'probe':58} {'thread':26} {'calls/prompt':>12} {'wall ms/prompt':>15} {'cpu ms/prompt':>14} "
              f"{'wall us/call':>12} {'max ms':>8}")
        for p in sorted(doc["probes"], key=lambda p: -p["wall_ms"]):
            print(f"{p['name'][:58]:58} {p['thread'][:26]:26} {p['n'] / n:>12.2f} {p['wall_ms'] / n:>15.3f} "
                  f"{p['cpu_ms'] / n:>14.3f} {p['wall_ms'] * 1000 / max(p['n'], 1):>12.0f} {p['max_ms']:>8.1f}")
    ws.ws.close()
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
