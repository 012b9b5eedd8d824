"""The Submit view in the real frontend (1.35.9) against the fake ComfyUI: modes and their
payloads (checked on the job the server created), drag/drop uploads, the folder browser,
split-workflow clips, LoRA rows, presets, workspaces, persistence, keyboard-only submit and
screenshots of every mode in both themes."""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
STORAGE_KEY = "vq.submit.form"


def png_bytes(i: int) -> bytes:
    """A small, distinct PNG (so uploads are not deduplicated into one file)."""
    import struct
    import zlib

    width, height = 8 + i, 8
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in ((x * 30 + i * 40) % 256, (y * 20) % 256, 128))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


DROP = """(zone, files) => {
  const dt = new DataTransfer();
  for (const [name, bytes] of files) dt.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
  zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
}"""


def drop_images(view, names: list[str], offset: int = 0) -> None:
    """Drop PNG files on the drop zone the way a browser does (a DataTransfer of Files)."""
    files = [[name, list(png_bytes(i + offset))] for i, name in enumerate(names)]
    view.locator("[data-testid=dropzone]").evaluate(DROP, files)


def open_submit(ui):
    ui.open_tab()
    ui.page.locator("[data-testid=tab-submit]").click()
    expect(ui.page.locator("[data-testid=submit-view]")).to_be_visible()
    return ui.page.locator("[data-testid=submit-view]")


def choose_mode(ui, mode: str, workflow: str | None = None):
    view = open_submit(ui)
    view.locator(f"[data-testid=mode-{mode}]").click()
    expect(view.locator(f"[data-testid=mode-{mode}]")).to_have_attribute("aria-selected", "true")
    select = view.locator("[data-testid=workflow-select]")
    expect(select).to_be_enabled()
    if workflow:
        select.select_option(workflow)
        expect(select).to_have_value(workflow)
        # The form and the inputs are rebuilt once that workflow's definition is in: typing
        # into the old ones would be lost with them.
        expect(view.locator("[data-testid=submit-form]")).to_have_attribute("data-workflow", workflow)
        expect(view.locator("[data-testid=submit-form] .vq-form-group").first).to_be_visible()
    return view


def submit_and_wait(ui, view, name: str) -> dict:
    """Name the job, submit it, wait for its own notice; answers the job the server made."""
    view.locator("[data-testid=option-name]").fill(name)
    view.locator("[data-testid=submit]").click()
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text(f"“{name}” queued", timeout=20000)
    jobs = ui.host.vq("GET", f"/jobs?search={urllib.parse.quote(name)}&sort=-created&limit=1")["jobs"]
    assert jobs and jobs[0]["name"] == name
    return ui.host.vq("GET", f"/jobs/{jobs[0]['id']}")


def test_batch_video_from_a_folder_submits_the_right_job(ui):
    folder = ui.host.call("POST", "/__harness/images", {"folder": "batch_a", "count": 3})["folder"]
    view = choose_mode(ui, "batch_video", "smoke-video")
    view.locator("[data-testid=folder-input]").fill(folder)
    expect(view.locator("[data-testid=input-status]")).to_contain_text("3 images will be queued")
    view.locator("[data-testid=option-tries]").fill("2")
    view.locator("[data-testid=option-tries]").press("Tab")
    view.locator("[data-testid=field-positive_prompt]").fill("a slow pan")
    view.locator("[data-testid=preview]").click()
    expect(view.locator("[data-testid=preview-summary]")).to_have_text("6 prompts: 3 images × 2 tries")
    view.locator("[data-testid=preview-json-toggle]").click()
    expect(view.locator("[data-testid=preview-json]")).to_contain_text("a slow pan")
    job = submit_and_wait(ui, view, "submit batch a")
    assert job["workflow"] == "smoke-video" and job["total"] == 6
    assert job["params"]["positive_prompt"] == "a slow pan"
    assert job["options"]["tries"] == 2
    assert job["source"]["folder"] == folder
    ui.shot("submit-batch-video-dark", view)


