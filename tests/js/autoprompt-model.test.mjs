import assert from "node:assert/strict";
import { test } from "node:test";
import { applyDrafts, autoReducer, initialAuto, mergeResult, progressText, unappliedCount, unavailableReason } from "../../web/js/submit/autoprompt-model.js";

const single = [{ name: "positive_prompt", label: "Prompt" }];
const split = [{ name: "p1", label: "Clip 1" }, { name: "p2", label: "Clip 2" }];

test("applying edits gives per-image prompts exactly as edited, every file and field", () => {
  let a = mergeResult(initialAuto(), { results: [
    { path: "/i/a.png", caption: "cap a", clip_prompts: ["a1", "a2"] },
    { path: "/i/b.png", caption: "cap b", clip_prompts: ["b1", "b2"] }] }, split);
  a = autoReducer(a, { type: "ap/edit", path: "/i/b.png", name: "p2", text: "  edited b2 " });
  assert.deepEqual(applyDrafts(a.drafts, ["/i/a.png", "/i/b.png", "/i/c.png"], split), {
    "/i/a.png": { p1: "a1", p2: "a2" }, "/i/b.png": { p1: "b1", p2: "  edited b2 " }, "/i/c.png": { p1: "", p2: "" } });
  assert.equal(unappliedCount(a.drafts, {}, ["/i/a.png", "/i/b.png"], split), 2);
  assert.equal(unappliedCount(a.drafts, applyDrafts(a.drafts, ["/i/a.png", "/i/b.png"], split), ["/i/a.png", "/i/b.png"], split), 0);
});

test("motion_prompt fills the first field; per-image errors are kept by stage", () => {
  const a = mergeResult(initialAuto(), { results: [{ path: "x", caption: "c", motion_prompt: "m" },
    { path: "y", error: { stage: "caption", code: "invalid_image", message: "bad" } }] }, single);
  assert.deepEqual(a.drafts.x, { caption: "c", prompts: { positive_prompt: "m" } });
  assert.deepEqual(a.errors.y, { stage: "caption", code: "invalid_image", message: "bad" });
});

test("progress reducer: start, events of its own run only, never backwards, result at the end", () => {
  let a = autoReducer(initialAuto(), { type: "ap/start", stage: "both", total: 3 });
  assert.equal(progressText(a.progress), "Captions 0/3 · Motion prompts 0/3");
  a = autoReducer(a, { type: "ap/run", run: { id: 7, status: "running", progress: { caption: { done: 0, total: 3 }, motion: { done: 0, total: 3 } } } });
  a = autoReducer(a, { type: "ap/event", event: { run_id: 7, status: "running", stage: "caption", index: 2, total: 3 } });
  a = autoReducer(a, { type: "ap/event", event: { run_id: 8, status: "running", stage: "caption", index: 3, total: 3 } });
  a = autoReducer(a, { type: "ap/event", event: { run_id: 7, status: "running", stage: "caption", index: 1, total: 3 } });
  assert.deepEqual(a.progress.caption, { done: 2, total: 3 });
  assert.equal(a.busy, "both");
  a = autoReducer(a, { type: "ap/run", fields: single, run: { id: 7, status: "succeeded", progress: { caption: { done: 3, total: 3 }, motion: { done: 3, total: 3 } },
    result: { results: [{ path: "x", caption: "c", motion_prompt: "m" }] } } });
  assert.equal(a.busy, null);
  assert.equal(a.drafts.x.prompts.positive_prompt, "m");
  a = autoReducer(a, { type: "ap/run", run: { id: 9, status: "failed", current_stage: "motion", progress: {}, error: { code: "autoprompt_timeout", message: "slow", hint: null, stage: "motion" } } });
  assert.deepEqual(a.runError, { stage: "motion", code: "autoprompt_timeout", message: "slow", hint: null });
});

test("unavailable: the probe's hint, per stage", () => {
  assert.equal(unavailableReason(null, null), null);
  assert.deepEqual(unavailableReason({ reachable: false, error: "refused", hint: "Start LM Studio" }, null), { message: "refused", hint: "Start LM Studio" });
  const st = { reachable: true, stages: { caption: { available: true }, motion: { available: false, model: "m", message: "missing", hint: "load m" } } };
  assert.deepEqual(unavailableReason(st, null), { message: "missing", hint: "load m" });
  assert.equal(unavailableReason(st, null, "caption"), null);
});
