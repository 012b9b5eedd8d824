"""History outputs -> vq's media list (comfy/outputs.py), on real ComfyUI 0.8.0 histories
and on the shapes the integration brief (§4.2, §8 "Output reporting") lists."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fixtures.fakecomfy.captured import load_comfy_json
from vq_extension.comfy.outputs import _safe_path, output_kind, parse_outputs, view_url

Dirs = Callable[[str], "str | None"]


@pytest.fixture(scope="module")
def responses() -> dict[str, Any]:
    return load_comfy_json("responses-0.8.0.json")


def history_entry(responses: dict[str, Any], name: str) -> dict[str, Any]:
    """The single entry of a recorded ``GET /history/<id>`` body."""
    (entry,) = responses[f"{name}.history"].values()
    return entry


@pytest.fixture
def roots(tmp_path: Path) -> dict[str, Path]:
    base = Path(os.path.realpath(tmp_path))
    found = {name: base / name for name in ("output", "temp", "input", "outside")}
    for p in found.values():
        p.mkdir()
    return found


@pytest.fixture
def dirs(roots: dict[str, Path]) -> Dirs:
    """Like ``folder_paths.get_directory_by_type``: None for any other type."""

    def directory_for_type(type_: str) -> str | None:
        return str(roots[type_]) if type_ in ("output", "temp", "input") else None

    return directory_for_type


def expected(
    filename: str, subfolder: str, type_: str, node: str, kind: str, path: Path | None, fmt: str | None = None
) -> dict[str, Any]:
    return {
        "kind": kind,
        "filename": filename,
        "subfolder": subfolder,
        "type": type_,
        "node": node,
        "format": fmt,
        "url": view_url(filename, subfolder, type_),
        "path": None if path is None else str(path),
    }


# --- recorded histories ---------------------------------------------------------------


def test_recorded_upscale_save_image(responses: dict[str, Any], dirs: Dirs, roots: dict[str, Path]) -> None:
    entry = history_entry(responses, "upscale")
    assert parse_outputs(entry["outputs"], entry["meta"], dirs) == [
        expected("upscale_00001_.png", "vq_smoke", "output", "3", "image",
                 roots["output"] / "vq_smoke" / "upscale_00001_.png"),
    ]


@pytest.mark.parametrize(
    ("name", "node", "filename"),
    [("video_mp4", "6", "video_00001_.mp4"), ("video_webm", "5", "webm_00001_.webm")],
    ids=["SaveVideo mp4", "SaveWEBM"],
)
def test_recorded_core_video_savers_list_the_video_under_images(
    responses: dict[str, Any], dirs: Dirs, roots: dict[str, Path], name: str, node: str, filename: str
) -> None:
    entry = history_entry(responses, name)
    ui = entry["outputs"][node]
    assert ui["animated"] == [True] and "videos" not in ui  # the shape the parser relies on
    assert parse_outputs(entry["outputs"], entry["meta"], dirs) == [
        expected(filename, "vq_smoke", "output", node, "video", roots["output"] / "vq_smoke" / filename),
    ]


@pytest.mark.parametrize("name", ["exec_error_corrupt_image", "interrupt_slow"])
def test_recorded_failed_and_interrupted_runs_have_no_media(responses: dict[str, Any], dirs: Dirs, name: str) -> None:
    entry = history_entry(responses, name)
    assert parse_outputs(entry["outputs"], entry.get("meta"), dirs) == []


# --- shapes from the integration brief ------------------------------------------------


def test_vhs_gifs_entry_is_a_video_and_fullpath_is_ignored(dirs: Dirs, roots: dict[str, Path]) -> None:
    outputs = {
        "9": {
            "gifs": [
                {
                    "filename": "wan_00003.mp4",
                    "subfolder": "vids",
                    "type": "output",
                    "format": "video/h264-mp4",
                    "frame_rate": 16.0,
                    "workflow": "wan_00003.png",
                    "fullpath": str(roots["outside"] / "wan_00003.mp4"),
                }
            ]
        }
    }
    (media,) = parse_outputs(outputs, None, dirs)
    assert media == expected("wan_00003.mp4", "vids", "output", "9", "video",
                             roots["output"] / "vids" / "wan_00003.mp4", fmt="video/h264-mp4")
    assert "fullpath" not in media


def test_vhs_format_decides_when_the_extension_is_unknown(dirs: Dirs) -> None:
    outputs = {"9": {"gifs": [{"filename": "clip.h264", "subfolder": "", "type": "temp", "format": "video/h264-mp4"}]}}
    (media,) = parse_outputs(outputs, None, dirs)
    assert (media["kind"], media["type"], media["format"]) == ("video", "temp", "video/h264-mp4")


def test_audio_and_3d(dirs: Dirs, roots: dict[str, Path]) -> None:
    outputs = {
        "4": {"audio": [{"filename": "voice_00001_.flac", "subfolder": "audio", "type": "output"}]},
        "7": {"3d": [{"filename": "mesh_00001_.glb", "subfolder": "3d", "type": "output"}]},
        "8": {"audio": [{"filename": "noext", "subfolder": "", "type": "output"}]},
    }
    assert parse_outputs(outputs, None, dirs) == [
        expected("voice_00001_.flac", "audio", "output", "4", "audio", roots["output"] / "audio" / "voice_00001_.flac"),
        expected("mesh_00001_.glb", "3d", "output", "7", "3d", roots["output"] / "3d" / "mesh_00001_.glb"),
        expected("noext", "", "output", "8", "audio", roots["output"] / "noext"),  # kind from the key
    ]


def test_unknown_list_keys_are_scanned(dirs: Dirs) -> None:
    outputs = {"3": {"some_new_key": [{"filename": "thing.bin", "subfolder": "", "type": "output"},
                                      {"filename": "frame.webp", "subfolder": "", "type": "output"}]}}
    assert [(m["kind"], m["filename"]) for m in parse_outputs(outputs, None, dirs)] == [
        ("other", "thing.bin"),
        ("image", "frame.webp"),
    ]


def test_things_that_are_not_file_items_are_skipped(dirs: Dirs) -> None:
    outputs: dict[str, Any] = {
        "1": None,  # not a ui dict
        "2": ["not", "a", "dict"],
        "3": {
            "text": ["a caption", 42, None],  # non-dict items
            "animated": [{"filename": "never.png"}],  # the animated flag list is never media
            "images": [{"subfolder": "x"}, {"filename": 7}, {"filename": "kept.png"}],
            "value": "scalar",  # not a list
            "nested": {"images": [{"filename": "deep.png"}]},  # not a list
        },
    }
    (media,) = parse_outputs(outputs, None, dirs)
    assert (media["filename"], media["subfolder"], media["type"], media["node"]) == ("kept.png", "", "output", "3")


def test_node_order_is_kept(dirs: Dirs) -> None:
    outputs = {
        "20": {"images": [{"filename": "b.png", "subfolder": "", "type": "output"}]},
        "3": {"images": [{"filename": "a1.png", "subfolder": "", "type": "output"},
                         {"filename": "a2.png", "subfolder": "", "type": "output"}]},
    }
    assert [m["filename"] for m in parse_outputs(outputs, None, dirs)] == ["b.png", "a1.png", "a2.png"]


@pytest.mark.parametrize("type_", ["temp", "input"])
def test_temp_and_input_types_resolve_in_their_own_directory(dirs: Dirs, roots: dict[str, Path], type_: str) -> None:
    outputs = {"5": {"images": [{"filename": "preview.mp4", "subfolder": "sub", "type": type_}], "animated": [True]}}
    (media,) = parse_outputs(outputs, None, dirs)
    assert media == expected("preview.mp4", "sub", type_, "5", "video", roots[type_] / "sub" / "preview.mp4")


def test_unknown_type_has_no_path_and_missing_type_means_output(dirs: Dirs, roots: dict[str, Path]) -> None:
    outputs = {"5": {"images": [{"filename": "a.png", "subfolder": "", "type": "remote"},
                                {"filename": "b.png"}]}}
    a, b = parse_outputs(outputs, None, dirs)
    assert (a["type"], a["path"]) == ("remote", None)
    assert (b["type"], b["subfolder"], b["path"]) == ("output", "", str(roots["output"] / "b.png"))


def test_without_directories_there_are_no_paths() -> None:
    (media,) = parse_outputs({"1": {"images": [{"filename": "a.png", "subfolder": "", "type": "output"}]}})
    assert media["path"] is None and media["url"] == "/view?filename=a.png&subfolder=&type=output"


def test_meta_display_node_names_the_canvas_node(dirs: Dirs) -> None:
    outputs = {
        "12:3": {"images": [{"filename": "sub.png", "subfolder": "", "type": "output"}]},  # inside a subgraph
        "7": {"images": [{"filename": "top.png", "subfolder": "", "type": "output"}]},
        "8": {"images": [{"filename": "nometa.png", "subfolder": "", "type": "output"}]},
    }
    meta = {
        "12:3": {"node_id": "12:3", "display_node": "12", "parent_node": "12", "real_node_id": "3"},
        "7": {"node_id": "7", "display_node": "7", "parent_node": None, "real_node_id": "7"},
        "8": {"node_id": "8", "display_node": None},
    }
    assert [m["node"] for m in parse_outputs(outputs, meta, dirs)] == ["12", "7", "8"]


# --- media kinds and URLs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "fmt", "key", "kind"),
    [
        ("a.PNG", None, "images", "image"),
        ("a.mp4", None, "images", "video"),
        ("a.webm", "image/webp", "images", "video"),  # the extension wins over the format
        ("a.gif", "image/gif", "gifs", "image"),
        ("a.MOV", None, "gifs", "video"),
        ("a.wav", None, "images", "audio"),
        ("a.glb", None, "3d", "3d"),
        ("a", "audio/flac", "gifs", "audio"),
        ("a.bin", "application/octet-stream", "images", "other"),
        ("a.bin", None, "audio", "audio"),
        ("a.bin", None, "images", "other"),
    ],
)
def test_output_kind(filename: str, fmt: str | None, key: str, kind: str) -> None:
    assert output_kind(filename, fmt, key) == kind


def test_view_url_encodes_every_part() -> None:
    url = view_url("my clip #1 & co?.mp4", "wan/2026 ü", "temp")
    parts = urlsplit(url)
    assert parts.path == "/view" and parts.fragment == ""
    assert parse_qs(parts.query, keep_blank_values=True, strict_parsing=True) == {
        "filename": ["my clip #1 & co?.mp4"],
        "subfolder": ["wan/2026 ü"],
        "type": ["temp"],
    }
    assert view_url("a.png", "", "output") == "/view?filename=a.png&subfolder=&type=output"


# --- path containment -----------------------------------------------------------------


def test_safe_path_inside_the_directory(dirs: Dirs, roots: dict[str, Path]) -> None:
    assert _safe_path(dirs, "output", "a/b", "c.png") == str(roots["output"] / "a" / "b" / "c.png")
    # dot segments that stay inside are fine
    assert _safe_path(dirs, "output", "a", "../c.png") == str(roots["output"] / "c.png")


@pytest.mark.parametrize(
    ("subfolder", "filename"),
    [
        ("..", "x.png"),
        ("../outside", "x.png"),
        ("a/../../outside", "x.png"),
        ("", "../outside/x.png"),
        ("", "/etc/passwd"),
        ("/etc", "passwd"),
        ("", "../output-evil/x.png"),  # a sibling sharing the prefix is still outside
    ],
)
def test_safe_path_refuses_escapes(dirs: Dirs, subfolder: str, filename: str) -> None:
    assert _safe_path(dirs, "output", subfolder, filename) is None


def test_safe_path_refuses_symlink_escapes(dirs: Dirs, roots: dict[str, Path]) -> None:
    (roots["outside"] / "secret.png").write_bytes(b"x")
    (roots["output"] / "link_dir").symlink_to(roots["outside"])
    (roots["output"] / "link_file.png").symlink_to(roots["outside"] / "secret.png")
    assert _safe_path(dirs, "output", "link_dir", "secret.png") is None
    assert _safe_path(dirs, "output", "", "link_file.png") is None
    outputs = {"1": {"images": [{"filename": "secret.png", "subfolder": "link_dir", "type": "output"}]}}
    (media,) = parse_outputs(outputs, None, dirs)
    assert media["path"] is None and media["filename"] == "secret.png"  # still listed, never pointed at


def test_safe_path_follows_symlinks_that_stay_inside(dirs: Dirs, roots: dict[str, Path]) -> None:
    (roots["output"] / "real").mkdir()
    (roots["output"] / "alias").symlink_to(roots["output"] / "real")
    assert _safe_path(dirs, "output", "alias", "a.png") == str(roots["output"] / "real" / "a.png")


def test_safe_path_when_the_base_directory_is_a_symlink(tmp_path: Path, roots: dict[str, Path]) -> None:
    link = Path(os.path.realpath(tmp_path)) / "output-link"
    link.symlink_to(roots["output"])
    assert _safe_path(lambda t: str(link), "output", "s", "a.png") == str(roots["output"] / "s" / "a.png")


def test_safe_path_unknown_type_or_no_directories(dirs: Dirs) -> None:
    assert _safe_path(dirs, "remote", "", "a.png") is None
    assert _safe_path(lambda t: "", "output", "", "a.png") is None
    assert _safe_path(None, "output", "", "a.png") is None
