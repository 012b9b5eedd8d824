"""The files routes on the fake ComfyUI: uploads (naming, limits, content), path checks, the
folder browser, thumbnails, and that no route reads, lists, stages or writes outside the
allowed roots (a traversal table through every route that takes a path, symlink escapes)."""

from __future__ import annotations

import asyncio
import builtins
import errno
import io
import json
import os
import sys
import unicodedata
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.integration.conftest import FAST_SETTINGS
from tests.integration.helpers import wait_for, wait_job

pytestmark = pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)

API = "/api/vq/v1"
LIMIT = 256 * 1024  # vq's upload limit in this module


@pytest.fixture
def fast_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**FAST_SETTINGS, "VQ_UPLOAD_MAX_BYTES": str(LIMIT)}.items():
        monkeypatch.setenv(name, value)


def png(color: tuple[int, int, int] = (200, 40, 90), size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def multipart(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, dict[str, str]]:
    """A multipart body the way browsers write it: file names as raw UTF-8, not %-escaped
    (aiohttp's FormData escapes them). Backslashes are quoted-pairs, as aiohttp parses them."""
    body = b""
    for name, filename, data in parts:
        quoted = None if filename is None else filename.replace("\\", "\\\\")
        disposition = f'form-data; name="{name}"' + (f'; filename="{quoted}"' if quoted is not None else "")
        body += f"--XyZ\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return body + b"--XyZ--\r\n", {"Content-Type": "multipart/form-data; boundary=XyZ"}


async def upload(client: Any, data: bytes, filename: str, status: int = 201, *, subfolder: str | None = None,
                 query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    parts = ([("subfolder", None, subfolder.encode())] if subfolder is not None else []) + [("file", filename, data)]
    body, head = multipart(*parts)
    resp = await client.post(f"{API}/uploads", data=body, params=query or {}, headers={**head, **(headers or {})})
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


def input_dir(comfy: Any) -> Path:
    return Path(comfy.paths.input_directory)


def uploads_dir(comfy: Any) -> Path:
    return input_dir(comfy) / "vq" / "uploads"


def all_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


# --- uploads --------------------------------------------------------------------------------


async def test_an_upload_keeps_its_name_and_doubles_as_a_view_reference(client: Any, comfy: Any) -> None:
    data = png()
    answer = await upload(client, data, "Frame 01.png")
    assert answer == {"name": "Frame 01.png", "original_filename": "Frame 01.png", "subfolder": "vq/uploads",
                      "type": "input", "path": str(uploads_dir(comfy) / "Frame 01.png"), "size": len(data),
                      "reused": False}
    view = await client.get("/view", params={"filename": answer["name"], "subfolder": answer["subfolder"],
                                             "type": answer["type"]})
    assert view.status == 200 and await view.read() == data


async def test_repeated_names_get_numbered_and_identical_content_is_reused(client: Any, comfy: Any) -> None:
    first, second, third = png((1, 2, 3)), png((4, 5, 6)), png((7, 8, 9))
    names = [(await upload(client, data, "clip.png"))["name"] for data in (first, second, third)]
    assert names == ["clip.png", "clip__2.png", "clip__3.png"]
    again = await upload(client, second, "clip.png")
    assert again["name"] == "clip__2.png" and again["reused"] is True
    assert (uploads_dir(comfy) / "clip.png").read_bytes() == first, "never overwritten"
    assert len(all_files(uploads_dir(comfy))) == 3


async def test_the_same_name_in_different_subfolders(client: Any, comfy: Any) -> None:
    a = await upload(client, png((10, 0, 0)), "shot.png", subfolder="day1")
    b = await upload(client, png((0, 10, 0)), "shot.png", query={"subfolder": "day2/take 3"})
    assert (a["name"], a["subfolder"]) == ("shot.png", "vq/uploads/day1")
    assert (b["name"], b["subfolder"]) == ("shot.png", "vq/uploads/day2/take 3")
    assert Path(b["path"]) == uploads_dir(comfy) / "day2" / "take 3" / "shot.png"


async def test_unicode_names_are_kept(client: Any, comfy: Any) -> None:
    answer = await upload(client, png(), "Ünïcödé 日本語 🎬.png")
    assert answer["name"] == "Ünïcödé 日本語 🎬.png" and Path(answer["path"]).is_file()
    decomposed = unicodedata.normalize("NFD", "café.png")
    assert (await upload(client, png((3, 3, 3)), decomposed))["name"] == "café.png"  # macOS sends NFD


@pytest.mark.parametrize(("sent", "kept"), [
    ("../../evil.png", "evil.png"),
    ("C:\\fakepath\\photo.png", "photo.png"),
    ("/etc/passwd", "passwd.png"),
    ("sub/dir/x.png", "x.png"),
    ("..", "upload.png"),
    (".hidden.png", "hidden.png"),
    ("con.png", "_con.png"),
    ("a<b>c|d?.png", "a_b_c_d_.png"),
    ("notes.txt", "notes.txt.png"),
])
async def test_names_with_path_components_stay_inside_the_uploads_folder(client: Any, comfy: Any, sent: str,
                                                                        kept: str) -> None:
    before = all_files(input_dir(comfy).parent)
    answer = await upload(client, png(), sent)
    assert answer["name"] == kept
    assert answer["original_filename"] in (sent, sent.lstrip("/")), "aiohttp drops a leading slash"
    assert Path(answer["path"]).parent == uploads_dir(comfy)
    assert all_files(input_dir(comfy).parent) - before == {uploads_dir(comfy) / kept}


async def test_an_upload_over_the_vq_limit_is_refused_with_413_naming_it(client: Any, comfy: Any) -> None:
    big = png() + b"\0" * LIMIT
    err = (await upload(client, big, "big.png", 413))["error"]
    assert err["code"] == "upload_too_large" and "256.0 KiB" in err["message"]
    assert "upload_max_bytes" in err["message"] and err["details"]["limit"] == LIMIT

    async def stream() -> Any:  # chunked: no length to refuse early, so the stream is cut off
        body, _ = multipart(("file", "big.png", big))
        for i in range(0, len(body), 8192):
            yield body[i:i + 8192]

    head = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    resp = await client.post(f"{API}/uploads", data=stream(), headers=head)
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "upload_too_large"
    assert all_files(uploads_dir(comfy)) == set(), "no file and no .part left behind"


async def test_uploads_larger_than_comfyuis_own_limit_work(client: Any, comfy: Any) -> None:
    comfy.app._client_max_size = 64 * 1024  # stands in for --max-upload-size
    data = png() + os.urandom(150 * 1024)
    form = aiohttp.FormData()
    form.add_field("image", data, filename="big.png")
    assert (await client.post("/upload/image", data=form)).status == 413, "ComfyUI's own route refuses it"
    answer = await upload(client, data, "big.png")
    assert Path(answer["path"]).read_bytes() == data


@pytest.mark.parametrize(("data", "says"), [
    (b"%PDF-1.7\n" + b"x" * 100, "a PDF"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>" + b" " * 40, "SVG"),
    (b"just some text, long enough to be sniffed by the upload route", "unknown data"),
    (b"", "an empty file"),
])
async def test_content_that_is_no_image_or_video_is_refused_with_415(client: Any, comfy: Any, data: bytes,
                                                                      says: str) -> None:
    err = (await upload(client, data, "looks-fine.png", 415))["error"]
    assert err["code"] == "unsupported_media" and says in err["message"] and "images" in err["message"]
    assert all_files(uploads_dir(comfy)) == set()


async def test_videos_are_accepted_by_content(client: Any) -> None:
    mp4 = b"\0\0\0\x18ftypmp42" + b"\0" * 200
    assert (await upload(client, mp4, "clip"))["name"] == "clip.mp4"


@pytest.mark.parametrize(("parts", "says"), [
    ([], "holds no file"),
    ([("type", None, b"input"), ("file", "a.png", b"")], "unknown form field 'type'"),
    ([("file", "a.png", b"\x89PNG\r\n\x1a\n" + b"1" * 80), ("file", "b.png", b"\x89PNG\r\n\x1a\n" + b"2" * 80)],
     "one file per request"),
])
async def test_malformed_uploads_say_what_is_wrong(client: Any, comfy: Any, parts: list[Any], says: str) -> None:
    body, head = multipart(*parts)
    resp = await client.post(f"{API}/uploads", data=body, headers=head)
    assert resp.status == 400 and says in (await resp.json())["error"]["message"]
    assert all_files(uploads_dir(comfy)) == set(), "a refused request leaves nothing behind"
    resp = await client.post(f"{API}/uploads", json={"file": "x"})
    assert resp.status == 400 and "multipart/form-data" in (await resp.json())["error"]["message"]


async def test_uploads_from_another_site_are_refused(client: Any, comfy: Any) -> None:
    err = (await upload(client, png(), "x.png", 403, headers={"Origin": "https://evil.example"}))["error"]
    assert err["code"] == "cross_origin" and "evil.example" in err["message"]
    assert all_files(uploads_dir(comfy)) == set()
    host = client.make_url("/").host + ":" + str(client.port)
    assert (await upload(client, png(), "x.png", headers={"Origin": f"http://{host}"}))["name"] == "x.png"


async def test_an_uploaded_file_can_be_submitted_and_runs(client: Any, comfy: Any) -> None:
    answer = await upload(client, png(size=(48, 32)), "mine.png")
    resp = await client.post(f"{API}/jobs", json={"workflow": "smoke-image", "input": answer["path"], "seed": 1})
    created = await resp.json()
    assert resp.status == 201, created
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done["prompts"][0]["error"]
    prompt = done["prompts"][0]
    assert prompt["input_file"] == answer["path"] and prompt["staged_name"].startswith("vq/staged/")
    staged = input_dir(comfy) / prompt["staged_name"]
    assert staged.stat().st_ino == Path(answer["path"]).stat().st_ino, "uploads are staged by hard link"
    assert done["options"]["stage"] is True


# --- paths ----------------------------------------------------------------------------------


@pytest.fixture
def batch(comfy: Any) -> Path:
    folder = input_dir(comfy) / "batch"
    folder.mkdir()
    for i in range(3):
        (folder / f"img{i}.png").write_bytes(png((i, i, i)))
    (folder / "notes.txt").write_text("n")
    return folder


async def normalize(client: Any, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    resp = await client.post(f"{API}/paths/normalize", json=body)
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


async def test_normalize_reports_the_path_and_what_it_holds(client: Any, comfy: Any, batch: Path) -> None:
    answer = await normalize(client, {"path": f' "{batch}/"\n', "workflow": "smoke-image"})
    assert answer == {"input": f' "{batch}/"\n', "path": str(batch), "allowed": True, "exists": True,
                      "kind": "folder", "root": str(input_dir(comfy)), "workflow": "smoke-image",
                      "extensions": [".bmp", ".jpeg", ".jpg", ".png", ".webp"], "matching_files": 3}
    file = await normalize(client, {"path": str(batch / "notes.txt"), "workflow": "smoke-image"})
    assert (file["kind"], file["matching_files"]) == ("file", 0)
    missing = await normalize(client, {"path": str(batch / "nope")})
    assert (missing["exists"], missing["kind"], missing["matching_files"]) == (False, None, None)
    err = (await normalize(client, {"path": str(batch), "workflow": "nope"}, 404))["error"]
    assert "smoke-image" in err["message"]


async def test_normalize_refuses_paths_outside_the_roots_naming_them(client: Any, comfy: Any) -> None:
    err = (await normalize(client, {"path": "/etc"}, 403))["error"]
    assert err["code"] == "path_not_allowed" and err["details"]["allowed"] is False
    assert str(input_dir(comfy)) in err["message"] and "VQ_ALLOWED_ROOTS" in err["message"]
    assert err["details"]["roots"] == [str(input_dir(comfy)), comfy.paths.output_directory]
    err = (await normalize(client, {"path": "relative/path"}, 400))["error"]
    assert "full path" in err["message"]


# --- browsing -------------------------------------------------------------------------------


async def browse(client: Any, status: int = 200, **params: str) -> dict[str, Any]:
    resp = await client.get(f"{API}/browse", params=params)
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


async def test_browse_starts_in_the_input_folder(client: Any, comfy: Any, batch: Path) -> None:
    (input_dir(comfy) / ".cache").mkdir()
    (input_dir(comfy) / "_processed").mkdir()
    listing = await browse(client)
    assert listing["path"] == listing["root"] == str(input_dir(comfy)) and listing["parent"] is None
    assert listing["roots"] == [str(input_dir(comfy)), comfy.paths.output_directory]
    folders = {f["name"]: f for f in listing["folders"]}
    assert folders["batch"]["file_count"] == 3
    assert folders[".cache"]["hidden"] and folders["_processed"]["processed"]
    assert [f["name"] for f in listing["files"]] == ["vq_smoke.png"]


async def test_browse_lists_files_with_sizes_times_and_thumbnails(client: Any, batch: Path) -> None:
    listing = await browse(client, path=str(batch), workflow="smoke-image")
    assert listing["parent"] == str(batch.parent)
    assert [f["name"] for f in listing["files"]] == ["img0.png", "img1.png", "img2.png"]
    item = listing["files"][0]
    assert item["size"] == (batch / "img0.png").stat().st_size and item["mtime"].endswith("Z")
    resp = await client.get("/api" + item["thumbnail_url"])
    assert resp.status == 200 and resp.content_type == "image/webp"
    assert Image.open(io.BytesIO(await resp.read())).size == (40, 30)
    again = await client.get("/api" + item["thumbnail_url"], headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    txt = await browse(client, path=str(batch), extensions="txt")
    assert [(f["name"], f["thumbnail_url"]) for f in txt["files"]] == [("notes.txt", None)]


async def test_thumbnails_of_big_images_are_small_and_bad_images_are_refused(client: Any, batch: Path) -> None:
    Image.new("RGB", (1600, 900), (9, 9, 9)).save(batch / "wide.jpg", quality=80)
    resp = await client.get(f"{API}/thumbnail", params={"path": str(batch / "wide.jpg"), "size": "128"})
    assert Image.open(io.BytesIO(await resp.read())).size == (128, 72)
    (batch / "broken.png").write_bytes(b"not a png at all")
    for name, status in (("broken.png", 415), ("notes.txt", 415), ("gone.png", 404)):
        resp = await client.get(f"{API}/thumbnail", params={"path": str(batch / name)})
        assert resp.status == status, name


async def test_browse_navigation_stops_at_the_root(client: Any, comfy: Any) -> None:
    output = await browse(client, path=comfy.paths.output_directory)
    assert output["root"] == comfy.paths.output_directory and output["parent"] is None
    await browse(client, 403, path=str(input_dir(comfy).parent))
    await browse(client, 404, path=str(input_dir(comfy) / "missing"))


# --- nothing outside the allowed roots ------------------------------------------------------


@pytest.fixture
def outside(comfy: Any, tmp_path: Path) -> Path:
    """A secret folder next to ComfyUI, reachable only through symlinks inside input/."""
    secret = tmp_path / "secret"
    secret.mkdir()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(secret / "private.png")
    (input_dir(comfy) / "linked").symlink_to(secret, target_is_directory=True)
    (input_dir(comfy) / "leak.png").symlink_to(secret / "private.png")
    return secret


TRAVERSALS = [
    "/etc", "/etc/passwd", "{input}/../../../../etc/passwd", "{input}/batch/../../..", "file:///etc/passwd",
    "~", "{input}/linked", "{input}/linked/private.png", "{input}/leak.png", "{secret}", "{input}/../secret",
]


def expand(raw: str, comfy: Any, secret: Path) -> str:
    return raw.format(input=input_dir(comfy), secret=secret)


@pytest.mark.parametrize("raw", TRAVERSALS)
async def test_no_route_reads_lists_or_stages_outside_the_roots(client: Any, comfy: Any, outside: Path,
                                                                batch: Path, raw: str) -> None:
    path = expand(raw, comfy, outside)
    before = all_files(input_dir(comfy))
    calls = [
        ("POST", "/paths/normalize", {"json": {"path": path}}),
        ("GET", "/browse", {"params": {"path": path}}),
        ("GET", "/thumbnail", {"params": {"path": path}}),
        ("POST", "/jobs", {"json": {"workflow": "smoke-image", "input": path}}),
        ("POST", "/jobs", {"json": {"workflow": "smoke-image", "input": [path], "dry_run": True}}),
    ]
    for method, route, kwargs in calls:
        resp = await client.request(method, API + route, **kwargs)
        answer = await resp.json()
        assert resp.status == 403, (route, resp.status, answer)
        # A refusal names the path and the roots, never what lies there.
        assert list(answer) == ["error"] and answer["error"]["code"] == "path_not_allowed"
        assert "root:x:" not in json.dumps(answer)
    assert all_files(input_dir(comfy)) == before, "nothing was staged"


@pytest.mark.parametrize(("subfolder", "status"), [
    ("..", 400), ("../escape", 400), ("a/../../b", 400), ("../../../tmp", 400),
    ("linkdir", 403), ("linkdir/deeper", 403), (".hidden", 400), ("a\\..\\..", 400), ("a/" * 9, 400),
])
async def test_upload_subfolders_cannot_leave_the_uploads_folder(client: Any, comfy: Any, outside: Path,
                                                                subfolder: str, status: int) -> None:
    uploads_dir(comfy).mkdir(parents=True)
    (uploads_dir(comfy) / "linkdir").symlink_to(outside, target_is_directory=True)
    await upload(client, png(), "x.png", status, subfolder=subfolder)
    assert sorted(p.name for p in outside.iterdir()) == ["private.png"]


async def test_a_leading_slash_in_a_subfolder_is_relative_to_the_uploads_folder(client: Any, comfy: Any) -> None:
    answer = await upload(client, png(), "x.png", subfolder="/etc")
    assert answer["subfolder"] == "vq/uploads/etc" and Path(answer["path"]).parent == uploads_dir(comfy) / "etc"


async def test_browsing_never_shows_what_symlinks_lead_to_outside(client: Any, comfy: Any, outside: Path) -> None:
    listing = await browse(client)
    shown = {f["name"] for f in listing["folders"]} | {f["name"] for f in listing["files"]}
    assert "linked" not in shown and "leak.png" not in shown


async def test_a_folder_submit_does_not_stage_symlinks_that_lead_outside(client: Any, comfy: Any, outside: Path,
                                                                        batch: Path) -> None:
    (batch / "zz_leak.png").symlink_to(outside / "private.png")
    resp = await client.post(f"{API}/jobs", json={"workflow": "smoke-image", "input": str(batch), "dry_run": True})
    answer = await resp.json()
    assert resp.status in (200, 403), answer
    if resp.status == 200:
        assert [Path(p["input_file"]).name for p in answer["prompts"]] == ["img0.png", "img1.png", "img2.png"]


async def test_staging_settings_show_in_health(client: Any) -> None:
    settings = (await (await client.get(f"{API}/health")).json())["settings"]
    assert settings["stage_on_submit"] is True and settings["upload_max_bytes"] == LIMIT
    assert (settings["staging_retention_days"], settings["staging_sweep_hours"]) == (7, 0)


async def test_an_interrupted_upload_leaves_no_partial_file(client: Any, comfy: Any) -> None:
    body, head = multipart(("file", "cut.png", png() + b"\0" * 100_000))
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write((f"POST {API}/uploads HTTP/1.1\r\nHost: {client.host}\r\nContent-Type: {head['Content-Type']}\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:60_000])
    await writer.drain()
    await wait_for(lambda: any(p.name.endswith(".part") for p in all_files(uploads_dir(comfy))), what="a .part file")
    writer.close()
    await wait_for(lambda: not all_files(uploads_dir(comfy)), what="the .part file to be removed")


async def test_a_disk_full_while_staging_leaves_no_staged_upload_behind(client: Any, comfy: Any, plugin: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploads are staged first (by link, no space needed); when the copy of another input then
    finds the disk full, the job is refused and the upload's staged link goes too."""
    answer = await upload(client, png(size=(48, 32)), "mine.png")
    other = input_dir(comfy) / "other.png"
    other.write_bytes(png((1, 2, 3)))

    def open_on_a_full_disk(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "x" in mode:  # creating a staged copy
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return builtins.open(path, mode, *args, **kwargs)

    # the staging module the plugin runs (ComfyUI loads it under the custom node's name)
    staging = sys.modules[type(plugin.app.submitter.stager).__module__]
    monkeypatch.setattr(staging, "open", open_on_a_full_disk, raising=False)
    resp = await client.post(f"{API}/jobs", json={"workflow": "smoke-image", "input": [answer["path"], str(other)]})
    body = await resp.json()
    assert resp.status == 503, body
    err = body["error"]
    assert err["code"] == "staging_unwritable" and "No space left" in err["message"], err
    assert all_files(input_dir(comfy) / "vq" / "staged") == set()
    assert Path(answer["path"]).is_file()  # the upload itself stays, for the next try
