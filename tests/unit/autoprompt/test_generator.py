"""The two-stage generator against the fake LM Studio: callback contract, split parsing and
the one re-ask, timing markers in the request, default model wiring, failure handling."""

from __future__ import annotations

import pytest

from tests.fixtures.fake_lmstudio import (
    FakeLmStudio,
    FakeModel,
    fingerprint,
    refused_url,
)
from tests.unit.autoprompt.conftest import ImageMaker
from vq_extension.autoprompt.cache import MemoryCacheStore, PromptCache
from vq_extension.autoprompt.client import LmStudioClient
from vq_extension.autoprompt.errors import AutopromptTimeout, AutopromptUnavailable
from vq_extension.autoprompt.generator import (
    Generator,
    GeneratorConfig,
    parse_clips,
    unquote,
)
from vq_extension.autoprompt.prompts import motion_system
from vq_extension.autoprompt.timing import ClipTiming
from vq_extension.config import Settings

CAPTION_ID = "qwen3-vl-8b-nsfw-caption-v4.5"
MOTION_ID = "dolphin-mistral-24b-venice-edition"


def has_image(chat: dict) -> bool:
    return any(isinstance(m["content"], list) for m in chat["messages"])


async def test_both_stages_report_every_image_per_stage(generator: Generator, make_image: ImageMaker,
                                                        fake: FakeLmStudio) -> None:
    paths = [str(make_image(f"{n}.png", color)) for n, color in (("r", (255, 0, 0)), ("g", (0, 255, 0)),
                                                                 ("b", (0, 0, 255)))]
    calls: list[tuple[str, str, int, int]] = []
    batch = await generator.generate_batch(paths, lambda *a: calls.append(a))
    assert calls == [("caption", p, i, 3) for i, p in enumerate(paths, 1)] + \
                    [("motion", p, i, 3) for i, p in enumerate(paths, 1)]
    # Stage by stage: three vision requests, then three text requests (no model ping-pong).
    assert [has_image(c) for c in fake.chats] == [True] * 3 + [False] * 3
    first = batch.results[0]
    assert first.caption is not None and "64x48 #ff0000" in first.caption
    assert first.prompts == [f"motion for caption {fingerprint(first.caption)} [sys "
                             f"{fingerprint(motion_system(None, 1))}]"]  # the fake's quotes were stripped
    out = batch.as_dict()
    assert out["results"][0]["motion_prompt"] == first.prompts[0] and "clip_prompts" not in out["results"][0]
    assert (out["stage1_model"], out["stage2_model"], out["cache_hits"]) == (CAPTION_ID, MOTION_ID,
                                                                            {"caption": 0, "motion": 0})


async def test_async_callbacks_are_awaited(generator: Generator, make_image: ImageMaker) -> None:
    seen: list[str] = []

    async def report(stage: str, path: str, i: int, total: int) -> None:
        seen.append(f"{stage} {i}/{total}")

    await generator.generate_batch([str(make_image("a.png"))], report, stage="caption")
    assert seen == ["caption 1/1"]


async def test_default_models_come_from_settings(generator: Generator, make_image: ImageMaker,
                                                 fake: FakeLmStudio) -> None:
    settings = Settings()
    assert (settings.autoprompt_caption_model, settings.autoprompt_motion_model) == (
        "Qwen3-VL-8B-NSFW-Caption-V4.5", "Dolphin-Mistral-24B-Venice-Edition")
    assert generator.config == GeneratorConfig("Qwen3-VL-8B-NSFW-Caption-V4.5", "Dolphin-Mistral-24B-Venice-Edition",
                                               1024)
    await generator.generate_batch([str(make_image("a.png"))])
    assert [c["model"] for c in fake.chats] == [CAPTION_ID, MOTION_ID]  # the ids LM Studio lists


async def test_timing_markers_reach_the_motion_request(generator: Generator, make_image: ImageMaker,
                                                       fake: FakeLmStudio) -> None:
    await generator.generate_batch([str(make_image("a.png"))], timing=ClipTiming(16, 81))
    user = fake.chats[1]["messages"][1]["content"]
    assert "5.1 seconds (81 frames at 16 fps)" in user and "0s, 2.5s, 5s" in user


async def test_split_workflow_gets_one_prompt_per_clip(generator: Generator, make_image: ImageMaker) -> None:
    batch = await generator.generate_batch([str(make_image("a.png"))], timing=ClipTiming(24, 81, 3))
    clips = batch.results[0].prompts
    assert clips is not None and [c.split(":")[0] for c in clips] == ["clip 1 of 3", "clip 2 of 3", "clip 3 of 3"]
    assert batch.as_dict()["results"][0]["clip_prompts"] == clips


@pytest.mark.parametrize("failure", ["unparseable", "wrong_count"])
async def test_bad_split_output_is_asked_again_once(generator: Generator, make_image: ImageMaker,
                                                    fake: FakeLmStudio, failure: str) -> None:
    fake.script("ok", failure)  # the caption is fine; the first motion answer is not
    batch = await generator.generate_batch([str(make_image("a.png"))], timing=ClipTiming(24, 81, 2))
    assert batch.results[0].error is None and len(batch.results[0].prompts or []) == 2
    reask = fake.chats[2]["messages"]
    assert [m["role"] for m in reask] == ["system", "user", "assistant", "user"]
    assert "could not be used" in reask[3]["content"] and "exactly 2" in reask[3]["content"]