def test_drop_five_images_thumbnails_remove_clear_and_submit_five_prompts(ui):
    view = choose_mode(ui, "batch_video", "smoke-video")
    view.locator("[data-testid=folder-input]").fill("")
    names = [f"drop_{i}.png" for i in range(5)]
    drop_images(view, names, offset=10)
    thumbs = view.locator("[data-testid=thumb]")
    expect(thumbs).to_have_count(5)
    expect(view.locator("[data-testid=dropped-count]")).to_have_text("5 dropped images: the job's input")
    expect(thumbs.first.locator("img")).to_have_js_property("complete", True)
    # The typed folder is shown as ignored while the dropped set is the input.
    view.locator("[data-testid=folder-input]").fill("/somewhere/else")
    expect(view.locator("[data-testid=input-status]")).to_contain_text("Ignored while 5 dropped files are the input")
    view.locator("[data-testid=folder-input]").fill("")
    thumbs.nth(1).locator("[data-testid=thumb-remove]").click()
    expect(thumbs).to_have_count(4)
    view.locator("[data-testid=clear-dropped]").click()
    expect(thumbs).to_have_count(0)
    drop_images(view, names, offset=10)
    expect(thumbs).to_have_count(5)
    view.locator("[data-testid=option-tries]").fill("1")
    job = submit_and_wait(ui, view, "submit dropped five")
    assert job["total"] == 5 and job["name"] == "submit dropped five"
    assert sorted(p["input_file"].rsplit("/", 1)[-1] for p in job["prompts"]) == names
    view.locator("[data-testid=clear-dropped]").click()


def test_single_image_mode_takes_exactly_one_dropped_image(ui):
    view = choose_mode(ui, "single_video", "smoke-video")
    drop_images(view, ["one_a.png", "one_b.png"], offset=20)
    expect(view.locator("[data-testid=thumb]")).to_have_count(1)
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("takes one image")
    job = submit_and_wait(ui, view, "submit single")
    assert job["total"] == 1 and job["prompts"][0]["input_file"].endswith("one_a.png")
    view.locator("[data-testid=clear-dropped]").click()


def test_image_modes_list_only_their_workflows_and_submit(ui):
    view = choose_mode(ui, "image_gen")
    select = view.locator("[data-testid=workflow-select] option")
    expect(select).to_have_text(["Text to image (checkpoint)"])
    expect(view.locator("[data-testid=submit-inputs]")).to_be_hidden()  # T2I takes no input
    view.locator("[data-testid=variant-i2i]").click()
    expect(select).to_have_text(["Image to image (checkpoint)"])
    expect(view.locator("[data-testid=submit-inputs]")).to_be_visible()
    view.locator("[data-testid=variant-t2i]").click()
    expect(select).to_have_text(["Text to image (checkpoint)"])
    expect(view.locator("[data-testid=submit-inputs]")).to_be_hidden()
    view.locator("[data-testid=field-positive_prompt]").fill("a red fox in snow")
    view.locator("[data-testid=option-tries]").fill("3")
    view.locator("[data-testid=preview]").click()
    # The fake ComfyUI has no checkpoints: the server plans the T2I job (no input) and refuses it by name.
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("Preview refused: workflow t2i needs model files")

    choose_mode(ui, "video_upscale")
    expect(select).to_have_text(["Upscale videos (no model)"])
    expect(view.locator("[data-testid=file-input]")).to_have_attribute("accept", re.compile(r"\.mp4"))

    folder = ui.host.call("POST", "/__harness/images", {"folder": "upscale_in", "count": 2})["folder"]
    view = choose_mode(ui, "image_upscale", "smoke-image")
    view.locator("[data-testid=folder-input]").fill(folder)
    expect(view.locator("[data-testid=input-status]")).to_contain_text("2 images will be queued")
    view.locator("[data-testid=option-moveProcessed]").check()
    view.locator("[data-testid=option-priority]").fill("7")
    view.locator("[data-testid=option-seedMode]").select_option("fixed")
    view.locator("[data-testid=field-seed]").fill("41")
    job = submit_and_wait(ui, view, "submit upscale")
    assert job["workflow"] == "smoke-image" and job["priority"] == 7 and job["total"] == 2
    assert job["options"]["move_processed"] is True
    assert sorted(p["seed"] for p in job["prompts"]) == [41, 41]


