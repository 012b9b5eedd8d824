"""The sidebar with a big queue (2,000 jobs): the first view's time and how a burst of 100
socket events lands (ms until shown, long tasks > 50 ms), in the real frontend in
Debian's Chromium on the fake ComfyUI. Prints the numbers; targets: first view < 300 ms,
no long task. Runs tests/browser/test_ui_perf.py, which asserts the behaviour.

    .venv/bin/python bench/ui_perf.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRINTED = ("first view (ms):", "100 events applied after")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of the browser module")
    args = parser.parse_args()
    for run in range(1, args.repeat + 1):
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                               "tests/browser/test_ui_perf.py"], cwd=REPO, capture_output=True, text=True)
        # pytest's progress dots may share a line with what the tests print
        lines = [line[min(line.find(p) for p in PRINTED if p in line):] for line in done.stdout.splitlines()
                 if any(p in line for p in PRINTED)]
        print(f"run {run}: " + ("; ".join(lines) if lines else "no numbers (the module failed)"))
        if done.returncode:
            print(done.stdout[-2000:], file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