async def test_split_output_bad_twice_is_a_clear_error_on_that_image(generator: Generator,
                                                                     make_image: ImageMaker,
                                                                     fake: FakeLmStudio) -> None:
    fake.script("ok", "ok", "unparseable", "unparseable")
    paths = [str(make_image("a.png")), str(make_image("b.png", (0, 0, 255)))]
    batch = await generator.generate_batch(paths, timing=ClipTiming(24, 81, 2))
    error = batch.results[0].error
    assert error is not None and error["code"] == "autoprompt_bad_output" and error["stage"] == "motion"
    assert "did not return 2 clip prompts, twice" in error["message"]
    assert batch.results[1].error is None and len(batch.results[1].prompts or []) == 2  # the batch went on


async def test_motion_stage_uses_given_captions_and_sends_no_image(generator: Generator,
                                                                   fake: FakeLmStudio) -> None:
    batch = await generator.generate_batch(["/x/a.png", "/x/b.png"], stage="motion",
                                           captions={"/x/a.png": "A dog sits."})
    assert batch.stage1_model is None and batch.stage2_model == MOTION_ID
    assert batch.results[0].prompts == [f"motion for caption {fingerprint('A dog sits.')} "
                                        f"[sys {fingerprint(motion_system(None, 1))}]"]
    assert batch.results[1].error == {"code": "caption_missing", "stage": "motion",
                                      "message": "no caption given for /x/b.png"}
    assert len(fake.chats) == 1 and not has_image(fake.chats[0])


async def test_system_prompt_override_reaches_stage_2(generator: Generator, fake: FakeLmStudio) -> None:
    await generator.generate_batch(["/x/a.png"], stage="motion", captions={"/x/a.png": "A dog."},
                                   system_prompt_override="Only wind.")
    assert fake.chats[0]["messages"][0]["content"] == motion_system("Only wind.", 1)


async def test_lm_studio_down_fails_before_any_work(make_image: ImageMaker) -> None:
    client = LmStudioClient(refused_url())
    generator = Generator(client, PromptCache(MemoryCacheStore()), GeneratorConfig.from_settings(Settings()))
    calls: list[object] = []
    try:
        with pytest.raises(AutopromptUnavailable) as caught:
            await generator.generate_batch([str(make_image("a.png"))], lambda *a: calls.append(a))
    finally:
        await client.close()
    assert caught.value.status == 503 and calls == []


async def test_text_only_caption_model_fails_before_any_request(generator: Generator, fake: FakeLmStudio,
                                                                make_image: ImageMaker) -> None:
    fake.models = [FakeModel(CAPTION_ID, "llm"), FakeModel(MOTION_ID)]
    with pytest.raises(AutopromptUnavailable) as caught:
        await generator.generate_batch([str(make_image("a.png"))])
    assert caught.value.stage == "caption" and fake.chats == []


async def test_missing_motion_model_fails_even_a_caption_free_rerun(generator: Generator,
                                                                    fake: FakeLmStudio) -> None:
    fake.models = [FakeModel(CAPTION_ID, "vlm")]
    with pytest.raises(AutopromptUnavailable) as caught:
        await generator.generate_batch(["/x/a.png"], stage="motion", captions={"/x/a.png": "A dog."})
    assert caught.value.hint == ("Start LM Studio and load Dolphin-Mistral-24B-Venice-Edition, or set "
                                 "autoprompt_motion_model to a listed model")


async def test_an_unreadable_image_fails_alone(generator: Generator, make_image: ImageMaker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    batch = await generator.generate_batch([str(bad), str(make_image("ok.png"))])
    assert batch.results[0].error is not None and batch.results[0].error["code"] == "invalid_image"
    assert batch.results[0].prompts is None  # no caption, no motion request for it
    assert batch.results[1].error is None and batch.results[1].prompts


async def test_a_timeout_mid_batch_stops_the_batch(lm_url: str, fake: FakeLmStudio,
                                                   make_image: ImageMaker) -> None:
    fake.script("ok", "timeout")
    client = LmStudioClient(lm_url, timeout=0.3)
    generator = Generator(client, PromptCache(MemoryCacheStore()), GeneratorConfig.from_settings(Settings()))
    try:
        with pytest.raises(AutopromptTimeout):
            await generator.generate_batch([str(make_image("a.png")), str(make_image("b.png")),
                                            str(make_image("c.png"))])
    finally:
        fake.release.set()
        await client.close()
    assert len(fake.chats) == 2  # the third image was never sent


@pytest.mark.parametrize("text, clips", [
    ('{"clips": ["a", "b"]}', ["a", "b"]),
    ('Here you go:\n```json\n{"clips": [" a ", "b"]}\n```', ["a", "b"]),
    ('["a", "b"] hope this helps', ["a", "b"]),
])
def test_parse_clips_accepts_the_usual_wrappings(text: str, clips: list[str]) -> None:
    assert parse_clips(text, 2) == clips


@pytest.mark.parametrize("text, reason", [
    ("first she waves, then she turns", "no JSON"),
    ('{"clips": ["a", ', "does not parse"),
    ('{"prompts": ["a", "b"]}', 'no "clips" list'),
    ('{"clips": ["a"]}', "1 clip prompts instead of 2"),
    ('{"clips": ["a", ""]}', "empty"),
])
def test_parse_clips_says_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_clips(text, 2)


def test_unquote() -> None:
    assert unquote(' "She waves." ') == "She waves."
    assert unquote("'ok'") == "ok"
    assert unquote('She says "hi"') == 'She says "hi"'
