"""ComfyUI history outputs -> vq's media list. Pure: directories come in as a callable.

ComfyUI reports files per output node as ``{"<key>": [{filename, subfolder, type}, ...]}``:
``images`` for SaveImage/PreviewImage and also for core SaveVideo/SaveWEBM/animated
saves (flagged by ``"animated": [true]``), ``audio`` for audio, ``gifs`` for
VideoHelperSuite's VHS_VideoCombine, ``3d`` for mesh savers. Every list-valued key is
scanned so unknown producers still show up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from ..media import media_kind

DirectoryForType = Callable[[str], "str | None"]


def output_kind(filename: str, fmt: str | None = None, key: str = "") -> str:
    """image, video, audio, 3d or other; by extension first, then by MIME-ish format."""
    kind = media_kind(filename)
    if kind is not None:
        return kind
    if fmt:
        family = fmt.split("/", 1)[0]
        if family in ("video", "image", "audio"):
            return family
    return "audio" if key == "audio" else "other"


def view_url(filename: str, subfolder: str, type_: str) -> str:
    """The ComfyUI /view URL (relative to the server root) that serves this file."""
    return "/view?" + urlencode({"filename": filename, "subfolder": subfolder, "type": type_})


def parse_outputs(
    outputs: Mapping[str, Any],
    meta: Mapping[str, Any] | None = None,
    directory_for_type: DirectoryForType | None = None,
) -> list[dict[str, Any]]:
    """Every file ComfyUI reported, in node order, as JSON-safe dicts."""
    media: list[dict[str, Any]] = []
    for node_id, ui in outputs.items():
        if not isinstance(ui, Mapping):
            continue
        node_meta = (meta or {}).get(node_id) or {}
        display_node = str(node_meta.get("display_node") or node_id)
        for key, items in ui.items():
            if key == "animated" or not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, Mapping) or not isinstance(item.get("filename"), str):
                    continue
                media.append(_media(item, key, display_node, directory_for_type))
    return media


def _media(
    item: Mapping[str, Any], key: str, node: str, directory_for_type: DirectoryForType | None
) -> dict[str, Any]:
    filename = item["filename"]
    subfolder = str(item.get("subfolder") or "")
    type_ = str(item.get("type") or "output")  # newer versions also report input/temp videos
    fmt = item.get("format") if isinstance(item.get("format"), str) else None
    return {
        "kind": output_kind(filename, fmt, key),
        "filename": filename,
        "subfolder": subfolder,
        "type": type_,
        "node": node,
        "format": fmt,
        "url": view_url(filename, subfolder, type_),
        "path": _safe_path(directory_for_type, type_, subfolder, filename),
    }


def _safe_path(directory_for_type: DirectoryForType | None, type_: str, subfolder: str, filename: str) -> str | None:
    """The file's absolute path, or None when the type is unknown or the name escapes its
    directory (a misbehaving node must not make vq point at arbitrary files)."""
    if directory_for_type is None:
        return None
    base = directory_for_type(type_)
    if not base:
        return None
    base = os.path.realpath(base)
    path = os.path.realpath(os.path.join(base, subfolder, filename))
    if os.path.commonpath([base, path]) != base:
        return None
    return path
