import assert from "node:assert/strict";
import { test } from "node:test";

import { coerceValue, effectiveSize, formFields, formGroups, paramsForSubmit, promptFields, resolveValues, stageCount, validateValues } from "../../web/js/submit/form-model.js";
import { nstageDesc, videoDesc } from "./submit-fixtures.mjs";

const field = (desc, name) => desc.params.find((p) => p.name === name);

test("numbers are coerced, clamped to their range and snapped to whole-number steps", () => {
  const d = videoDesc();
  assert.deepEqual(coerceValue(field(d, "length"), "82"), { value: 81, error: null, clamped: true });
  assert.deepEqual(coerceValue(field(d, "length"), 85), { value: 85, error: null, clamped: false });
  assert.equal(coerceValue(field(d, "length"), "5000").value, 1001);
  assert.equal(coerceValue(field(d, "length"), "abc").error, "Enter a number");
  assert.equal(coerceValue(field(d, "length"), "").error, "Enter a number");
  assert.equal(coerceValue(field(d, "length"), "8.5").error, "Enter a whole number");
  assert.deepEqual(coerceValue(field(d, "cfg"), "31"), { value: 30, error: null, clamped: true });
  assert.equal(coerceValue(field(d, "cfg"), "0.35").value, 0.35);
});

test("bools, closed and live selects, text and LoRA chains", () => {
  const d = videoDesc();
  assert.equal(coerceValue(field(d, "flip_orientation"), "true").value, true);
  assert.ok(coerceValue(field(d, "flip_orientation"), 3).error);
  assert.ok(coerceValue(field(d, "resolution"), "999p").error, "a closed list refuses other values");
  assert.equal(coerceValue(field(d, "sampler_name"), "my_sampler").value, "my_sampler", "a live list is a suggestion");
  assert.equal(coerceValue(field(d, "positive_prompt"), null).value, "");
  const chain = coerceValue(field(d, "extra_loras"), [{ high: "a.safetensors", strength: 20 }, {}, {}, {}]);
  assert.deepEqual(chain.value[0], { high: "a.safetensors", low: "", strength: 10 });
  assert.equal(chain.value.length, 3, "max_items rows");
  assert.equal(chain.clamped, true);
});

test("fields leave out derived values, the seed and the stage count; per-stage prompts become Clip 1..N", () => {
  const d = nstageDesc();
  assert.deepEqual(formFields(d, { stages: 2 }).map((f) => [f.name, f.label]),
    [["positive_prompt_stage1", "Clip 1"], ["positive_prompt_stage2", "Clip 2"]]);
  assert.equal(formFields(d, {}).length, 3, "the default stage count");
  assert.equal(stageCount(d, { stages: 99 }), 8);
  assert.deepEqual(promptFields(d, { stages: 1 }).map((f) => f.name), ["positive_prompt_stage1"]);
  const groups = formGroups(formFields(videoDesc(), {}));
  assert.deepEqual(groups.map((g) => g.name), ["Prompt", "Video", "Sampling", "Settings"]);
  assert.deepEqual(groups[0].advanced.map((f) => f.name), ["negative_prompt"]);
  assert.ok(!formFields(videoDesc(), {}).some((f) => f.name === "seed"));
});

test("starting values: saved beats current beats default; unusable values fall through", () => {
  const d = videoDesc();
  const { values, ignored, clamped } = resolveValues(d,
    { length: 5000, cfg: "nope", gone_param: 1, positive_prompt: "saved" },
    { cfg: 3.5, positive_prompt: "current", width: 640 });
  assert.equal(values.positive_prompt, "saved");
  assert.equal(values.length, 1001, "clamped");
  assert.equal(values.cfg, 3.5, "a broken saved value falls back to the current form");
  assert.equal(values.width, 640);
  assert.equal(values.height, 480, "the default");
  assert.equal(values.seed, 0);
  assert.deepEqual(ignored, ["gone_param"]);
  assert.deepEqual(clamped, ["length"]);
});

test("every stage up to the maximum keeps its prompt", () => {
  const { values } = resolveValues(nstageDesc(), { stages: 2, positive_prompt_stage5: "five" });
  assert.equal(values.stages, 2);
  assert.equal(values.positive_prompt_stage5, "five");
  assert.equal(values.positive_prompt_stage8, "");
});

test("submitted params: a preset decides width and height; empty LoRA rows are dropped", () => {
  const d = videoDesc();
  const { values } = resolveValues(d, {});
  values.extra_loras = [{ high: " a.safetensors ", low: "", strength: 0.5 }, { high: "", low: "", strength: 1 }];
  const params = paramsForSubmit(d, values);
  assert.ok(!("width" in params) && !("height" in params) && !("seed" in params));
  assert.equal(params.resolution, "480p");
  assert.deepEqual(params.extra_loras, [{ high: "a.safetensors", low: null, strength: 0.5 }]);
  values.resolution = "custom";
  const custom = paramsForSubmit(d, values);
  assert.equal(custom.width, 832);
  assert.ok(!("flip_orientation" in custom));
  assert.deepEqual(effectiveSize(d, { ...values, resolution: "480p", flip_orientation: true }), { width: 480, height: 832, preset: "480p" });
  const n = nstageDesc();
  assert.deepEqual(paramsForSubmit(n, { ...resolveValues(n, {}).values, stages: 2 }),
    { stages: 2, positive_prompt_stage1: "", positive_prompt_stage2: "" });
});

test("validation names each field with its reason", () => {
  const d = videoDesc();
  const { values } = resolveValues(d, {});
  assert.deepEqual(validateValues(d, values), {});
  assert.deepEqual(validateValues(d, { ...values, length: "x", cfg: 99, seed: -1 }),
    { length: "Enter a number", cfg: "Allowed from 0 to 30", seed: "Allowed from 0 to 9007199254740991" });
});