def test_another_workflow_with_the_same_input_keeps_the_folder_field(ui):
    """Choosing another workflow of the mode must not replace the field being typed in
    (keystrokes landing on a replaced field are lost)."""
    folder = ui.host.call("POST", "/__harness/images", {"folder": "kept_in", "count": 2})["folder"]
    view = choose_mode(ui, "image_upscale", "image-upscale")
    field = view.locator("[data-testid=folder-input]")
    field.fill(folder)
    field.evaluate("el => { el.dataset.kept = 'yes'; }")
    view.locator("[data-testid=workflow-select]").select_option("smoke-image")
    expect(view.locator("[data-testid=submit-form]")).to_have_attribute("data-workflow", "smoke-image")
    expect(field).to_have_attribute("data-kept", "yes")  # the same element, not a new one
    expect(field).to_have_value(folder)
    expect(view.locator("[data-testid=input-status]")).to_contain_text("2 images will be queued")


def test_invalid_values_are_marked_inline_and_server_errors_map_to_fields(ui):
    view = choose_mode(ui, "image_upscale", "smoke-image")
    field = view.locator("[data-testid=field-scale_by]")
    field.fill("")
    error = view.locator("[data-field=scale_by] .vq-field-error")
    expect(error).to_have_text("Enter a number")
    expect(field).to_have_attribute("aria-invalid", "true")
    field.fill("99")
    field.press("Tab")  # committing clamps to the range
    expect(field).to_have_value(re.compile(r"^\d+(\.\d+)?$"))
    expect(error).to_be_hidden()
    view.locator("[data-testid=folder-input]").fill("/etc")
    view.locator("[data-testid=submit]").click()
    expect(view.locator("[data-testid=input-error]")).to_contain_text("allowed")
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("Submit refused")
    view.locator("[data-testid=folder-input]").fill("")


def test_folder_browser_starts_in_input_and_navigates(ui):
    ui.host.call("POST", "/__harness/images", {"folder": "browse_me/inner", "count": 4})
    view = choose_mode(ui, "batch_video", "smoke-video")
    view.locator("[data-testid=folder-input]").fill("")
    view.locator("[data-testid=browse]").click()
    browser = view.locator("[data-testid=folder-browser]")
    info = ui.host.call("GET", "/__harness/info")
    expect(browser.locator("[data-testid=browse-path]")).to_have_text(info["input_dir"])
    folder = browser.locator("[data-testid=browse-folder]", has_text="browse_me")
    expect(folder).to_be_visible()
    folder.click()
    inner = browser.locator("[data-testid=browse-folder]", has_text="inner")
    expect(inner).to_contain_text("4 files")
    inner.click()
    expect(browser.locator("[data-testid=browse-path]")).to_have_text(re.compile(r"browse_me/inner$"))
    browser.locator("[data-testid=browse-up]").click()
    expect(browser.locator("[data-testid=browse-path]")).to_have_text(re.compile(r"browse_me$"))
    inner.click()
    browser.locator("[data-testid=browse-use]").click()
    expect(browser).to_have_count(0)
    expect(view.locator("[data-testid=folder-input]")).to_have_value(re.compile(r"browse_me/inner$"))
    expect(view.locator("[data-testid=input-status]")).to_contain_text("4 images will be queued")


