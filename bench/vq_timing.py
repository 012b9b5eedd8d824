"""Runs ComfyUI's main.py with timing probes around vq's per-prompt work (not a test).

Start it instead of main.py, from the ComfyUI folder, with ComfyUI's own arguments:

    cd $VQ_COMFYUI_DIR && VQ_TIMING_OUT=/tmp/vq-timing.json \\
        $VQ_COMFYUI_DIR/../venv/bin/python /path/to/vq/bench/vq_timing.py main.py --cpu ...

Once vq has been installed on the PromptServer, the probes wrap (per instance, nothing in
vq or ComfyUI is edited) the dispatcher's tick and its steps, every store call (they run
on the vq-db thread), every DbExecutor.run hop, the in-process POST /prompt, the bridge's
queue/history reads, the event publisher and its broadcasts, and the PromptQueue methods
that take ComfyUI's queue mutex. Each probe keeps count, wall time, CPU time of the calling
thread (sync calls only) and the max, split by thread.

VQ_TIMING_PROBES=0 leaves the probes out (thread CPU times only).

Signals: SIGUSR1 resets the numbers; SIGUSR2 writes them, plus every Python thread's CPU
time since the last reset (from /proc), to $VQ_TIMING_OUT (default /tmp/vq-timing.json).
bench/profile_real.py drives this around a run and prints per-prompt numbers.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import runpy
import signal
import sys
import threading
import time
from collections import defaultdict

OUT = os.environ.get("VQ_TIMING_OUT", "/tmp/vq-timing.json")
CLK_TCK = os.sysconf("SC_CLK_TCK")

_lock = threading.Lock()
_stats: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])  # n, wall, cpu, max
_broadcasts: dict[str, int] = defaultdict(int)
_cpu_base: dict[int, float] = {}


def _add(name: str, wall: float, cpu: float) -> None:
    key = (name, threading.current_thread().name)
    with _lock:
        s = _stats[key]
        s[0] += 1
        s[1] += wall
        s[2] += cpu
        if wall > s[3]:
            s[3] = wall


def wrap(obj, attr: str, name: str | None = None) -> None:
    fn = getattr(obj, attr, None)
    if fn is None or getattr(fn, "_vq_timed", False):
        return
    name = name or f"{type(obj).__name__}.{attr}"
    if asyncio.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return await fn(*a, **kw)
            finally:
                _add(name, time.perf_counter() - t, 0.0)
    else:
        @functools.wraps(fn)
        def timed(*a, **kw):
            t, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                _add(name, time.perf_counter() - t, time.thread_time() - c)
    timed._vq_timed = True  # type: ignore[attr-defined]
    setattr(obj, attr, timed)


def _thread_cpu() -> dict[str, float]:
    out = {}
    for t in threading.enumerate():
        tid = t.native_id
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[f"{t.name}"] = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, TypeError):
            pass
    return out


def _reset(*_):
    global _cpu_base
    with _lock:
        _stats.clear()
        _broadcasts.clear()
    _cpu_base = _thread_cpu()


def _dump(*_):
    cpu = _thread_cpu()
    with _lock:
        doc = {
            "probes": [{"name": n, "thread": th, "n": s[0], "wall_ms": s[1] * 1000, "cpu_ms": s[2] * 1000,
                        "max_ms": s[3] * 1000} for (n, th), s in sorted(_stats.items())],
            "broadcasts": dict(_broadcasts),
            "thread_cpu_s": {k: round(v - _cpu_base.get(k, 0.0), 3) for k, v in cpu.items()},
        }
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, OUT)


def _install_probes(plugin) -> None:
    d, st, br, ev, rd, db = (plugin.dispatcher, plugin.store, plugin.host, plugin.dispatcher.events,
                             plugin.reader, plugin.db)
    for attr in ("tick", "_sync", "_reconcile", "_submit_claimed", "_submit", "_apply", "_lost", "_while_running",
                 "_on_comfy_event", "_record", "nudge"):
        wrap(d, attr)
    for attr in ("apply", "transition", "pull_back", "lose", "prompts_in", "instances", "get_setting"):
        wrap(st, attr, f"store.{attr}")
    wrap(db, "run", "DbExecutor.run (hop, wall incl. queueing)")
    for attr in ("submit", "_submit_via_handler", "snapshot", "outcome", "delete_pending", "interrupt", "watch"):
        wrap(br, attr, f"bridge.{attr}")
    if br._post_prompt is not None:
        br._post_prompt = _timed_handler(br._post_prompt)
    for attr in ("prompt", "job", "queue", "progress", "_flush"):
        wrap(ev, attr, f"events.{attr}")
    original = ev._broadcast

    def broadcast(event, data):
        with _lock:
            _broadcasts[event] += 1
        return original(event, data)

    ev._broadcast = broadcast
    wrap(ev, "_broadcast", "events._broadcast (send_sync)")
    for attr in ("events_snapshot", "job_summaries", "queue_state", "job_detail", "list_jobs"):
        wrap(rd, attr, f"reader.{attr}")
    q = br.server.prompt_queue
    for attr in ("put", "get", "task_done", "get_current_queue_volatile", "get_current_queue", "get_history",
                 "delete_queue_item"):
        wrap(q, attr, f"PromptQueue.{attr}")
    print("vq_timing: probes installed", file=sys.stderr, flush=True)


def _timed_handler(handler):
    async def timed(request):
        t = time.perf_counter()
        try:
            return await handler(request)
        finally:
            _add("ComfyUI POST /prompt handler (in-process)", time.perf_counter() - t, 0.0)
    return timed


def _watch() -> None:
    """Waits until vq is installed on the PromptServer, then installs the probes."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        server = sys.modules.get("server")
        inst = getattr(getattr(server, "PromptServer", None), "instance", None)
        plugin = getattr(inst, "_vq_plugin", None)
        if plugin and plugin.started:  # routes' parts (the reader) answer only once vq runs
            time.sleep(0.5)
            if os.environ.get("VQ_TIMING_PROBES", "1") != "0":
                _install_probes(plugin)
            _reset()
            return
        time.sleep(0.2)
    print("vq_timing: vq never showed up; no probes", file=sys.stderr)


def main() -> None:
    signal.signal(signal.SIGUSR1, _reset)
    signal.signal(signal.SIGUSR2, _dump)
    threading.Thread(target=_watch, name="vq-timing", daemon=True).start()
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
