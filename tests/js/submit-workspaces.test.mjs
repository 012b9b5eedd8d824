import assert from "node:assert/strict";
import { test } from "node:test";

import { buildSubmitBody, describePlan, validateSubmit } from "../../web/js/submit/payload.js";
import { clearForms, loadForms, saveForms, STORAGE_KEY } from "../../web/js/submit/persistence.js";
import { resolveValues } from "../../web/js/submit/form-model.js";
import { fitsMode, inputNeed } from "../../web/js/submit/modes.js";
import { activeWorkspace, activateWorkspace, closeWorkspace, createWorkspace, initialWorkspaces, modeState, patchMode, renameWorkspace, setMode, setParam } from "../../web/js/submit/workspaces.js";
import { memoryStorage, nstageDesc, t2iDesc, upscaleDesc, videoDesc } from "./submit-fixtures.mjs";

test("three workspaces keep their own mode, workflow, values and inputs", () => {
  let f = initialWorkspaces();
  f = patchMode(f, { workflow: "vid", folder: "/in/a" });
  f = setParam(f, "vid", "cfg", 2);
  f = createWorkspace(f);
  assert.equal(activeWorkspace(f).name, "Workspace 2");
  assert.deepEqual(modeState(activeWorkspace(f)).params, {}, "a new workspace starts from defaults, not a copy");
  f = setMode(f, "image_upscale");
  f = patchMode(f, { workflow: "up", dropped: [{ name: "x.png", path: "/u/x.png" }] });
  f = createWorkspace(f);
  f = setParam(patchMode(f, { workflow: "vid" }), "vid", "cfg", 7);
  const [a, b, c] = f.workspaces;
  assert.equal(modeState(a).folder, "/in/a");
  assert.equal(modeState(a).params.vid.cfg, 2);
  assert.equal(b.mode, "image_upscale");
  assert.equal(modeState(b).dropped.length, 1);
  assert.equal(modeState(b, "batch_video").workflow, null, "each mode keeps its own values");
  assert.equal(modeState(c).params.vid.cfg, 7);
  f = activateWorkspace(f, "ws-1");
  assert.equal(activeWorkspace(f).id, "ws-1");
});

test("closing activates the neighbour and never leaves zero workspaces; renames are trimmed", () => {
  let f = createWorkspace(createWorkspace(initialWorkspaces()));
  f = activateWorkspace(f, "ws-2");
  f = closeWorkspace(f, "ws-2");
  assert.deepEqual(f.workspaces.map((w) => w.id), ["ws-1", "ws-3"]);
  assert.equal(f.active, "ws-3", "the right neighbour");
  f = closeWorkspace(f, "ws-3");
  assert.equal(f.active, "ws-1", "the left one when there is no right one");
  assert.equal(closeWorkspace(f, "ws-1"), f, "the last workspace stays");
  f = renameWorkspace(f, "ws-1", "  Night batch  ");
  assert.equal(f.workspaces[0].name, "Night batch");
  assert.equal(renameWorkspace(f, "ws-1", "   "), f);
  assert.equal(createWorkspace(f).workspaces[1].id, "ws-4", "ids are never reused");
});

test("persistence round-trips, and corrupted or foreign data falls back with a notice", () => {
  const storage = memoryStorage();
  assert.deepEqual(loadForms(storage), { forms: initialWorkspaces(), notice: null });
  let f = setParam(patchMode(createWorkspace(initialWorkspaces()), { workflow: "vid" }), "vid", "cfg", 3);
  saveForms(storage, f);
  assert.deepEqual(loadForms(storage).forms, f);
  for (const bad of ["{nope", JSON.stringify({ version: 99, forms: f }), JSON.stringify({ version: 1, forms: { workspaces: [] } })]) {
    storage.setItem(STORAGE_KEY, bad);
    const { forms, notice } = loadForms(storage);
    assert.deepEqual(forms, initialWorkspaces());
    assert.match(notice, /reset to defaults/);
  }
  storage.setItem(STORAGE_KEY, JSON.stringify({ version: 1, forms: { active: "zz", workspaces: [
    { id: "ws-7", name: "", mode: "nope", modes: { batch_video: { folder: 5, options: { tries: "x", seedMode: "fixed" }, params: { vid: { cfg: 1 }, bad: 3 } }, bogus: {} } },
    { id: "ws-7" }, "junk"] } }));
  const { forms } = loadForms(storage);
  assert.equal(forms.workspaces.length, 1);
  assert.equal(forms.active, "ws-7");
  assert.equal(forms.seq, 7);
  assert.equal(forms.workspaces[0].mode, "batch_video");
  assert.deepEqual(forms.workspaces[0].modes, { batch_video: { params: { vid: { cfg: 1 } }, options: { seedMode: "fixed" } } });
  clearForms(storage);
  assert.equal(storage.getItem(STORAGE_KEY), null);
});