def test_split_workflow_clips_and_lora_rows(ui):
    view = choose_mode(ui, "batch_video", "wan-i2v-nstage")
    clips = view.locator("[data-field^=positive_prompt_stage] .vq-label")
    expect(clips).to_have_text(["Clip 1", "Clip 2", "Clip 3"])
    view.locator("[data-testid=field-positive_prompt_stage2]").fill("second clip")
    view.locator("[data-testid=stage-add]").click()
    expect(clips).to_have_text(["Clip 1", "Clip 2", "Clip 3", "Clip 4"])
    view.locator("[data-testid=stage-remove]").click()
    view.locator("[data-testid=stage-remove]").click()
    expect(clips).to_have_text(["Clip 1", "Clip 2"])
    expect(view.locator("[data-testid=field-positive_prompt_stage2]")).to_have_value("second clip")
    rows = view.locator("[data-testid=lora-row]")
    expect(rows).to_have_count(0)
    view.locator("[data-testid=lora-add]").click()
    view.locator("[data-testid=lora-add]").click()
    expect(rows).to_have_count(2)
    rows.nth(0).locator("input").nth(0).fill("style_high.safetensors")
    rows.nth(0).locator("input").nth(2).fill("0.7")
    rows.nth(1).locator("[data-testid=lora-remove]").click()
    expect(rows).to_have_count(1)
    view.locator("[data-testid=field-positive_prompt_stage1]").fill("first clip")
    view.locator("[data-testid=folder-input]").fill(ui.host.call("POST", "/__harness/images", {"folder": "clips", "count": 1})["folder"])
    view.locator("[data-testid=preview]").click()
    # No WAN models in the fake ComfyUI: the server plans the job and names the missing files.
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("needs model files", timeout=20000)
    saved = json.loads(ui.page.evaluate(f"localStorage.getItem({STORAGE_KEY!r})"))
    ws = saved["forms"]["workspaces"][0]["modes"]["batch_video"]["params"]["wan-i2v-nstage"]
    assert ws["stages"] == 2 and ws["positive_prompt_stage2"] == "second clip"
    assert ws["extra_loras"] == [{"high": "style_high.safetensors", "low": "", "strength": 0.7}]


def test_presets_save_overwrite_apply_rename_delete(ui):
    page = ui.page
    view = choose_mode(ui, "batch_video", "smoke-video")
    view.locator("[data-testid=presets] summary").click()
    view.locator("[data-testid=field-positive_prompt]").fill("preset prompt text")
    view.locator("[data-testid=preset-prompt-name]").fill("my prompt")
    view.locator("[data-testid=preset-prompt-save]").click()
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("Prompt preset “my prompt” saved")
    view.locator("[data-testid=field-repeats]").fill("3")
    view.locator("[data-testid=option-tries]").fill("4")
    view.locator("[data-testid=preset-settings-name]").fill("short clip")
    view.locator("[data-testid=preset-settings-save]").click()
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("Settings preset “short clip” saved")
    stored = ui.host.vq("GET", "/presets?kind=settings&mode=batch_video")["presets"]
    assert stored[0]["payload"]["params"]["repeats"] == 3 and stored[0]["payload"]["options"]["tries"] == 4
    assert stored[0]["prompt_preset_id"] is not None  # linked to the prompt preset chosen at the time
    # Saving under a taken name asks before overwriting.
    view.locator("[data-testid=field-positive_prompt]").fill("changed text")
    view.locator("[data-testid=preset-prompt-name]").fill("my prompt")
    view.locator("[data-testid=preset-prompt-save]").click()
    dialog = page.locator(".vq-dialog")
    expect(dialog).to_contain_text("Overwrite the prompt preset “my prompt”?")
    dialog.get_by_role("button", name="Keep it").click()
    assert ui.host.vq("GET", "/presets?kind=prompt&mode=batch_video")["presets"][0]["payload"]["values"]["positive_prompt"] == "preset prompt text"
    # Apply: the settings preset brings its linked prompt preset along.
    view.locator("[data-testid=field-repeats]").fill("9")
    view.locator("[data-testid=option-tries]").fill("1")
    view.locator("[data-testid=option-tries]").press("Tab")  # a focused field is never overwritten
    view.locator("[data-testid=preset-settings]").select_option(label="short clip (smoke-video)")
    expect(view.locator("[data-testid=field-repeats]")).to_have_value("3")
    expect(view.locator("[data-testid=option-tries]")).to_have_value("4")
    expect(view.locator("[data-testid=field-positive_prompt]")).to_have_value("preset prompt text")
    # A preset naming a parameter the workflow no longer has: ignored, with a notice.
    ui.host.vq("POST", "/presets", {"name": "old", "kind": "prompt", "mode": "batch_video",
                                     "payload": {"values": {"positive_prompt": "old one", "gone_param": "x"}}})
    view.locator("[data-testid=preset-prompt-name]").fill("")
    view.locator("[data-testid=preset-settings-name]").fill("short clip 2")
    view.locator("[data-testid=preset-settings-save]").click()  # refreshes the lists
    view.locator("[data-testid=preset-prompt]").select_option(label="old")
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("ignored: gone_param")
    expect(view.locator("[data-testid=field-positive_prompt]")).to_have_value("old one")
    # Rename and delete.
    view.locator("[data-testid=preset-prompt-name]").fill("older")
    view.locator("[data-testid=preset-prompt-rename]").click()
    expect(view.locator("[data-testid=preset-prompt] option", has_text="older")).to_have_count(1)
    view.locator("[data-testid=preset-prompt-delete]").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(view.locator("[data-testid=preset-prompt] option", has_text="older")).to_have_count(0)
    names = [p["name"] for p in ui.host.vq("GET", "/presets?kind=prompt&mode=batch_video")["presets"]]
    assert names == ["my prompt"]
    view.locator("[data-testid=option-tries]").fill("1")


