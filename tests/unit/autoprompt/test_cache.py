"""The cache: hits are reported, a stage-2-only rerun never touches images, and changing a
key part (system prompt, model, timing) misses instead of serving stale prompts."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.fake_lmstudio import FakeLmStudio
from tests.unit.autoprompt.conftest import ImageMaker
from vq_extension.autoprompt.cache import (
    MemoryCacheStore,
    PromptCache,
    caption_key,
    motion_key,
)
from vq_extension.autoprompt.generator import Generator
from vq_extension.autoprompt.timing import ClipTiming


def image_requests(fake: FakeLmStudio) -> int:
    return sum(any(isinstance(m["content"], list) for m in c["messages"]) for c in fake.chats)


async def test_second_run_is_all_hits(generator: Generator, make_image: ImageMaker, fake: FakeLmStudio) -> None:
    paths = [str(make_image(f"{i}.png", (i, 0, 0))) for i in range(3)]
    first = await generator.generate_batch(paths)
    second = await generator.generate_batch(paths)
    assert len(fake.chats) == 6 and second.cache_hits == {"caption": 3, "motion": 3}
    assert [r.as_dict(1) for r in second.results] == [r.as_dict(1) for r in first.results]


async def test_a_renamed_copy_hits_by_content(generator: Generator, make_image: ImageMaker) -> None:
    await generator.generate_batch([str(make_image("a.png", (9, 9, 9)))], stage="caption")
    again = await generator.generate_batch([str(make_image("copy-of-a.png", (9, 9, 9)))], stage="caption")
    assert again.cache_hits["caption"] == 1


async def test_stage_2_rerun_makes_zero_image_requests(generator: Generator, make_image: ImageMaker,
                                                       fake: FakeLmStudio) -> None:
    paths = [make_image(f"{i}.png", (0, i, 0)) for i in range(3)]
    first = await generator.generate_batch([str(p) for p in paths])
    captions = {r.path: r.caption or "" for r in first.results}
    for path in paths:
        path.unlink()  # proof: a stage-2 rerun has no image to read
    before = len(fake.chats)
    rerun = await generator.generate_batch(list(captions), stage="motion", captions=captions,
                                           system_prompt_override="Describe only the wind in the hair.")
    assert image_requests(fake) == 3 and len(fake.chats) == before + 3
    assert all(r.error is None and r.prompts for r in rerun.results)
    assert rerun.cache_hits == {"caption": 0, "motion": 0}


async def test_changing_the_system_prompt_invalidates_motion_only(generator: Generator, make_image: ImageMaker,
                                                                  fake: FakeLmStudio) -> None:
    path = str(make_image("a.png"))
    await generator.generate_batch([path])
    changed = await generator.generate_batch([path], system_prompt_override="Slow motion only.")
    assert changed.cache_hits == {"caption": 1, "motion": 0} and len(fake.chats) == 3
    back = await generator.generate_batch([path])
    assert back.cache_hits == {"caption": 1, "motion": 1}


async def test_clip_count_and_timing_are_part_of_the_motion_key(generator: Generator, make_image: ImageMaker) -> None:
    path = str(make_image("a.png"))
    await generator.generate_batch([path], timing=ClipTiming(24, 81, 2))
    three = await generator.generate_batch([path], timing=ClipTiming(24, 81, 3))
    slower = await generator.generate_batch([path], timing=ClipTiming(16, 81, 3))
    assert three.cache_hits["motion"] == 0 and slower.cache_hits["motion"] == 0
    assert len(three.results[0].prompts or []) == 3


def test_keys_change_with_every_part() -> None:
    base = caption_key("img", "m", ("sys", "user"), {"long_side": 1024})
    assert base == caption_key("img", "m", ("sys", "user"), {"long_side": 1024})
    assert len({base, caption_key("img2", "m", ("sys", "user"), {"long_side": 1024}),
                caption_key("img", "m2", ("sys", "user"), {"long_side": 1024}),
                caption_key("img", "m", ("sys2", "user"), {"long_side": 1024}),
                caption_key("img", "m", ("sys", "user"), {"long_side": 512})}) == 5
    t = ClipTiming(24, 81)
    motion = motion_key("cap", "m", "sys", t)
    assert len({motion, motion_key("cap2", "m", "sys", t), motion_key("cap", "m2", "sys", t),
                motion_key("cap", "m", "sys2", t), motion_key("cap", "m", "sys", ClipTiming(24, 81, 2))}) == 5


async def test_store_calls_go_through_the_runner(tmp_path: Path) -> None:
    ran: list[str] = []

    async def run(fn, *args):  # type: ignore[no-untyped-def]
        ran.append(fn.__name__)
        return fn(*args)

    cache = PromptCache(MemoryCacheStore(), run)
    await cache.put_motion("k", ["a", "b"])
    assert await cache.motion("k") == ["a", "b"] and await cache.caption("k") is None
    assert ran == ["cache_put", "cache_get", "cache_get"]


async def test_fresh_asks_again_and_replaces_the_cached_answer(generator: Generator, fake: FakeLmStudio,
                                                               store: MemoryCacheStore) -> None:
    await generator.generate_batch(["/x/a.png"], stage="motion", captions={"/x/a.png": "A dog."})
    (kind, key), = store.entries
    store.entries[(kind, key)] = '["stale"]'
    again = await generator.generate_batch(["/x/a.png"], stage="motion", captions={"/x/a.png": "A dog."},
                                           fresh=True)
    assert len(fake.chats) == 2 and again.cache_hits["motion"] == 0
    assert again.results[0].prompts != ["stale"] and store.entries[(kind, key)] != '["stale"]'
