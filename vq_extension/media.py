"""The one table of media file extensions vq knows, and what it calls the folder that
finished inputs move to. The sidebar's copy is ``web/js/media.js`` (a test keeps them equal)."""

from __future__ import annotations

import os

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".jfif", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v", ".3gp"})
AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac"})
MESH_EXTENSIONS = frozenset({".glb", ".gltf", ".obj", ".fbx", ".ply", ".stl"})
KINDS = (("image", IMAGE_EXTENSIONS), ("video", VIDEO_EXTENSIONS), ("audio", AUDIO_EXTENSIONS),
         ("3d", MESH_EXTENSIONS))

PROCESSED_DIR = "_processed"  # where finished inputs are moved (DESIGN §4); never an input itself


def media_kind(filename: str) -> str | None:
    """image, video, audio or 3d by the file's extension; None when vq does not know it."""
    ext = os.path.splitext(filename)[1].lower()
    return next((kind for kind, extensions in KINDS if ext in extensions), None)
