// The auto-prompt panel's state (per-image auto mode): the LM Studio probe, the run in
// flight and its progress per stage, the captions and the editable prompt drafts per image,
// and errors per image and stage. Pure: a reducer and helpers, no I/O (see autoprompt.js).
//
// Drafts are what the panel shows and the user edits; "Apply all" copies them into the
// form's per-image prompts (ms.perImage), which the submit turns into per_file_params.

export const PER_IMAGE_MANUAL = "per-image manual";
export const PER_IMAGE_AUTO = "per-image auto";
export const STAGES = Object.freeze(["caption", "motion"]);
export const STAGE_LABELS = Object.freeze({ caption: "Captions", motion: "Motion prompts" });

export const isPerImage = (mode) => mode === PER_IMAGE_MANUAL || mode === PER_IMAGE_AUTO;

export function initialAuto() {
  return {
    status: null, // GET /autoprompt/status answer
    statusError: null,
    busy: null, // the stage being requested ("caption" | "motion") while a run is in flight
    run: null, // {id, status}
    progress: {}, // stage -> {done, total}
    drafts: {}, // path -> {caption, prompts: {param name: text}}
    errors: {}, // path -> {stage, code, message}
    runError: null, // {stage, code, message, hint}
  };
}

/** Why the panel is disabled (null: usable): the probe's hint, or its message. */
export function unavailableReason(status, statusError, stage = null) {
  if (statusError) return { message: statusError, hint: null };
  if (!status) return null;
  const stages = stage ? [stage] : STAGES;
  if (!status.reachable) return { message: status.error || "LM Studio is not reachable", hint: status.hint };
  for (const s of stages) {
    const st = status.stages?.[s];
    if (st && !st.available) return { message: st.message || `${STAGE_LABELS[s]}: model ${st.model} unavailable`, hint: st.hint };
  }
  return null;
}

/** One answer (POST /autoprompt's result) into the drafts: captions, and prompts by field
 *  order (motion_prompt -> the first prompt field; clip_prompts[k] -> the k-th field). */
export function mergeResult(auto, result, fields) {
  const drafts = { ...auto.drafts };
  const errors = { ...auto.errors };
  for (const r of result?.results || []) {
    const prev = drafts[r.path] || { caption: "", prompts: {} };
    const next = { caption: r.caption ?? prev.caption, prompts: { ...prev.prompts } };
    if (Array.isArray(r.clip_prompts)) fields.forEach((f, k) => { next.prompts[f.name] = r.clip_prompts[k] ?? ""; });
    else if (typeof r.motion_prompt === "string" && fields.length) next.prompts[fields[0].name] = r.motion_prompt;
    drafts[r.path] = next;
    if (r.error) errors[r.path] = { stage: r.error.stage, code: r.error.code, message: r.error.message };
    else delete errors[r.path];
  }
  return { ...auto, drafts, errors };
}

function stagesOf(stage) {
  return stage === "both" ? STAGES : [stage];
}

export function autoReducer(auto = initialAuto(), action) {
  switch (action.type) {
    case "ap/status":
      return { ...auto, status: action.status ?? null, statusError: action.error ?? null };
    case "ap/start": { // a request is on its way: progress from zero, old errors of its stages gone
      const progress = {};
      for (const s of stagesOf(action.stage)) progress[s] = { done: 0, total: action.total };
      const errors = Object.fromEntries(Object.entries(auto.errors).filter(([, e]) => !stagesOf(action.stage).includes(e.stage)));
      return { ...auto, busy: action.stage, run: null, progress, errors, runError: null };
    }
    case "ap/run": { // GET /autoprompt/runs/{id} (or the POST's 202)
      const run = action.run;
      const next = { ...auto, run: { id: run.id, status: run.status }, progress: { ...auto.progress, ...(run.progress || {}) } };
      if (run.status === "running") return next;
      const done = { ...next, busy: null };
      if (run.status === "succeeded") return mergeResult(done, run.result, action.fields || []);
      if (run.status === "canceled") return { ...done, runError: { stage: run.current_stage, code: "canceled", message: "Canceled; finished images keep their answers in the cache.", hint: null } };
      const e = run.error || {};
      return { ...done, runError: { stage: e.stage ?? run.current_stage, code: e.code, message: e.message || "The run failed", hint: e.hint ?? null } };
    }
    case "ap/event": { // vq.autoprompt: {run_id, status: "running", stage, index, total}
      const e = action.event || {};
      if (!auto.run || e.run_id !== auto.run.id || e.status !== "running" || !e.stage) return auto;
      const prev = auto.progress[e.stage] || { done: 0, total: e.total };
      if (prev.done >= e.index) return auto;
      return { ...auto, progress: { ...auto.progress, [e.stage]: { done: e.index, total: e.total ?? prev.total } } };
    }
    case "ap/failed": // the request itself was refused (503 with a hint, 4xx)
      return { ...auto, busy: null, runError: { stage: action.stage, code: action.error?.code, message: action.error?.message || "Failed", hint: action.error?.hint ?? null } };
    case "ap/edit": {
      const prev = auto.drafts[action.path] || { caption: "", prompts: {} };
      return { ...auto, drafts: { ...auto.drafts, [action.path]: { ...prev, prompts: { ...prev.prompts, [action.name]: action.text } } } };
    }
    case "ap/clear":
      return { ...initialAuto(), status: auto.status, statusError: auto.statusError };
    default:
      return auto;
  }
}

/** The per-image prompts "Apply all" writes: every batch file, every prompt field, the
 *  drafts exactly as edited (empty for none). Same shape as the per-image manual table's. */
export function applyDrafts(drafts, paths, fields) {
  const out = {};
  for (const path of paths) {
    const prompts = drafts[path]?.prompts || {};
    out[path] = Object.fromEntries(fields.map((f) => [f.name, prompts[f.name] ?? ""]));
  }
  return out;
}

/** Files whose drafts differ from what is applied (ms.perImage). */
export function unappliedCount(drafts, perImage, paths, fields) {
  let n = 0;
  for (const path of paths) {
    const d = drafts[path]?.prompts || {};
    const a = perImage[path] || {};
    if (fields.some((f) => (d[f.name] ?? "") !== (a[f.name] ?? ""))) n += 1;
  }
  return n;
}

/** Captions of the batch files that have one ({path: caption}), for a motion-only request. */
export function captionsOf(drafts, paths) {
  const out = {};
  for (const p of paths) if (drafts[p]?.caption) out[p] = drafts[p].caption;
  return out;
}

/** "Captions 3/5" per stage that ran or runs. */
export function progressText(progress) {
  return STAGES.filter((s) => progress[s]).map((s) => `${STAGE_LABELS[s]} ${progress[s].done}/${progress[s].total}`).join(" · ");
}
