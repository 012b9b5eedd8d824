"""The LM Studio client: reachability, timeouts, retries and both error shapes (reference
section 3) mapped to typed errors; request bodies as section 2.4 describes."""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures.fake_lmstudio import NO_MODELS, FakeLmStudio, refused_url
from vq_extension.autoprompt.client import (
    ChatRequest,
    LmStudioClient,
    answer_text,
    chat_body,
    error_text,
    normalize_root,
    system_message,
    user_message,
)
from vq_extension.autoprompt.errors import (
    AutopromptBackendError,
    AutopromptOutputError,
    AutopromptTimeout,
    AutopromptUnavailable,
)

MOTION = "dolphin-mistral-24b-venice-edition"
CAPTION = "qwen3-vl-8b-nsfw-caption-v4.5"


def motion_request(text: str = "Image description:\na cat\n\nOne clip.") -> ChatRequest:
    return ChatRequest("motion", MOTION, (system_message("write motion"), user_message(text)))


async def test_reachable_server_answers_with_text(client: LmStudioClient, fake: FakeLmStudio) -> None:
    text = await client.chat(motion_request())
    assert text.startswith('"motion for caption') and len(fake.chats) == 1
    status, body = await client.get_json("/v1/models")
    assert status == 200 and MOTION in [m["id"] for m in body["data"]]


