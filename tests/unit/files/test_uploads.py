"""Uploads: sanitized unique names, content sniffing, limits, reuse, concurrency."""

from __future__ import annotations

import asyncio
import hashlib
import os
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vq_extension.files.uploads import (
    UnsupportedMedia,
    UploadTooLarge,
    sanitize_filename,
    save_upload,
    sniff_media,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(50)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(50)
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(40)


def png(tag: str) -> bytes:
    return PNG + tag.encode() * 100


async def chunks(data: bytes, size: int = 7, pause: bool = False) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        if pause:
            await asyncio.sleep(0)  # let concurrent uploads interleave
        yield data[i : i + size]


async def save(directory: Path, name: str, data: bytes, **kw):
    kw.setdefault("max_bytes", 10_000_000)
    return await save_upload(chunks(data, **kw.pop("chunking", {})), directory, name, **kw)


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


# -- sanitize_filename ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("clip.png", "clip.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\fakepath\\photo.png", "photo.png"),
        ("a/b\\c.png", "c.png"),
        ("a\x00b\nc\t.png", "abc.png"),
        ("gnp\u202e.exe", "gnp.exe"),  # right-to-left override removed
        ("a:b?<c>|*.png", "a_b__c___.png"),
        ("CON.png", "_CON.png"),
        ("nul", "_nul"),
        ("com1.jpg", "_com1.jpg"),
        ("console.png", "console.png"),
        (".bashrc", "bashrc"),
        ("...", "upload"),
        ("", "upload"),
        ("  spaced name .png  ", "spaced name .png"),
        ("trailing. ", "trailing"),
        ("画像 ü 🎬.png", "画像 ü 🎬.png"),
        ("👨\u200d👩\u200d👧.png", "👨\u200d👩\u200d👧.png"),  # zero-width joiners stay
    ],
)
def test_sanitize_filename(raw, expected):
    assert sanitize_filename(raw) == expected


def test_sanitize_composes_decomposed_unicode():
    decomposed = unicodedata.normalize("NFD", "café.png")
    assert sanitize_filename(decomposed) == "café.png"


def test_sanitize_truncates_long_names_keeping_extension():
    name = sanitize_filename("é" * 300 + ".png")
    assert name.endswith(".png")
    assert len(name.encode()) <= 200
    assert name.startswith("é")


# -- sniff_media ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PNG, "image"),
        (JPEG, "image"),
        (b"GIF89a" + bytes(20), "image"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(20), "image"),
        (b"BM" + bytes(12) + (40).to_bytes(4, "little") + bytes(20), "image"),
        (b"II*\x00" + bytes(20), "image"),
        (b"MM\x00*" + bytes(20), "image"),
        (MP4, "video"),
        (b"\x00\x00\x00\x14ftypqt  " + bytes(20), "video"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm" + bytes(20), "video"),
        (b"\x1a\x45\xdf\xa3" + b"matroska" + bytes(20), "video"),
        (b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(20), "video"),
        (b"BMW is a car brand and this is text", None),
        (b"\x00\x00\x00\x1cftypheic" + bytes(20), None),
        (b"\x00\x00\x00\x1cftypM4A " + bytes(20), None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(20), None),
        (b"%PDF-1.7", None),
        (b"<html><script>", None),
        (b"", None),
    ],
)
def test_sniff_media(head, kind):
    assert sniff_media(head) == kind


# -- save_upload ----------------------------------------------------------------------

async def test_saves_with_original_name_hash_and_size(tmp_path):
    data = png("a")
    saved = await save(tmp_path, "My Clip.png", data)
    assert saved.name == "My Clip.png"
    assert saved.original_filename == "My Clip.png"
    assert saved.path == tmp_path / "My Clip.png"
    assert saved.path.read_bytes() == data
    assert saved.sha256 == hashlib.sha256(data).hexdigest()
    assert saved.size == len(data)
    assert saved.reused is False
    assert saved.subfolder == ""
    assert listing(tmp_path) == ["My Clip.png"]  # no temp file left


async def test_repeated_name_gets_numbered_and_never_overwrites(tmp_path):
    names = [(await save(tmp_path, "clip.png", png(str(i)))).name for i in range(4)]
    assert names == ["clip.png", "clip__2.png", "clip__3.png", "clip__4.png"]
    for i, name in enumerate(names):
        assert (tmp_path / name).read_bytes() == png(str(i))


async def test_existing_foreign_file_is_kept(tmp_path):
    (tmp_path / "clip.png").write_bytes(b"not ours")
    saved = await save(tmp_path, "clip.png", png("a"))
    assert saved.name == "clip__2.png"
    assert (tmp_path / "clip.png").read_bytes() == b"not ours"


async def test_same_name_in_different_subfolders(tmp_path):
    a = await save(tmp_path / "vq" / "a", "clip.png", png("a"), base_dir=tmp_path)
    b = await save(tmp_path / "vq" / "b", "clip.png", png("b"), base_dir=tmp_path)
    assert (a.name, a.subfolder) == ("clip.png", "vq/a")
    assert (b.name, b.subfolder) == ("clip.png", "vq/b")
    top = await save(tmp_path, "clip.png", png("c"), base_dir=tmp_path)
    assert top.subfolder == ""