def test_three_workspaces_stay_isolated_and_survive_a_reload(ui):
    page = ui.page
    view = open_submit(ui)
    closers, tabs = view.locator("[data-testid=ws-close]"), view.locator("[data-testid=ws-tab]")
    while closers.count():  # the last workspace has no close button
        left = tabs.count()
        closers.first.click()
        expect(tabs).to_have_count(left - 1)  # the click re-rendered before the next look
    view = choose_mode(ui, "batch_video", "smoke-video")
    view.locator("[data-testid=field-positive_prompt]").fill("first workspace")
    view.locator("[data-testid=folder-input]").fill("/tmp/ws-one")
    view.locator("[data-testid=ws-add]").click()
    expect(view.locator("[data-testid=ws-tab]")).to_have_count(2)
    expect(view.locator("[data-testid=ws-tab][aria-selected=true]")).to_have_text("Workspace 2")
    view = choose_mode(ui, "image_upscale", "smoke-image")
    expect(view.locator("[data-testid=folder-input]")).to_have_value("")  # a new workspace starts from defaults
    view.locator("[data-testid=field-scale_by]").fill("3")
    view.locator("[data-testid=ws-add]").click()
    view = choose_mode(ui, "batch_video", "smoke-video")
    expect(view.locator("[data-testid=field-positive_prompt]")).to_have_value("a short test clip")
    view.locator("[data-testid=field-positive_prompt]").fill("third workspace")
    # Rename by double-click.
    view.locator("[data-testid=ws-tab]").nth(2).dblclick()
    view.locator("[data-testid=ws-rename]").fill("Night run")
    view.locator("[data-testid=ws-rename]").press("Enter")
    expect(view.locator("[data-testid=ws-tab]")).to_have_text(["Workspace 1", "Workspace 2", "Night run"])
    view.locator("[data-testid=ws-tab]").nth(0).click()
    expect(view.locator("[data-testid=field-positive_prompt]")).to_have_value("first workspace")
    expect(view.locator("[data-testid=folder-input]")).to_have_value("/tmp/ws-one")

    page.reload()
    page.wait_for_selector('[class~="vq.queue-tab-button"]', timeout=45000)
    view = open_submit(ui)
    expect(view.locator("[data-testid=ws-tab]")).to_have_text(["Workspace 1", "Workspace 2", "Night run"])
    expect(view.locator("[data-testid=field-positive_prompt]")).to_have_value("first workspace")
    expect(view.locator("[data-testid=folder-input]")).to_have_value("/tmp/ws-one")
    view.locator("[data-testid=ws-tab]").nth(1).click()
    expect(view.locator("[data-testid=mode-image_upscale]")).to_have_attribute("aria-selected", "true")
    expect(view.locator("[data-testid=field-scale_by]")).to_have_value("3")
    view.locator("[data-testid=ws-tab]").nth(2).click()
    expect(view.locator("[data-testid=field-positive_prompt]")).to_have_value("third workspace")
    # Closing activates the neighbour; the last workspace has no close button.
    view.locator("[data-testid=ws-close]").nth(2).click()
    expect(view.locator("[data-testid=ws-tab][aria-selected=true]")).to_have_text("Workspace 2")
    view.locator("[data-testid=ws-close]").nth(1).click()
    expect(view.locator("[data-testid=ws-tab]")).to_have_text(["Workspace 1"])
    expect(view.locator("[data-testid=ws-close]")).to_have_count(0)
    view.locator("[data-testid=folder-input]").fill("")