test("modes list only workflows whose category and input fit", () => {
  assert.ok(fitsMode(videoDesc(), "batch_video"));
  assert.ok(fitsMode(videoDesc(), "single_video"));
  assert.ok(!fitsMode({ ...videoDesc(), input: { kind: "image", multiple: false } }, "batch_video"));
  assert.ok(fitsMode(t2iDesc(), "image_gen", "t2i"));
  assert.ok(!fitsMode(t2iDesc(), "image_gen", "i2i"));
  assert.ok(fitsMode({ ...t2iDesc(), input: { kind: "image", multiple: true } }, "image_gen", "i2i"));
  assert.ok(!fitsMode(upscaleDesc(), "video_upscale"));
  assert.ok(fitsMode(upscaleDesc("video_upscale", "video"), "video_upscale"));
  assert.equal(inputNeed("single_video", videoDesc()), "one");
  assert.equal(inputNeed("image_gen", t2iDesc()), "none");
});

function body(modeId, desc, patch = {}, extra = {}) {
  const base = modeState({ modes: {} }, modeId);
  const ms = { ...base, ...patch, options: { ...base.options, ...patch.options } };
  const { values } = resolveValues(desc, {});
  return buildSubmitBody({ modeId, desc, ms, values: { ...values, ...(extra.values || {}) }, ...extra });
}

test("payload of every mode", () => {
  assert.deepEqual(body("batch_video", videoDesc(), { folder: " /in/stills ", options: { tries: 2, name: " night " } }, { workspace: "W" }), {
    workflow: "vid", input: "/in/stills", tries: 2, priority: 0, move_processed: false, dry_run: false, randomize_seed: true,
    name: "night", workspace: "W",
    params: { positive_prompt: "", negative_prompt: "bad", resolution: "480p", flip_orientation: false, length: 81, cfg: 1, sampler_name: "euler", extra_loras: [] },
  });
  const dropped = [{ name: "a.png", path: "/u/a.png" }, { name: "b.png", path: "/u/b.png" }];
  assert.deepEqual(body("batch_video", videoDesc(), { folder: "/ignored", dropped }).input, ["/u/a.png", "/u/b.png"]);
  const single = body("single_video", videoDesc(), { dropped: dropped.slice(0, 1), options: { seedMode: "fixed" } }, { values: { seed: 42 } });
  assert.equal(single.input, "/u/a.png");
  assert.equal(single.seed, 42);
  assert.ok(!("randomize_seed" in single));
  const t2i = body("image_gen", t2iDesc(), { folder: "/ignored" });
  assert.ok(!("input" in t2i));
  assert.equal(t2i.workflow, "t2i");
  assert.deepEqual(body("image_upscale", upscaleDesc(), { folder: "/in", options: { moveProcessed: true, priority: 5 } }),
    { workflow: "up-image", input: "/in", tries: 1, priority: 5, move_processed: true, dry_run: false, params: { scale_by: 2 } });
  assert.equal(body("video_upscale", upscaleDesc("video_upscale", "video"), { folder: "/v" }, { dryRun: true }).dry_run, true);
});

test("per-image prompts feed per_file_params, Clip 1..N included", () => {
  const perImage = { "/u/a.png": { positive_prompt_stage1: "a1", positive_prompt_stage2: " ", positive_prompt_stage3: "a3" }, "/u/b.png": {} };
  const dropped = [{ name: "a.png", path: "/u/a.png" }, { name: "b.png", path: "/u/b.png" }];
  const b = body("batch_video", nstageDesc(), { dropped, perImage, promptMode: "per-image manual" },
    { files: ["/u/a.png", "/u/b.png"], values: { stages: 2 } });
  assert.equal(b.prompt_mode, "per-image manual");
  assert.deepEqual(b.per_file_params, { "/u/a.png": { positive_prompt_stage1: "a1" } });
});

test("submit checks name the field: input, tries, priority, parameters", () => {
  const ms = modeState({ modes: {} }, "batch_video");
  const { values } = resolveValues(videoDesc(), {});
  assert.deepEqual(validateSubmit({ modeId: "batch_video", desc: videoDesc(), ms, values }), { input: "Choose a folder or drop files" });
  const bad = { ...ms, folder: "/x", options: { ...ms.options, tries: 0, priority: "x" } };
  assert.deepEqual(Object.keys(validateSubmit({ modeId: "batch_video", desc: videoDesc(), ms: bad, values: { ...values, cfg: -1 } })).sort(),
    ["cfg", "priority", "tries"]);
  const two = { ...ms, dropped: [{ path: "a", name: "a" }, { path: "b", name: "b" }] };
  assert.match(validateSubmit({ modeId: "single_video", desc: videoDesc(), ms: two, values }).input, /exactly one/);
  assert.deepEqual(validateSubmit({ modeId: "image_gen", desc: t2iDesc(), ms, values: { positive_prompt: "", seed: 0 } }), {});
});

test("the dry-run summary", () => {
  const prompts = (files, tries) => files.flatMap((f) => Array.from({ length: tries }, () => ({ input_file: f })));
  assert.equal(describePlan({ total: 12, prompts: prompts(["a", "b", "c", "d", "e", "f"], 2) }, 2), "12 prompts: 6 images × 2 tries");
  assert.equal(describePlan({ total: 1, prompts: prompts(["a"], 1) }, 1), "1 prompt: 1 image × 1 try");
  assert.equal(describePlan({ total: 4, prompts: [{}, {}, {}, {}] }, 4), "4 prompts: 4 tries");
});
