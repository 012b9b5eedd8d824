"""Images become PNG or JPEG data URLs, downscaled to the long side, upright, WebP converted."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from tests.unit.autoprompt.conftest import ImageMaker
from vq_extension.autoprompt.images import UnreadableImage, content_hash, image_data_url


def decode(url: str) -> tuple[str, Image.Image]:
    head, data = url.split(",", 1)
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    image.load()
    return head, image


def test_large_jpeg_is_downscaled_keeping_its_aspect(make_image: ImageMaker) -> None:
    head, image = decode(image_data_url(make_image("big.jpg", size=(3000, 2000)), 1024))
    assert head == "data:image/jpeg;base64" and image.format == "JPEG" and image.size == (1024, 683)


def test_small_png_keeps_its_size_and_format(make_image: ImageMaker) -> None:
    head, image = decode(image_data_url(make_image("small.png", size=(300, 200)), 1024))
    assert head == "data:image/png;base64" and image.size == (300, 200)


def test_portrait_long_side_is_the_height(make_image: ImageMaker) -> None:
    _head, image = decode(image_data_url(make_image("tall.png", size=(500, 2000)), 512))
    assert image.size == (128, 512)


@pytest.mark.parametrize("name, mode, color, mime", [
    ("photo.webp", "RGB", (0, 128, 255), "image/jpeg"),  # LM Studio rejects WebP (section 2.4)
    ("alpha.webp", "RGBA", (0, 128, 255, 100), "image/png"),  # transparency survives, losslessly
    ("scan.bmp", "L", 128, "image/jpeg"),
    ("cmyk.jpg", "CMYK", (0, 0, 0, 0), "image/jpeg"),
])
def test_other_formats_become_png_or_jpeg(make_image: ImageMaker, name: str, mode: str, color: object,
                                          mime: str) -> None:
    head, image = decode(image_data_url(make_image(name, color, mode=mode), 1024))
    assert head == f"data:{mime};base64" and image.mode in ("RGB", "RGBA")


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": a phone photo taken upright
    Image.new("RGB", (400, 100), (10, 20, 30)).save(path, exif=exif)
    _head, image = decode(image_data_url(path, 1024))
    assert image.size == (100, 400)


def test_unreadable_file_is_a_400_on_the_caption_stage(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(UnreadableImage) as caught:
        image_data_url(path, 1024)
    assert caught.value.status == 400 and caught.value.stage == "caption"


def test_content_hash_follows_bytes_not_names(make_image: ImageMaker) -> None:
    a = make_image("a.png", (1, 2, 3))
    b = make_image("b.png", (1, 2, 3))
    c = make_image("c.png", (3, 2, 1))
    assert content_hash(a) == content_hash(b) != content_hash(c)


def test_a_vanished_file_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImage):
        content_hash(tmp_path / "gone.png")
