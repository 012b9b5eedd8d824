"""Images as LM Studio wants them: base64 ``data:`` URLs of PNG or JPEG, downscaled.

LM Studio fetches no http URLs and rejects WebP (reference section 2.4), and a vision
model gains nothing from more pixels than ~1000 on the long side while prefill time grows
with every one of them. Synchronous (Pillow); callers run it in a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import AutopromptError

JPEG_QUALITY = 90


class UnreadableImage(AutopromptError):
    status = 400
    code = "invalid_image"


def content_hash(path: Path) -> str:
    """sha256 of the file's bytes: the cache key of its caption, whatever the file is called."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:  # gone or unreadable since the request was checked: this image fails alone
        raise UnreadableImage(f"cannot read {path}: {exc.strerror or exc}", stage="caption") from exc
    return digest.hexdigest()


def image_data_url(path: Path, long_side: int) -> str:
    """The image, upright (EXIF orientation applied), no larger than ``long_side`` pixels on
    its long side, as a PNG (sources with transparency or already PNG: lossless stays
    lossless) or JPEG (everything else: photos compress ~10x better) data URL."""
    try:
        with Image.open(path) as opened:
            source_format = opened.format
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"cannot read {path} as an image: {exc}", stage="caption") from exc
    if max(image.size) > long_side:
        image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    alpha = _has_alpha(image)
    as_png = alpha or source_format == "PNG"
    # 16-bit, CMYK, palette and grey sources all become plain 8-bit RGB(A), which every
    # vision model's preprocessor reads.
    image = image.convert("RGBA" if alpha else "RGB")
    buffer = io.BytesIO()
    if as_png:
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    mime = "image/png" if as_png else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
