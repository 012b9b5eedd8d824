#!/usr/bin/env python3
"""Throughput of a real ComfyUI fed natively vs. by vq (not a test: prints numbers).

Against a running real ComfyUI with vq installed (e.g. started by scripts/comfyui), this
posts N tiny model-free prompts (bench/graphs/upscale.json: LoadImage -> ImageScaleBy
(lanczos) -> SaveImage, every prompt with a unique scale_by and filename prefix, so
ComfyUI's cache never skips work) in each mode:

  native  every prompt straight to ComfyUI's POST /prompt, then wait for all
  vq      one POST {prefix}/jobs {"graphs": [...]}; vq feeds ComfyUI itself
  drip    POST one prompt, wait until it finished, POST the next (a naive external queue)

Modes are interleaved and repeated (--repeat rounds of the mode list, per size), so drift
and the neighbours' load hit every mode alike. All timing comes from ComfyUI's history:
the ms timestamps of each prompt's execution_start and execution_success messages.

  exec    execution_success - execution_start of a prompt (median)
  gap     execution_success of one prompt -> execution_start of the next (mean, median)
  p/s     prompts / (last execution_success - first execution_start): the server-side rate
  wall    client clock, first POST sent -> last prompt seen finished on the websocket
  tail    last execution_success -> the client saw the last prompt finished (vq: ~1 s when
          vq noticed the job's last prompt only at its next 1 s poll)
  seen    vq only: last execution_success -> vq recorded that prompt finished (its
          finished_at, server clock): the dispatcher's part of the tail, without the
          event coalescing and websocket
  ratio   vq p/s ÷ native p/s of the same round (then the median over rounds)

"Finished" is seen on ComfyUI's websocket (a small stdlib client): `executing` with
node null for our own prompts, a terminal status in `vq.prompts` (`vq.prompt` before) for vq's. The script
also counts the `vq.*` messages each run sent. Before every run it waits for an idle
queue, POSTs /free {"unload_models": true} (ComfyUI's worker then runs its gc.collect
now instead of in the middle of the run) and sleeps --settle seconds.

    python bench/throughput_real.py --url http://127.0.0.1:8188 \
        --sizes 64:200,384:100 --modes native,vq,drip --repeat 5 --out /tmp/tp.json

Needs only the standard library and requests. Numbers compare only within one run.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import platform
import socket
import statistics
import struct
import sys
import threading
import time
import uuid
import zlib
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import requests

HERE = Path(__file__).resolve().parent
GRAPH = HERE / "graphs" / "upscale.json"
MODES = ("native", "vq", "drip")
TERMINAL = ("succeeded", "failed", "canceled")


# --- inputs ---------------------------------------------------------------------------


def make_png(w: int, h: int) -> bytes:
    """A w x h RGB gradient PNG (zlib only)."""
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        for x in range(w):
            raw += bytes((x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), 128))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b""))


def graphs_for(base: dict, image: str, tag: str, n: int, k0: int) -> list[dict]:
    out = []
    for i in range(n):
        g = copy.deepcopy(base)
        g["1"]["inputs"]["image"] = image
        g["2"]["inputs"]["scale_by"] = round(1.5 + (k0 + i) * 1e-6, 9)  # unique: no cache hits
        g["3"]["inputs"]["filename_prefix"] = f"vq_bench/{tag}/p{i:05d}"
        out.append(g)
    return out


# --- a minimal websocket client (RFC 6455, text frames, client->server masked) ---------


class Ws:
    def __init__(self, url: str, client_id: str) -> None:
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws?clientId={client_id} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            part = self.sock.recv(4096)
            if not part:
                raise ConnectionError("websocket handshake: connection closed")
            head += part
        status, _, self._buf = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise ConnectionError(f"websocket handshake failed: {status[:200]!r}")
        self.sock.settimeout(None)
        self.closed = False

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            part = self.sock.recv(65536)
            if not part:
                raise ConnectionError("websocket closed")
            self._buf += part
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        head = bytes([0x80 | opcode])
        n = len(payload)
        head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self) -> tuple[int, bytes]:
        """One whole message (opcode, payload); answers pings itself."""
        data, first_op = b"", None
        while True:
            b0, b1 = self._read(2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if op == 9:
                self._send(10, payload)
                continue
            if op == 8:
                self.closed = True
                return 8, payload
            if op in (1, 2):
                first_op, data = op, payload
            elif op == 0:
                data += payload
            if b0 & 0x80:
                return first_op or op, data

    def close(self) -> None:
        try:
            self._send(8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.sock.close()


def finished_in(typ: str, d: dict) -> tuple[list[str], list[tuple[int, int]]]:
    """What one websocket message says has finished: ComfyUI prompt ids (`executing` with
    node null) and vq prompts as (job id, index) (a terminal status in `vq.prompts`, the
    batch of one 50 ms window, or in `vq.prompt`, which vq sent before the batches)."""
    if typ == "executing" and d.get("node") is None and d.get("prompt_id"):
        return [d["prompt_id"]], []
    briefs = d.get("prompts") if typ == "vq.prompts" else [d.get("prompt")] if typ == "vq.prompt" else []
    return [], [(p["job_id"], p["index"]) for p in briefs or [] if p and p.get("status") in TERMINAL]


class Listener:
    """Reads the websocket on a thread; records when prompts finish and counts vq.* messages."""

    def __init__(self, url: str) -> None:
        self.client_id = uuid.uuid4().hex
        self.ws = Ws(url, self.client_id)
        self.cond = threading.Condition()
        self.done: dict[str, float] = {}        # ComfyUI prompt id -> perf_counter when finished
        self.vq_done: dict[tuple[int, int], float] = {}  # (vq job id, index) -> perf_counter
        self.vq_finished: dict[str, float] = {}  # ComfyUI prompt id -> vq's finished_at (epoch s)
        self.vq_messages: dict[str, int] = {}
        self.last = time.perf_counter()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                op, data = self.ws.recv()
                if op == 8:
                    return
                if op != 1:
                    continue
                t = time.perf_counter()
                try:
                    msg = json.loads(data)
                except ValueError:
                    continue
                typ, d = str(msg.get("type")), msg.get("data") or {}
                comfy_ids, vq_keys = finished_in(typ, d)
                with self.cond:
                    self.last = t
                    if typ.startswith("vq."):
                        self.vq_messages[typ] = self.vq_messages.get(typ, 0) + 1
                    for cpid in comfy_ids:
                        self.done.setdefault(cpid, t)
                    for key in vq_keys:
                        self.vq_done.setdefault(key, t)
                    if comfy_ids or vq_keys:
                        self.cond.notify_all()
        except (OSError, ConnectionError):
            pass

    def wait(self, pred, timeout: float, poll=None) -> bool:
        """Wait until pred() holds; after 5 quiet seconds call poll() (a lost event)."""
        deadline = time.perf_counter() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.perf_counter()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
                if poll is not None and time.perf_counter() - self.last > 5:
                    self.cond.release()
                    try:
                        poll()
                    finally:
                        self.cond.acquire()
                    self.last = time.perf_counter()
        return True

    def vq_counts(self) -> dict[str, int]:
        with self.cond:
            return dict(self.vq_messages)


# --- the server -----------------------------------------------------------------------


class Comfy:
    def __init__(self, url: str, vq_prefix: str) -> None:
        self.url = url.rstrip("/")
        self.vq = vq_prefix
        self.s = requests.Session()

    def get(self, path: str, **kw):
        r = self.s.get(self.url + path, timeout=60, **kw)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, body, **kw):
        return self.s.post(self.url + path, json=body, timeout=300, **kw)

    def upload(self, name: str, data: bytes) -> str:
        r = self.s.post(self.url + "/upload/image", files={"image": (name, data, "image/png")},
                        data={"overwrite": "true"}, timeout=60)
        r.raise_for_status()
        body = r.json()
        return f'{body["subfolder"]}/{body["name"]}' if body.get("subfolder") else body["name"]

    def wait_idle(self, timeout: float = 600) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            q = self.get("/queue")
            if not q.get("queue_running") and not q.get("queue_pending"):
                try:
                    vq = self.get(self.vq + "/queue")
                    if not any(vq.get("counts", {}).get(s) for s in ("pending", "queued", "running", "canceling")):
                        return True
                except requests.RequestException:
                    return True
            time.sleep(0.2)
        return False

    def history(self, ids: list[str]) -> dict:
        found = self.get(f"/history?max_items={len(ids) + 64}")
        out = {i: found[i] for i in ids if i in found}
        for i in ids:
            if i not in out:
                one = self.get(f"/history/{i}")
                if i in one:
                    out[i] = one[i]
        return out


# --- modes ----------------------------------------------------------------------------


def run_native(c: Comfy, ws: Listener, graphs: list[dict], timeout: float) -> tuple[list[str], float]:
    ids = [str(uuid.uuid4()) for _ in graphs]
    t0 = time.perf_counter()
    for pid, g in zip(ids, graphs):
        r = c.post("/prompt", {"prompt": g, "client_id": ws.client_id, "prompt_id": pid})
        if r.status_code != 200:
            raise RuntimeError(f"POST /prompt: {r.status_code} {r.text[:300]}")
    poll = lambda: [ws.done.setdefault(i, time.perf_counter()) for i in ids  # noqa: E731
                    if i not in ws.done and c.get(f"/history/{i}")]
    ws.wait(lambda: all(i in ws.done for i in ids), timeout, poll)
    return ids, t0


def run_drip(c: Comfy, ws: Listener, graphs: list[dict], timeout: float) -> tuple[list[str], float]:
    ids = [str(uuid.uuid4()) for _ in graphs]
    t0 = time.perf_counter()
    deadline = t0 + timeout
    for pid, g in zip(ids, graphs):
        r = c.post("/prompt", {"prompt": g, "client_id": ws.client_id, "prompt_id": pid})
        if r.status_code != 200:
            raise RuntimeError(f"POST /prompt: {r.status_code} {r.text[:300]}")
        poll = lambda pid=pid: c.get(f"/history/{pid}") and ws.done.setdefault(pid, time.perf_counter())  # noqa: E731
        if not ws.wait(lambda pid=pid: pid in ws.done, max(deadline - time.perf_counter(), 1), poll):
            break
    return ids, t0


def run_vq(c: Comfy, ws: Listener, graphs: list[dict], timeout: float) -> tuple[list[str], float]:
    t0 = time.perf_counter()
    r = c.post(c.vq + "/jobs", {"graphs": graphs, "name": "throughput_real"})
    if r.status_code not in (200, 201):
        raise RuntimeError(f"POST {c.vq}/jobs: {r.status_code} {r.text[:300]}")
    job_id = r.json()["id"]
    n = len(graphs)

    def poll() -> None:
        for p in c.get(f"{c.vq}/jobs/{job_id}").get("prompts") or []:
            if p["status"] in TERMINAL:
                ws.vq_done.setdefault((job_id, p["index"]), time.perf_counter())

    ws.wait(lambda: sum(1 for (j, _) in ws.vq_done if j == job_id) >= n, timeout, poll)
    detail = c.get(f"{c.vq}/jobs/{job_id}")
    by_index = {p["index"]: p for p in detail["prompts"]}
    ids = []
    for i in range(n):
        p = by_index.get(i) or {}
        cpid = p.get("comfy_prompt_id") or f"missing-{job_id}-{i}"
        ids.append(cpid)
        if p.get("finished_at"):
            ws.vq_finished[cpid] = datetime.fromisoformat(p["finished_at"].replace("Z", "+00:00")).timestamp()
        if (job_id, i) in ws.vq_done:
            ws.done.setdefault(cpid, ws.vq_done[(job_id, i)])
    return ids, t0


RUNNERS = {"native": run_native, "vq": run_vq, "drip": run_drip}


# --- analysis -------------------------------------------------------------------------


def times(entry: dict) -> tuple[int | None, int | None, str | None]:
    start = end = None
    st = entry.get("status") or {}
    for ev, data in st.get("messages") or []:
        ts = (data or {}).get("timestamp")
        if ev == "execution_start" and start is None:
            start = ts
        elif ev in ("execution_success", "execution_error", "execution_interrupted"):
            end = ts
    return start, end, st.get("status_str")


def analyze(ids: list[str], hist: dict, ws: Listener, t0: float, t0_epoch: float) -> dict:
    ran = []
    errors = 0
    last_id = None
    for i in ids:
        h = hist.get(i)
        if not h:
            errors += 1
            continue
        start, end, status = times(h)
        if status != "success" or start is None or end is None:
            errors += 1
            continue
        ran.append((start, end))
        if last_id is None or end >= times(hist[last_id])[1]:
            last_id = i
    ran.sort()
    execs = [e - s for s, e in ran]
    gaps = [b[0] - a[1] for a, b in zip(ran, ran[1:])]
    span = (ran[-1][1] - ran[0][0]) / 1000 if ran else None
    finished = [ws.done[i] for i in ids if i in ws.done]
    wall = (max(finished) - t0) if finished else None
    return {
        "n": len(ids), "ok": len(ran), "errors": errors,
        "prompts_s": round(len(ran) / span, 2) if span else None,
        "wall_s": round(wall, 3) if wall else None,
        "wall_prompts_s": round(len(finished) / wall, 2) if wall else None,
        "exec_median_ms": statistics.median(execs) if execs else None,
        "exec_mean_ms": round(statistics.fmean(execs), 3) if execs else None,
        "gap_mean_ms": round(statistics.fmean(gaps), 3) if gaps else None,
        "gap_median_ms": statistics.median(gaps) if gaps else None,
        "gap_max_ms": max(gaps) if gaps else None,
        # same machine, so the server's epoch ms and ours compare: submit -> first start
        "first_start_ms": round(ran[0][0] - t0_epoch * 1000, 1) if ran else None,
        # last execution_success -> the client saw the last prompt finished (vq: its vq.prompts brief)
        "tail_ms": round((t0_epoch + (max(finished) - t0)) * 1000 - ran[-1][1], 1) if ran and finished else None,
        # vq: its own finished_at of the last prompt (ms precision) - that prompt's execution_success
        "seen_ms": round(ws.vq_finished[last_id] * 1000 - times(hist[last_id])[1], 1)
        if last_id in ws.vq_finished else None,
    }


def spread(xs: list[float]) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return f"{statistics.median(xs):.3g} [{min(xs):.3g}-{max(xs):.3g}]"


def report(results: list[dict], modes: list[str]) -> str:
    lines = []
    for size in sorted({r["size"] for r in results}):
        rs = [r for r in results if r["size"] == size]
        n = rs[0]["n"]
        lines.append(f"\n== {size} px, N={n}, {max(r['round'] for r in rs)} round(s); median [min-max] over rounds ==")
        lines.append(f"{'mode':10} {'prompts/s':>22} {'ratio vs native':>22} {'gap mean ms':>20} "
                     f"{'exec median ms':>18} {'exec mean ms':>20} {'wall p/s':>20} {'1st start ms':>18} {'tail ms':>18} {'seen ms':>18} {'vq.* msgs':>10}")
        native = {r["round"]: r["prompts_s"] for r in rs if r["mode"] == "native"}
        for mode in modes:
            m = [r for r in rs if r["mode"] == mode]
            ratios = [r["prompts_s"] / native[r["round"]] for r in m if native.get(r["round"]) and r["prompts_s"]]
            msgs = [sum(r["vq_messages"].values()) for r in m]
            lines.append(f"{mode:10} {spread([r['prompts_s'] for r in m]):>22} {spread(ratios):>22} "
                         f"{spread([r['gap_mean_ms'] for r in m]):>20} {spread([r['exec_median_ms'] for r in m]):>18} "
                         f"{spread([r['exec_mean_ms'] for r in m]):>20} {spread([r['wall_prompts_s'] for r in m]):>20} "
                         f"{spread([r['first_start_ms'] for r in m]):>18} {spread([r['tail_ms'] for r in m]):>18} "
                         f"{spread([r.get('seen_ms') for r in m]):>18} {spread(msgs):>10}")
    lines.append("(prompts/s = ok prompts / server span first execution_start -> last execution_success; "
                 "ratio per round; gap = execution_success -> next execution_start; ms timestamps from history;\n"
                 " wall p/s = client clock POST -> last finished seen; 1st start = POST -> first execution_start;\n"
                 " tail = last execution_success -> the client saw the last prompt finished;\n"
                 " seen = last execution_success -> vq's finished_at of that prompt (vq only))")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--url", default=os.environ.get("VQ_COMFY_URL", "http://127.0.0.1:8188"))
    ap.add_argument("--modes", default="native,vq", help="comma list of native, vq, drip (default native,vq)")
    ap.add_argument("--sizes", default="64:200,384:100",
                    help="comma list of IMAGE_PX:N (default 64:200,384:100: ~2 ms and ~17 ms prompts)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the mode list per size (default 3)")
    ap.add_argument("--settle", type=float, default=1.0, help="quiet seconds before each run (default 1)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--vq-prefix", default="/api/vq/v1")
    ap.add_argument("--no-pre-gc", dest="pre_gc", action="store_false")
    ap.add_argument("--also-vq", action="append", default=[], metavar="LABEL=URL",
                    help="another ComfyUI with vq (e.g. another branch or setting): adds the mode "
                         "vq:LABEL, run against URL in the same rounds; ratios are vs native at --url")
    ap.add_argument("--out", help="write every run's numbers as JSON here")
    args = ap.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in MODES for m in modes):
        ap.error(f"modes must be among {MODES}")
    others = {}
    for spec in args.also_vq:
        label, _, url = spec.partition("=")
        if not label or not url:
            ap.error("--also-vq wants LABEL=URL")
        others["vq:" + label] = url
    modes += list(others)
    sizes = [tuple(int(x) for x in s.split(":")) for s in args.sizes.split(",") if s.strip()]

    c = Comfy(args.url, args.vq_prefix)
    stats = c.get("/system_stats")
    health = c.get(args.vq_prefix + "/health")
    ws = Listener(c.url)
    other = {m: Comfy(u, args.vq_prefix) for m, u in others.items()}
    other_ws = {m: Listener(o.url) for m, o in other.items()}
    base = json.loads(GRAPH.read_text())
    run_id = uuid.uuid4().hex[:8]
    k = 0
    results = []
    for size, n in sizes:
        image = c.upload(f"vq_bench_{size}.png", make_png(size, size))
        for cc, ww in [(c, ws), *((other[m], other_ws[m]) for m in other)]:
            if cc is not c:
                cc.upload(f"vq_bench_{size}.png", make_png(size, size))
            warm = graphs_for(base, image, f"{run_id}-warm{size}", 3, k)
            k += 3
            run_drip(cc, ww, warm, 120)
        for rnd in range(1, args.repeat + 1):
            for mode in modes:
                cc, ww = (other[mode], other_ws[mode]) if mode in other else (c, ws)
                if not cc.wait_idle():
                    print("queue not idle; going on", file=sys.stderr)
                if args.pre_gc:
                    cc.post("/free", {"unload_models": True})
                time.sleep(args.settle)
                graphs = graphs_for(base, image, f"{run_id}-{size}-{mode.replace(':', '-')}{rnd}", n, k)
                k += n
                before = ww.vq_counts()
                t0_epoch = time.time()
                ids, t0 = RUNNERS["vq" if mode in other else mode](cc, ww, graphs, args.timeout)
                time.sleep(0.2)  # let the last coalesced vq.* events arrive
                after = ww.vq_counts()
                r = analyze(ids, cc.history(ids), ww, t0, t0_epoch)
                r.update(size=size, mode=mode, round=rnd,
                         vq_messages={t: after.get(t, 0) - before.get(t, 0) for t in after
                                      if after.get(t, 0) - before.get(t, 0)})
                results.append(r)
                print(f"  {size}px {mode}#{rnd}: {r['ok']}/{n} ok, {r['prompts_s']} p/s, gap mean "
                      f"{r['gap_mean_ms']} ms, exec median {r['exec_median_ms']} ms, vq msgs {r['vq_messages']}",
                      file=sys.stderr, flush=True)
    for w in [ws, *other_ws.values()]:
        w.ws.close()
    print(report(results, modes))
    if args.out:
        doc = {"tool": "bench/throughput_real.py", "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "args": vars(args), "client": {"python": platform.python_version(), "cpus": os.cpu_count()},
               "server": {"comfyui": health.get("comfyui_version"), "vq": health.get("vq_version"),
                          "max_in_flight": (health.get("settings") or {}).get("max_in_flight"),
                          "python": (stats.get("system") or {}).get("python_version")},
               "runs": results}
        Path(args.out).write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.out}", file=sys.stderr)
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
