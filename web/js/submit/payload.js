// POST /vq/v1/jobs bodies from the Submit view's form, and the checks made before sending
// one (each names the field it is about, so the form can mark it). Pure.

import { coerceValue, paramsForSubmit, promptFields, seedParam, validateValues } from "./form-model.js";
import { plural } from "../format.js";
import { inputNeed } from "./modes.js";
import { isPerImage } from "./autoprompt-model.js";

export const PER_IMAGE = "per-image manual";
const LIMITS = { tries: [1, 100], priority: [-1000000, 1000000] };

/** Input files of the form: the dropped set when there is one, else the typed path. */
export function inputOf(modeId, desc, ms) {
  const need = inputNeed(modeId, desc);
  if (need === "none") return { need, input: null, source: "none" };
  if (ms.dropped.length) {
    const paths = ms.dropped.map((d) => d.path);
    return { need, input: need === "one" ? paths[0] : paths, source: "dropped" };
  }
  const typed = ms.folder.trim();
  return { need, input: typed || null, source: typed ? "path" : "missing" };
}

/** Per-image prompts of the files in the batch that have any text. */
export function perFileParams(desc, values, ms, files) {
  const names = promptFields(desc, values).map((f) => f.name);
  const out = {};
  for (const file of files) {
    const own = ms.perImage[file] || {};
    const entry = {};
    for (const name of names) if (typeof own[name] === "string" && own[name].trim()) entry[name] = own[name];
    if (Object.keys(entry).length) out[file] = entry;
  }
  return out;
}

/**
 * @param {{modeId: string, desc: object, ms: object, values: object, workspace?: string,
 *   files?: string[], dryRun?: boolean}} form  `files`: the batch's files (for per-image prompts)
 */
export function buildSubmitBody({ modeId, desc, ms, values, workspace, files = [], dryRun = false }) {
  const o = ms.options;
  const body = { workflow: desc.name, params: paramsForSubmit(desc, values), tries: Number(o.tries),
    priority: Number(o.priority), move_processed: !!o.moveProcessed, dry_run: !!dryRun };
  const { input } = inputOf(modeId, desc, ms);
  if (input != null) body.input = input;
  const seed = seedParam(desc);
  if (seed) {
    if (o.seedMode === "fixed") body.seed = coerceValue(seed, values[seed.name]).value;
    else body.randomize_seed = true;
  }
  if (isPerImage(ms.promptMode) && input != null && promptFields(desc, values).length) {
    body.prompt_mode = ms.promptMode; // per-image manual, or per-image auto (the applied auto-prompts)
    const perFile = perFileParams(desc, values, ms, files);
    if (Object.keys(perFile).length) body.per_file_params = perFile;
  }
  if (o.name.trim()) body.name = o.name.trim();
  if (workspace) body.workspace = workspace;
  return body;
}

/** Field name (a parameter, "input", "tries", "priority") -> why it cannot be submitted. */
export function validateSubmit({ modeId, desc, ms, values }) {
  const errors = validateValues(desc, values);
  const { need, source } = inputOf(modeId, desc, ms);
  if (source === "missing") errors.input = need === "one" ? "Choose or drop one image" : "Choose a folder or drop files";
  if (need === "one" && ms.dropped.length > 1) errors.input = "This mode takes exactly one image; remove the others";
  for (const [key, [min, max]] of Object.entries(LIMITS)) {
    const c = coerceValue({ type: "int", min, max }, ms.options[key]);
    if (c.error || c.clamped) errors[key] = c.error || `Allowed from ${min} to ${max}`;
  }
  return errors;
}

/** "12 prompts: 6 images × 2 tries" for a dry run's answer. */
export function describePlan(dry, tries, kind = "image") {
  const perFile = Math.max(1, Number(tries) || 1);
  const files = new Set((dry.prompts || []).map((p) => p.input_file).filter(Boolean)).size;
  const prompts = plural(dry.total, "prompt");
  if (!files) return perFile > 1 ? `${prompts}: ${plural(perFile, "try", "tries")}` : prompts;
  return `${prompts}: ${plural(Math.round(dry.total / perFile), kind)} × ${plural(perFile, "try", "tries")}`;
}
