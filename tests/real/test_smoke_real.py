"""Proves the real-ComfyUI harness: ComfyUI is up with the plugin loaded from
custom_nodes/video-queue, and its web files are served under /extensions/video-queue/."""

import re


def test_comfyui_up_and_plugin_loaded(real_comfy):
    stats = real_comfy.get_json("/system_stats")
    assert stats["system"]["comfyui_version"]

    # Every *.js under WEB_DIRECTORY is listed, prefixed with the custom_nodes folder name.
    extensions = real_comfy.get_json("/extensions")
    ours = [e for e in extensions if e.startswith(f"/extensions/{real_comfy.node_name}/")]
    assert ours, f"no /extensions/{real_comfy.node_name}/ entry in {extensions}"
    status, body = real_comfy.get(ours[0])
    assert status == 200 and body, f"GET {ours[0]} -> {status}"

    log = real_comfy.log_text()
    # The import-times block lists "<seconds> seconds: <path>/custom_nodes/video-queue",
    # with "(IMPORT FAILED)" before the path when the package failed.
    suffix = f"/custom_nodes/{real_comfy.node_name}"
    timing = [line for line in log.splitlines()
              if re.search(r"\d seconds", line) and line.rstrip().endswith(suffix)]
    assert timing, f"{suffix} not in the import times of the log:\n{log[-4000:]}"
    assert not any("IMPORT FAILED" in line for line in timing), timing
    cannot = [line for line in log.splitlines()
              if "Cannot import" in line and real_comfy.node_name in line]
    assert not cannot, cannot
