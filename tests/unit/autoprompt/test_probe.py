"""The capability gate over LM Studio's three model listings (reference sections 2.1-2.3, 4)."""

from __future__ import annotations

import pytest

from tests.fixtures.fake_lmstudio import FakeLmStudio, FakeModel, refused_url
from vq_extension.autoprompt.client import LmStudioClient
from vq_extension.autoprompt.errors import AutopromptUnavailable
from vq_extension.autoprompt.probe import ProbeResult, probe

CAPTION = "Qwen3-VL-8B-NSFW-Caption-V4.5"  # as a user types it; LM Studio lists it lower-case
MOTION = "Dolphin-Mistral-24B-Venice-Edition"


def mixed_models() -> list[FakeModel]:
    return [FakeModel("qwen3-vl-8b-nsfw-caption-v4.5", "vlm", loaded=True),
            FakeModel("dolphin-mistral-24b-venice-edition", "llm", loaded=False),
            FakeModel("text-embedding-nomic-embed-text-v1.5", "embeddings", loaded=False)]


@pytest.mark.parametrize("listing, source, caption_id, motion_id", [
    ("api/v1", "api/v1", "qwen3-vl-8b-nsfw-caption-v4.5", "lmstudio-community/dolphin-mistral-24b-venice-edition"),
    ("api/v0", "api/v0", "qwen3-vl-8b-nsfw-caption-v4.5", "dolphin-mistral-24b-venice-edition"),
])
async def test_native_listings_say_loaded_and_vision(lm_url: str, fake: FakeLmStudio, listing: str, source: str,
                                                     caption_id: str, motion_id: str) -> None:
    fake.models, fake.listing = mixed_models(), listing  # type: ignore[assignment]
    client = LmStudioClient(lm_url)
    try:
        result = await probe(client)
    finally:
        await client.close()
    assert result.reachable and result.source == source
    caption, motion = result.require("caption", CAPTION), result.require("motion", MOTION)
    assert (caption.id, caption.loaded, caption.vision) == (caption_id, True, True)
    assert (motion.id, motion.loaded, motion.vision) == (motion_id, False, False)
    assert [m.id for m in result.models if "embed" in m.id] == []  # embedding models are never candidates
    status = result.as_dict(CAPTION, MOTION)
    assert status["stages"]["caption"]["available"] and status["stages"]["motion"]["available"]
    assert "JIT" in status["stages"]["motion"]["note"]


async def test_openai_listing_alone_leaves_loaded_and_vision_unknown(lm_url: str, fake: FakeLmStudio) -> None:
    fake.listing = "v1"
    client = LmStudioClient(lm_url)
    try:
        result = await probe(client)
    finally:
        await client.close()
    assert result.source == "v1"
    info = result.require("caption", CAPTION)
    assert (info.loaded, info.vision) == (None, None)  # unknown is not "no": the request decides
    assert fake.hits["/api/v1/models"] == fake.hits["/api/v0/models"] == 1


async def test_unreachable_server_is_a_result_with_a_hint() -> None:
    client = LmStudioClient(refused_url())
    try:
        result = await probe(client)
    finally:
        await client.close()
    assert not result.reachable and "lms server start" in (result.hint or "")
    with pytest.raises(AutopromptUnavailable) as caught:
        result.require("caption", CAPTION)
    assert caught.value.stage == "caption"
    status = result.as_dict(CAPTION, MOTION)
    assert status["stages"]["caption"]["available"] is False and status["stages"]["caption"]["hint"]


async def test_token_required_is_reachable_but_unusable(lm_url: str, fake: FakeLmStudio) -> None:
    fake.require_token = True
    client = LmStudioClient(lm_url)
    try:
        result = await probe(client)
    finally:
        await client.close()
    assert result.reachable and "token" in (result.error or "")
    with pytest.raises(AutopromptUnavailable):
        result.require("motion", MOTION)


def test_missing_model_hint_names_the_model() -> None:
    result = ProbeResult("http://lm", reachable=True, source="v1")
    with pytest.raises(AutopromptUnavailable) as caught:
        result.require("motion", MOTION)
    assert caught.value.hint == (f"Start LM Studio and load {MOTION}, or set autoprompt_motion_model to a "
                                 "listed model")


async def test_text_only_model_for_captions_is_unavailable(lm_url: str, fake: FakeLmStudio) -> None:
    fake.models = [FakeModel("qwen3-vl-8b-nsfw-caption-v4.5", "llm")]
    client = LmStudioClient(lm_url)
    try:
        result = await probe(client)
    finally:
        await client.close()
    with pytest.raises(AutopromptUnavailable) as caught:
        result.require("caption", CAPTION)
    assert "text-only" in caught.value.message and "autoprompt_caption_model" in (caught.value.hint or "")


async def test_jit_off_lists_only_loaded_models(lm_url: str, fake: FakeLmStudio) -> None:
    fake.models, fake.listing, fake.jit = mixed_models(), "v1", False
    client = LmStudioClient(lm_url)
    try:
        result = await probe(client)
    finally:
        await client.close()
    assert result.find(CAPTION) is not None and result.find(MOTION) is None