async def test_unicode_and_path_components(tmp_path):
    saved = await save(tmp_path, "../../画像/猫 ü.png", png("a"))
    assert saved.name == "猫 ü.png"
    assert saved.path.parent == tmp_path
    assert saved.original_filename == "../../画像/猫 ü.png"


async def test_extension_follows_content(tmp_path):
    assert (await save(tmp_path, "photo", png("a"))).name == "photo.png"
    assert (await save(tmp_path, "clip.txt", png("b"))).name == "clip.txt.png"
    assert (await save(tmp_path, "pic.jpg", png("c"))).name == "pic.jpg"  # still an image
    assert (await save(tmp_path, "movie.png", MP4)).name == "movie.png.mp4"


async def test_size_limit(tmp_path):
    with pytest.raises(UploadTooLarge) as info:
        await save(tmp_path, "big.png", png("a"), max_bytes=100)
    assert info.value.limit == 100
    assert listing(tmp_path) == []
    exact = png("a")
    assert (await save(tmp_path, "ok.png", exact, max_bytes=len(exact))).size == len(exact)


async def test_content_is_refused_early_whatever_the_name(tmp_path):
    consumed = 0

    async def endless_text() -> AsyncIterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield b"<html>" + b"x" * 1000

    with pytest.raises(UnsupportedMedia) as info:
        await save_upload(endless_text(), tmp_path, "evil.png", max_bytes=10**9)
    assert "HTML" in info.value.detected and "HTML" in str(info.value)
    assert consumed == 1
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    ("data", "detected"),
    [(b"", "empty"), (b"%PDF-1.4 short", "PDF"), (b"\x00\x00\x00\x1cftypheic" + bytes(60), "HEIC")],
)
async def test_refusal_names_what_was_found(tmp_path, data, detected):
    with pytest.raises(UnsupportedMedia, match=detected):
        await save(tmp_path, "x.png", data)
    assert listing(tmp_path) == []


async def test_identical_content_is_reused(tmp_path):
    first = await save(tmp_path, "clip.png", png("a"))
    second = await save(tmp_path, "clip.png", png("b"))
    again = await save(tmp_path, "clip.png", png("b"))
    assert (second.name, again.name) == ("clip__2.png", "clip__2.png")
    assert again.reused and not first.reused and not second.reused
    assert again.sha256 == second.sha256
    assert listing(tmp_path) == ["clip.png", "clip__2.png"]


async def test_identical_content_under_another_name_is_not_reused(tmp_path):
    await save(tmp_path, "a.png", png("a"))
    saved = await save(tmp_path, "b.png", png("a"))
    assert (saved.name, saved.reused) == ("b.png", False)


async def test_symlink_in_the_family_is_never_reused_or_replaced(tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(png("a"))
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "clip.png").symlink_to(outside)
    saved = await save(folder, "clip.png", png("a"))
    assert (saved.name, saved.reused) == ("clip__2.png", False)
    assert (folder / "clip.png").is_symlink()


async def test_concurrent_same_name_uploads_never_overwrite(tmp_path):
    datas = [png(f"n{i}") for i in range(24)]
    saved = await asyncio.gather(
        *(save(tmp_path, "clip.png", d, chunking={"pause": True, "size": 50}) for d in datas)
    )
    names = [s.name for s in saved]
    assert len(set(names)) == len(datas)
    assert set(names) == {"clip.png"} | {f"clip__{i}.png" for i in range(2, 25)}
    for s, d in zip(saved, datas):
        assert s.path.read_bytes() == d
    assert len(listing(tmp_path)) == len(datas)


async def test_concurrent_identical_uploads_keep_one_valid_file_each(tmp_path):
    data = png("same")
    saved = await asyncio.gather(*(save(tmp_path, "clip.png", data) for _ in range(8)))
    for s in saved:
        assert s.path.read_bytes() == data
    # Racing uploads may each take a name before seeing the other; none is overwritten.
    assert 1 <= len(listing(tmp_path)) <= 8


async def test_cancelled_upload_leaves_no_temp_file(tmp_path):
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield PNG
        started.set()
        await asyncio.Event().wait()  # a client that stops sending, until cancelled
        yield b"never"

    task = asyncio.create_task(save_upload(slow(), tmp_path, "c.png", max_bytes=10**6))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert listing(tmp_path) == []


async def test_large_upload_streams_in_batches(tmp_path):
    data = PNG + os.urandom(3 * (1 << 20) + 17)
    saved = await save(tmp_path, "big.png", data, chunking={"size": 65536})
    assert saved.path.read_bytes() == data
    assert saved.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("same_content", [False, True])
async def test_name_taken_after_the_scan(tmp_path, monkeypatch, same_content):
    # The race window: another upload links `clip.png` between our scan and our link.
    (tmp_path / "clip.png").write_bytes(png("a") if same_content else png("other"))
    real_scandir = os.scandir

    def stale_scandir(path):
        return real_scandir(tmp_path / "empty")

    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(os, "scandir", stale_scandir)
    saved = await save(tmp_path, "clip.png", png("a"))
    assert saved.name == ("clip.png" if same_content else "clip__2.png")
    assert saved.reused is same_content
    assert (tmp_path / "clip.png").read_bytes() == (png("a") if same_content else png("other"))