def test_corrupted_storage_recovers_with_a_notice_and_reset_clears(ui):
    page = ui.page
    page.evaluate(f"localStorage.setItem({STORAGE_KEY!r}, '{{not json')")
    page.reload()
    page.wait_for_selector('[class~="vq.queue-tab-button"]', timeout=45000)
    view = open_submit(ui)
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("reset to defaults")
    expect(view.locator("[data-testid=ws-tab]")).to_have_text(["Workspace 1"])
    view = choose_mode(ui, "batch_video", "smoke-video")
    view.locator("[data-testid=field-repeats]").fill("5000")
    view.locator("[data-testid=field-repeats]").press("Tab")
    expect(view.locator("[data-testid=field-repeats]")).to_have_value("240")  # clamped to the maximum
    view.locator("[data-testid=reset-saved]").click()
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("Saved options cleared")
    expect(view.locator("[data-testid=field-repeats]")).to_have_value("12")


def test_keyboard_only_submit_and_open_the_job_in_the_queue(ui):
    page = ui.page
    folder = ui.host.call("POST", "/__harness/images", {"folder": "keys", "count": 2})["folder"]
    view = choose_mode(ui, "batch_video", "smoke-video")
    notice = view.locator("[data-testid=submit-notice]")
    if notice.is_visible():  # an earlier job's notice must not pass for this one's
        notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_be_hidden()
    view.locator("[data-testid=mode-batch_video]").focus()
    page.keyboard.press("ArrowRight")  # mode tabs follow the arrow keys
    expect(view.locator("[data-testid=mode-single_video]")).to_be_focused()
    expect(view.locator("[data-testid=mode-single_video]")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(view.locator("[data-testid=mode-batch_video]")).to_have_attribute("aria-selected", "true")
    view.locator("[data-testid=workflow-select]").focus()
    page.keyboard.press("Tab")  # presets
    for _ in range(8):
        if view.locator("[data-testid=folder-input]").evaluate("el => el === el.getRootNode().activeElement"):
            break
        page.keyboard.press("Tab")
    expect(view.locator("[data-testid=folder-input]")).to_be_focused()
    page.keyboard.type(folder)
    expect(view.locator("[data-testid=input-status]")).to_contain_text("2 images will be queued")
    view.locator("[data-testid=option-name]").focus()
    page.keyboard.type("submit by keys")
    for _ in range(6):
        page.keyboard.press("Tab")
        if view.locator("[data-testid=submit]").evaluate("el => el === el.getRootNode().activeElement"):
            break
    expect(view.locator("[data-testid=submit]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text("“submit by keys” queued")
    job = ui.host.vq("GET", "/jobs/" + str(ui.host.vq("GET", "/jobs?search=submit%20by%20keys&limit=1")["jobs"][0]["id"]))
    assert job["total"] == 2
    open_job = view.locator("[data-testid=open-job]")
    open_job.focus()
    page.keyboard.press("Enter")
    card = ui.card("submit by keys")
    expect(card.locator("[data-testid=job-toggle]")).to_have_attribute("aria-expanded", "true")
    rows = card.locator("[data-testid=prompt-row]")
    expect(rows).to_have_count(2)
    expect(rows.first.locator("[data-testid=prompt-texts]")).to_contain_text("Prompt")
    expect(rows.first.locator(".vq-prompt-meta")).to_contain_text(f"id {job['prompts'][0]['id']}")
    ui.search("")
    ui.page.locator("[data-testid=tab-submit]").click()


SET_PALETTE = "id => window.comfyAPI.app.app.extensionManager.setting.set('Comfy.ColorPalette', id)"
FG = "() => getComputedStyle(document.querySelector('[data-vq-host]').shadowRoot.querySelector('.vq-root')).color"


def test_screenshots_of_every_mode_in_dark_and_light(ui):
    page = ui.page
    folder = ui.host.call("POST", "/__harness/images", {"folder": "shots", "count": 3})["folder"]
    panel = page.locator(".sidebar-content-container")
    page.set_viewport_size({"width": 1400, "height": 1300})
    try:
        for palette in ("dark", "light"):
            page.evaluate(SET_PALETTE, palette)
            if palette == "light":
                page.wait_for_function(f"({FG})() !== 'rgb(221, 221, 221)'")
            for mode, workflow in (("batch_video", "smoke-video"), ("single_video", "smoke-video"), ("image_gen", None),
                                   ("image_upscale", "smoke-image"), ("video_upscale", None)):
                view = choose_mode(ui, mode, workflow)
                if mode in ("batch_video", "image_upscale"):
                    view.locator("[data-testid=folder-input]").fill(folder)
                    expect(view.locator("[data-testid=input-status]")).to_contain_text("will be queued")
                ui.root.evaluate("el => { el.scrollTop = 0; }")
                ui.shot(f"submit-{mode}-{palette}", panel)
        view = choose_mode(ui, "batch_video", "wan-i2v-nstage")
        view.locator("[data-testid=lora-add]").click()
        view.locator("[data-testid=toggle-adv-sampling]").click()
        view.locator("[data-testid=stage-control]").scroll_into_view_if_needed()
        ui.shot("submit-nstage-light", panel)
        view.locator("[data-testid=lora-remove]").click()
        view.locator("[data-testid=toggle-adv-sampling]").click()
    finally:
        page.evaluate(SET_PALETTE, "dark")
        page.set_viewport_size({"width": 1400, "height": 900})


def test_per_image_prompts_feed_each_prompt(ui):
    view = choose_mode(ui, "batch_video", "smoke-video")
    view.locator("[data-testid=folder-input]").fill("")
    drop_images(view, ["per_a.png", "per_b.png"], offset=30)
    expect(view.locator("[data-testid=thumb]")).to_have_count(2)
    view.locator("[data-testid=per-image-toggle]").check()
    rows = view.locator("[data-testid=per-image-row]")
    expect(rows).to_have_count(2)
    rows.filter(has_text="per_a.png").locator("textarea").fill("only for a")  # uploads finish in any order
    view.locator("[data-testid=field-positive_prompt]").fill("everyone else")
    job = submit_and_wait(ui, view, "submit per image")
    texts = {p["input_file"].rsplit("/", 1)[-1]: p["params"]["positive_prompt"] for p in job["prompts"]}
    assert texts == {"per_a.png": "only for a", "per_b.png": "everyone else"}
    view.locator("[data-testid=per-image-toggle]").uncheck()
    view.locator("[data-testid=clear-dropped]").click()