async def test_request_body_follows_the_openai_shape(client: LmStudioClient, fake: FakeLmStudio) -> None:
    request = ChatRequest("caption", CAPTION, (system_message("s"), user_message("look", "data:image/png;base64,AA")))
    assert chat_body(request) == {
        "model": CAPTION, "stream": False, "temperature": 0.6, "max_tokens": 600, "ttl": 600,
        "messages": [{"role": "system", "content": "s"},
                     {"role": "user", "content": [{"type": "text", "text": "look"},
                                                  {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]}
    await client.chat(motion_request())
    assert fake.chats[0]["messages"][1] == {"role": "user", "content": "Image description:\na cat\n\nOne clip."}


async def test_refused_connection_is_unavailable_with_a_hint() -> None:
    url = refused_url()
    client = LmStudioClient(url, timeout=5)
    try:
        with pytest.raises(AutopromptUnavailable) as caught:
            await client.chat(motion_request())
    finally:
        await client.close()
    assert caught.value.status == 503 and caught.value.code == "autoprompt_unavailable"
    assert url in caught.value.message and "lms server start" in (caught.value.hint or "")
    assert caught.value.details == {"stage": "motion"}


async def test_a_held_request_times_out_as_autoprompt_timeout(lm_url: str, fake: FakeLmStudio) -> None:
    fake.script("timeout")
    client = LmStudioClient(lm_url, timeout=0.3)
    try:
        with pytest.raises(AutopromptTimeout) as caught:
            await client.chat(motion_request())
    finally:
        fake.release.set()
        await client.close()
    assert caught.value.status == 504 and "0.3 s" in caught.value.message
    assert "autoprompt_timeout_seconds" in (caught.value.hint or "")


async def test_one_connection_reset_is_retried(client: LmStudioClient, fake: FakeLmStudio) -> None:
    fake.script("reset")
    assert "motion for caption" in await client.chat(motion_request())
    assert len(fake.chats) == 2


async def test_a_second_reset_is_an_error(client: LmStudioClient, fake: FakeLmStudio) -> None:
    fake.script("reset", "reset")
    with pytest.raises(AutopromptBackendError):
        await client.chat(motion_request())
    assert len(fake.chats) == 2


async def test_http_500_is_a_backend_error(client: LmStudioClient, fake: FakeLmStudio) -> None:
    fake.script("500")
    with pytest.raises(AutopromptBackendError) as caught:
        await client.chat(motion_request())
    assert caught.value.status == 502 and "500" in caught.value.message


@pytest.mark.parametrize("failure", ["error200_string", "error200_object"])
async def test_error_in_a_200_body_fails_in_both_shapes(client: LmStudioClient, fake: FakeLmStudio,
                                                        failure: str) -> None:
    fake.script(failure)
    with pytest.raises(AutopromptBackendError) as caught:
        await client.chat(motion_request())
    assert "Error in iterating prediction stream" in caught.value.message and "200" in caught.value.message


@pytest.mark.parametrize("failure", ["no_model_string", "no_model_object"])
async def test_no_model_loaded_is_unavailable_in_both_shapes(client: LmStudioClient, fake: FakeLmStudio,
                                                             failure: str) -> None:
    fake.script(failure)
    with pytest.raises(AutopromptUnavailable) as caught:
        await client.chat(motion_request())
    assert NO_MODELS in caught.value.message
    assert caught.value.hint == f"Start LM Studio and load {MOTION} (lms load {MOTION})"


async def test_unknown_model_names_the_setting(client: LmStudioClient) -> None:
    request = ChatRequest("motion", "no-such-model", (user_message("hi"),))
    with pytest.raises(AutopromptUnavailable) as caught:
        await client.chat(request)
    assert "Invalid model identifier" in caught.value.message
    assert "autoprompt_motion_model" in (caught.value.hint or "")


async def test_an_image_sent_to_a_text_only_model_is_unavailable(client: LmStudioClient) -> None:
    request = ChatRequest("caption", MOTION, (user_message("look", "data:image/png;base64,iVBORw0KGgo="),))
    with pytest.raises(AutopromptUnavailable) as caught:
        await client.chat(request)
    assert "does not support images" in caught.value.message
    assert "autoprompt_caption_model" in (caught.value.hint or "")


async def test_empty_content_is_an_output_error(client: LmStudioClient, fake: FakeLmStudio) -> None:
    fake.script("empty")
    with pytest.raises(AutopromptOutputError):
        await client.chat(motion_request())


async def test_inline_thinking_is_stripped(client: LmStudioClient, fake: FakeLmStudio) -> None:
    fake.script("think")
    text = await client.chat(motion_request())
    assert "<think>" not in text and text.startswith('"motion for caption')


async def test_token_required_is_unavailable(lm_url: str, fake: FakeLmStudio) -> None:
    fake.require_token = True
    client = LmStudioClient(lm_url)
    try:
        with pytest.raises(AutopromptUnavailable) as caught:
            await client.chat(motion_request())
    finally:
        await client.close()
    assert "Require Authentication" in (caught.value.hint or "")


def test_error_text_reads_both_shapes() -> None:
    assert error_text({"error": "plain"}) == "plain"
    assert error_text({"error": {"message": "object", "type": "x"}}) == "object"
    assert error_text({"choices": []}) is None
    assert error_text(None) is None


def test_answer_without_choices_is_a_backend_error() -> None:
    with pytest.raises(AutopromptBackendError):
        answer_text(200, {"object": "chat.completion"}, motion_request(), "http://x")


@pytest.mark.parametrize("raw, root", [
    ("http://127.0.0.1:1234", "http://127.0.0.1:1234"),
    ("http://127.0.0.1:1234/v1/", "http://127.0.0.1:1234"),
    ("localhost:1234", "http://localhost:1234"),
])
def test_url_is_the_root(raw: str, root: str) -> None:
    assert normalize_root(raw) == root


async def test_chat_never_blocks_the_loop(lm_url: str, fake: FakeLmStudio) -> None:
    """While a request is held, other tasks on the loop keep running."""
    fake.script("timeout")
    client = LmStudioClient(lm_url, timeout=10)
    try:
        pending = asyncio.create_task(client.chat(motion_request()))
        while not fake.chats:  # the fake has the request
            await asyncio.sleep(0)
        assert not pending.done()
        fake.release.set()
        assert "motion for caption" in await pending
    finally:
        await client.close()
