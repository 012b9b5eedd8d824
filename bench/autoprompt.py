"""Benchmark: auto-prompt's stage-2-only loop versus a full two-stage run (not a test).

    .venv/bin/python bench/autoprompt.py [--count 50] [--size 1920x1080]

Against the fake LM Studio (tests/fixtures/fake_lmstudio.py) on a loopback port, so the
numbers are vq's own cost: hashing, decoding and downscaling images, requests, the cache.
A real model adds seconds per request on top, which makes the request ratio the one that
matters. The loop is what iterating on a stage-2 system prompt costs: the captions come
from the cache (or a captions file) and no image is opened.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.fake_lmstudio import FakeLmStudio  # noqa: E402
from vq_extension.autoprompt.cache import MemoryCacheStore, PromptCache  # noqa: E402
from vq_extension.autoprompt.client import LmStudioClient  # noqa: E402
from vq_extension.autoprompt.generator import BatchResult, Generator, GeneratorConfig  # noqa: E402
from vq_extension.autoprompt.timing import ClipTiming  # noqa: E402
from vq_extension.config import Settings  # noqa: E402

CHAT = "/v1/chat/completions"


def make_images(folder: Path, count: int, size: tuple[int, int]) -> list[str]:
    paths = []
    for i in range(count):
        path = folder / f"still_{i:03}.jpg"
        # Distinct colours: distinct content hashes, so nothing hits the caption cache by accident.
        Image.new("RGB", size, (i * 5 % 256, 255 - i * 3 % 256, i * 7 % 256)).save(path, quality=90)
        paths.append(str(path))
    return paths


async def measure(label: str, fake: FakeLmStudio, run: Awaitable[BatchResult]) -> tuple[int, float]:
    before = fake.hits.get(CHAT, 0)
    start = time.perf_counter()
    batch = await run
    elapsed = time.perf_counter() - start
    requests = fake.hits.get(CHAT, 0) - before
    print(f"{label:<44} {requests:>4} requests  {elapsed:7.3f} s  cache hits {batch.cache_hits}")
    return requests, elapsed


async def main(count: int, size: tuple[int, int]) -> None:
    fake = FakeLmStudio()
    url = await fake.start()
    client = LmStudioClient(url)
    generator = Generator(client, PromptCache(MemoryCacheStore()), GeneratorConfig.from_settings(Settings()))
    timing = ClipTiming(24, 81, 3)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = make_images(Path(tmp), count, size)
            print(f"{count} images of {size[0]}x{size[1]}, 3-clip split workflow, fake LM Studio at {url}")
            full_n, full_t = await measure("full two-stage run (cold cache)", fake,
                                           generator.generate_batch(paths, timing=timing))
            captions = {p: c for p, c in ((r.path, r.caption) for r in
                                          (await generator.generate_batch(paths, stage="caption")).results) if c}
            loop_n, loop_t = await measure("stage-2-only run, new system prompt", fake, generator.generate_batch(
                list(captions), stage="motion", timing=timing, captions=captions,
                system_prompt_override="Describe only slow, gentle motion."))
            await measure("same stage-2 run again (all cached)", fake, generator.generate_batch(
                list(captions), stage="motion", timing=timing, captions=captions,
                system_prompt_override="Describe only slow, gentle motion."))
    finally:
        await client.close()
        await fake.stop()
    print(f"stage-2 loop / full run: requests {loop_n}/{full_n} = {loop_n / full_n:.2f}, "
          f"time {loop_t:.3f}/{full_t:.3f} = {loop_t / full_t:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT of the generated stills")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    asyncio.run(main(args.count, (width, height)))
