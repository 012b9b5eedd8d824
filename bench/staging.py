"""Benchmark: stage N files of S MB by hard link and by copy (not a test).

    .venv/bin/python bench/staging.py [--count 1000] [--mb 2] [--dir /path/on/target/disk]

Each mode stages into a fresh input dir; a second run of the copy mode shows the dedupe
path (every file already staged: one read per source, nothing written).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vq_extension.files.staging import Stager  # noqa: E402


def make_sources(folder: Path, count: int, size: int) -> list[Path]:
    block = os.urandom(size)
    sources = []
    for i in range(count):
        path = folder / f"frame_{i:05}.png"
        # Distinct content per file (so nothing dedupes) without generating count*size random bytes.
        path.write_bytes(i.to_bytes(8, "little") + block[8:])
        sources.append(path)
    return sources


def timed(label: str, stager: Stager, sources: list[Path], prefer_link: bool) -> None:
    start = time.perf_counter()
    staged = stager.stage(sources, prefer_link=prefer_link)
    elapsed = time.perf_counter() - start
    methods = {m: sum(1 for s in staged if s.method == m) for m in ("link", "copy", "existing")}
    total_mb = sum(s.size for s in staged) / 1e6
    print(f"{label:<22} {elapsed:7.2f} s  {total_mb / elapsed:8.0f} MB/s  {methods}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--mb", type=float, default=2.0)
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="vq-bench-", dir=args.dir))
    try:
        src = scratch / "src"
        src.mkdir()
        sources = make_sources(src, args.count, int(args.mb * 1e6))
        print(f"{args.count} files of {args.mb} MB in {scratch}")
        timed("hard link", Stager(scratch / "input_link"), sources, prefer_link=True)
        copy_stager = Stager(scratch / "input_copy")
        timed("copy", copy_stager, sources, prefer_link=False)
        timed("copy again (dedupe)", copy_stager, sources, prefer_link=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
