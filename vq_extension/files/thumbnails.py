"""Small WebP thumbnails of images in the allowed roots, and the URLs the browser asks them by."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import UnsupportedMedia

THUMB_PIXELS = 100_000_000  # refuse to decode larger images just for a thumbnail


@dataclass(frozen=True)
class Thumbnail:
    etag: str
    data: bytes | None  # None: the client's copy (If-None-Match) is current


def thumb_url(path: Path) -> str:
    """Relative to the API base, like ComfyUI's own /view URLs (the UI adds /api)."""
    try:
        st = path.stat()
        version = f"{st.st_mtime_ns:x}-{st.st_size:x}"
    except OSError:
        version = "0"
    return "/vq/v1/thumbnail?" + urlencode({"path": str(path), "v": version})


def render_thumbnail(path: Path, size: int) -> bytes:
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > THUMB_PIXELS:
                raise UnsupportedMedia(f"{path.name} is {width}x{height} pixels, too large to make a thumbnail of")
            img.draft("RGB", (size, size))  # JPEG: decode at a fraction of the size
            small = ImageOps.exif_transpose(img) or img
            small.thumbnail((size, size))
            if small.mode not in ("RGB", "RGBA"):
                alpha = "A" in small.getbands() or "transparency" in small.info
                small = small.convert("RGBA" if alpha else "RGB")
            out = io.BytesIO()
            small.save(out, "WEBP", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedMedia(f"{path.name} cannot be read as an image ({exc})") from None
