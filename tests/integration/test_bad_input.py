"""Bad input answers 4xx with the error envelope, never 500 (issue 10, items 11, 14, 15)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import read_only
from tests.integration.test_files_routes import (
    API,
    all_files,
    multipart,
    png,
    upload,
    uploads_dir,
)

pytestmark = pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)

BIG = 2**63
GRAPH = {"1": {"class_type": "KSampler", "inputs": {"seed": 1}}}


async def envelope(resp: Any, *statuses: int) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status in statuses, f"{resp.status}: {text}"
    return (await resp.json())["error"]


def nested(depth: int) -> str:
    return '{"graphs": [{"1": {"class_type": "X", "inputs": {"a": ' + "[" * depth + "]" * depth + "}}}]}"


async def test_numbers_above_int64_are_refused(client: Any) -> None:
    for url in (f"{API}/jobs/{BIG}", f"{API}/prompts/{BIG}", f"{API}/jobs/{BIG}/log", f"{API}/jobs?offset={BIG}",
                f"{API}/jobs/1/log?after={BIG}", f"{API}/jobs?limit={BIG}", f"{API}/jobs/{2**70}"):
        err = await envelope(await client.get(url), 400)
        assert err["code"] == "invalid_request", url
    for url in (f"{API}/jobs/{BIG}/cancel", f"{API}/prompts/{BIG}/retry"):
        assert (await envelope(await client.post(url), 400))["code"] == "invalid_request"
    resp = await client.patch(f"{API}/jobs/{BIG}", json={"priority": 1})
    await envelope(resp, 400)


async def test_huge_seeds_in_raw_graphs(client: Any) -> None:
    # ComfyUI's samplers take seeds up to 2**64 - 1: vq queues them (showing no seed it
    # cannot store); above that it refuses, as ComfyUI would.
    for seed in (BIG, 2**64 - 1):
        resp = await client.post(f"{API}/jobs", json={"graphs": [{"1": {"class_type": "KSampler",
                                                                        "inputs": {"seed": seed}}}]})
        assert resp.status == 201, await resp.text()
        detail = await resp.json()
        graph = await (await client.get(f"{API}/prompts/{detail['prompts'][0]['id']}")).json()
        assert graph["graph"]["1"]["inputs"]["seed"] == seed
    for seed in (2**64, 2**80, -(2**63) - 1):
        resp = await client.post(f"{API}/jobs", json={"graphs": [{"1": {"class_type": "KSampler",
                                                                        "inputs": {"seed": seed}}}]})
        err = await envelope(resp, 400)
        assert "seed" in err["message"]
    err = await envelope(await client.post(f"{API}/jobs", json={"workflow": "x", "seed": 2**64}), 400)
    assert "seed" in err["message"]


async def test_deeply_nested_json_is_refused(client: Any) -> None:
    for depth in (1500, 100_000):
        resp = await client.post(f"{API}/jobs", data=nested(depth), headers={"Content-Type": "application/json"})
        err = await envelope(resp, 400)
        assert "nested" in err["message"]


async def test_nan_and_infinity_are_refused(client: Any) -> None:
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = '{"graphs": [{"1": {"class_type": "X", "inputs": {"a": %s}}}]}' % constant
        resp = await client.post(f"{API}/jobs", data=body, headers={"Content-Type": "application/json"})
        err = await envelope(resp, 400)
        assert constant in err["message"]
    jobs = await (await client.get(f"{API}/jobs")).json()
    assert jobs["total"] == 0 if "total" in jobs else not jobs["jobs"]


async def test_a_body_over_the_limit_is_413(client: Any, plugin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin.settings, "json_body_max_bytes", 10_000)
    body = '{"graphs": [{"1": {"class_type": "X", "inputs": {"a": "%s"}}}]}' % ("x" * 20_000)
    resp = await client.post(f"{API}/jobs", data=body, headers={"Content-Type": "application/json"})
    err = await envelope(resp, 413)
    assert "json_body_max_bytes" in err["message"]

    async def chunked() -> Any:  # no Content-Length: the limit holds while reading
        for _ in range(4):
            yield b'{"graphs": [' if _ == 0 else b" " * 5000
    resp = await client.post(f"{API}/jobs", data=chunked(), headers={"Content-Type": "application/json"})
    await envelope(resp, 413)


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=",
                                          'multipart/form-data; boundary=""'])
async def test_multipart_without_a_boundary_is_refused(client: Any, content_type: str) -> None:
    resp = await client.post(f"{API}/uploads", data=b"--x\r\n\r\n", headers={"Content-Type": content_type})
    err = await envelope(resp, 400)
    assert "boundary" in err["message"]


async def test_upload_filenames_with_line_breaks(client: Any, comfy: Any) -> None:
    boundary = "vqboundary"
    for disposition in ('form-data; name="file"; filename="a\r\nb.png"',
                        "form-data; name=\"file\"; filename*=UTF-8''a%0D%0Ab.png"):
        body = (f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: image/png\r\n\r\n").encode() \
            + png() + f"\r\n--{boundary}--\r\n".encode()
        resp = await client.post(f"{API}/uploads", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert resp.status < 500, await resp.text()
        if resp.status == 201:
            name = (await resp.json())["name"]
            assert "\r" not in name and "\n" not in name
        else:
            await envelope(resp, 400)


async def test_upload_subfolder_naming_a_file_is_refused(client: Any, comfy: Any) -> None:
    folder = uploads_dir(comfy)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "taken").write_bytes(b"x")
    body, head = multipart(("subfolder", None, b"taken"), ("file", "a.png", png()))
    err = await envelope(await client.post(f"{API}/uploads", data=body, headers=head), 400)
    assert "taken" in err["message"] and "not a folder" in err["message"]
    body, head = multipart(("subfolder", None, b"taken/deeper"), ("file", "a.png", png()))
    await envelope(await client.post(f"{API}/uploads", data=body, headers=head), 400)


async def test_a_truncated_upload_leaves_nothing(client: Any, comfy: Any) -> None:
    body, head = multipart(("file", "cut.png", png() + b"\x00" * 300_000))
    cut = body[: len(body) - 200_000]  # the closing boundary never comes
    err = await envelope(await client.post(f"{API}/uploads", data=cut, headers=head), 400)
    assert "truncated" in err["message"] or "incomplete" in err["message"]
    assert all_files(uploads_dir(comfy)) == set()


async def test_refusals_name_the_path_as_given(client: Any, comfy: Any, tmp_path: Path) -> None:
    link = Path(comfy.paths.input_directory) / "escape"
    (tmp_path / "secret-place").mkdir()
    link.symlink_to(tmp_path / "secret-place")
    for given, hidden in (("/proc/self/cwd", os.getcwd()), (f"{link}/x", "secret-place")):
        for resp in (await client.post(f"{API}/paths/normalize", json={"path": given}),
                     await client.get(f"{API}/thumbnail", params={"path": given}),
                     await client.get(f"{API}/browse", params={"path": given})):
            text = await resp.text()
            err = await envelope(resp, 403)
            assert given in err["message"] and "outside the allowed folders" in err["message"], text
            assert hidden not in text, f"{given}: the resolved target leaked: {text}"


async def test_an_unwritable_staging_or_uploads_folder_is_named_and_nothing_is_queued(client: Any, comfy: Any) -> None:
    """Not the input's fault: 503 ``staging_unwritable`` naming the folder, with what to do
    (it was a bare PermissionError: a 500 "internal" with no folder in it)."""
    folder = Path(comfy.paths.input_directory) / "shots"
    folder.mkdir()
    (folder / "a.png").write_bytes(png())
    vq_dir = Path(comfy.paths.input_directory) / "vq"
    vq_dir.mkdir(parents=True, exist_ok=True)
    with read_only(vq_dir):
        resp = await client.post(f"{API}/jobs", json={"workflow": "smoke-image", "input": str(folder)})
        err = await envelope(resp, 503)
        assert err["code"] == "staging_unwritable" and str(vq_dir) in err["message"], err
        assert "stage: false" in err["hint"] and err["details"]["folder"].startswith(str(vq_dir))
        err = (await upload(client, png(), "x.png", 503))["error"]
        assert err["code"] == "staging_unwritable" and str(uploads_dir(comfy)) in err["message"], err
    assert (await (await client.get(f"{API}/jobs")).json())["total"] == 0
    assert all_files(vq_dir) == set()
