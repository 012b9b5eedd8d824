// The auto-prompt panel's I/O: the LM Studio probe, background runs (start, follow, cancel),
// vq.autoprompt events, and applying the reviewed prompts to the form. Every request is a
// background run (POST /vq/v1/autoprompt/runs), whatever the number of images: one code path
// with per-stage progress and cancel, no HTTP request held open while LM Studio JIT-loads a
// model, and no 20-image cap of the synchronous route to switch over at.
// No side effects at import; everything it touches is injected (see controller.js).

import { errorText } from "../format.js";
import { applyDrafts, captionsOf } from "./autoprompt-model.js";
import { paramsForSubmit, promptFields } from "./form-model.js";
import { currentForm } from "./state.js";

const POLL_MS = 400;

/**
 * @param {{store: object, client: object, env: object, batchFiles: Function}} deps
 */
export function createAutopromptActions({ store, client, env, batchFiles }) {
  const { dispatch, getState } = store;
  const later = env.setTimeout || ((fn, ms) => setTimeout(fn, ms));
  const cancelLater = env.clearTimeout || ((id) => clearTimeout(id));
  let pollTimer = null;
  let probing = false;
  const auto = () => getState().session.auto;

  function context() {
    const state = getState();
    const { desc, values, ms } = currentForm(state);
    const fields = desc ? promptFields(desc, values) : [];
    return { desc, values, ms, fields, paths: batchFiles(state).map((f) => f.path) };
  }

  async function refreshStatus() {
    if (probing) return;
    probing = true;
    try {
      dispatch({ type: "ap/status", status: await client.autopromptStatus() });
    } catch (err) {
      dispatch({ type: "ap/status", error: errorText(err) });
    } finally {
      probing = false;
    }
  }

  function schedulePoll(ms = POLL_MS) {
    if (pollTimer != null) cancelLater(pollTimer);
    pollTimer = later(() => {
      pollTimer = null;
      poll();
    }, ms);
  }

  async function poll() {
    const run = auto().run;
    if (!run || run.status !== "running") return;
    try {
      const next = await client.getAutopromptRun(run.id);
      dispatch({ type: "ap/run", run: next, fields: context().fields });
      if (next.status === "running") schedulePoll();
    } catch (err) {
      dispatch({ type: "ap/failed", stage: auto().busy, error: { message: errorText(err) } });
    }
  }

  /** stage: caption | motion | both; motion uses the panel's captions (none read from images). */
  async function generate(stage, { regenerate = false } = {}) {
    if (auto().busy) return;
    const { desc, values, fields, paths } = context();
    if (!desc || !paths.length || !fields.length) return;
    const body = { image_paths: paths, workflow_name: desc.name, params: paramsForSubmit(desc, values), stage };
    if (stage === "motion") {
      const captions = captionsOf(auto().drafts, paths);
      const missing = paths.length - Object.keys(captions).length;
      if (missing) {
        dispatch({ type: "ap/failed", stage, error: { message: `${missing} of ${paths.length} images have no caption yet: generate captions first.` } });
        return;
      }
      body.captions = captions;
    }
    if (regenerate) body.regenerate = true;
    dispatch({ type: "ap/start", stage, total: paths.length });
    try {
      const run = await client.startAutopromptRun(body);
      dispatch({ type: "ap/run", run, fields });
      if (run.status === "running") schedulePoll();
    } catch (err) {
      const details = err?.details || {};
      dispatch({ type: "ap/failed", stage: details.stage || stage, error: { code: err?.code, message: err?.message || errorText(err), hint: err?.hint ?? details.hint } });
      if (err?.code === "autoprompt_unavailable") refreshStatus();
    }
  }

  async function cancel() {
    const run = auto().run;
    if (!run || run.status !== "running") return;
    try {
      dispatch({ type: "ap/run", run: await client.cancelAutopromptRun(run.id), fields: context().fields });
    } catch (err) {
      dispatch({ type: "ap/failed", stage: auto().busy, error: { message: errorText(err) } });
    }
  }

  function applyAll() {
    const { fields, paths } = context();
    const applied = applyDrafts(auto().drafts, paths, fields);
    dispatch({ type: "mode/patch", patch: (m) => ({ ...m, perImage: { ...m.perImage, ...applied } }) });
  }

  function clearAll() {
    const { paths } = context();
    dispatch({ type: "ap/clear" });
    const gone = new Set(paths);
    dispatch({ type: "mode/patch", patch: (m) => ({ ...m, perImage: Object.fromEntries(Object.entries(m.perImage).filter(([p]) => !gone.has(p))) }) });
  }

  /** A vq.autoprompt websocket event: progress now, and the result as soon as the run ends. */
  function onEvent(data) {
    dispatch({ type: "ap/event", event: data });
    const run = auto().run;
    if (run && data?.run_id === run.id && data.status !== "running") schedulePoll(0);
  }

  return {
    refreshStatus,
    onEvent,
    stop() {
      if (pollTimer != null) cancelLater(pollTimer);
      pollTimer = null;
    },
    actions: {
      autopromptCheck: refreshStatus,
      autopromptCaptions: () => generate("caption"),
      autopromptMotion: () => generate(Object.keys(captionsOf(auto().drafts, context().paths)).length === context().paths.length ? "motion" : "both"),
      autopromptRegenerate: () => generate("motion", { regenerate: true }),
      autopromptCancel: cancel,
      autopromptEdit: (path, name, text) => dispatch({ type: "ap/edit", path, name, text }),
      autopromptApply: applyAll,
      autopromptClear: clearAll,
    },
  };
}
