"""How long does ComfyUI spend importing the vq plugin? (not a test: prints numbers)

Each run is a fresh Python process that first imports what ComfyUI has already imported
before custom nodes load (aiohttp, pydantic, yaml, PIL: their cost is ComfyUI's, not
ours), then times ComfyUI-style loading of the package (spec_from_file_location on the
folder), which registers routes and opens the queue database.

    .venv/bin/python bench/import_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import aiohttp.web, pydantic, yaml, PIL.Image, requests  # ComfyUI imports these before any custom node
from tests.fixtures.fakecomfy import FakeComfy
host = FakeComfy(Path(tempfile.mkdtemp()), profile="0.8.0")
host.install()
before = set(sys.modules)
started = time.perf_counter()
ok = host.load_custom_node(Path(sys.argv[1]))
elapsed = time.perf_counter() - started
print(json.dumps({"ok": ok, "seconds": elapsed, "modules": len(set(sys.modules) - before)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", CHILD, str(REPO)], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert all(r["ok"] for r in results), "the plugin failed to load"
    times = sorted(r["seconds"] * 1000 for r in results)
    print(f"plugin import: median {statistics.median(times):.1f} ms, min {times[0]:.1f} ms, "
          f"max {times[-1]:.1f} ms over {len(times)} fresh processes; "
          f"{results[0]['modules']} modules imported")


if __name__ == "__main__":
    main()
