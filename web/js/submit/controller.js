// The Submit view's I/O: the workflow list and descriptions, path checks, the folder
// browser, uploads, dry-run previews, submits and presets (presets.js), and saving the form.
// No side effects at import; everything it touches is injected (see main.js).

import { errorText, plural } from "../format.js";
import { resolveValues } from "./form-model.js";
import { categoryWorkflows, fitsMode, inputNeed } from "./modes.js";
import { isPerImage, PER_IMAGE_AUTO } from "./autoprompt-model.js";
import { createAutopromptActions } from "./autoprompt.js";
import { buildSubmitBody, describePlan, inputOf, validateSubmit } from "./payload.js";
import { clearForms, saveForms } from "./persistence.js";
import { createPresetActions } from "./presets.js";
import { currentForm } from "./state.js";
import { initialWorkspaces } from "./workspaces.js";

const PATH_CHECK_MS = 300;

/**
 * @param {object} deps
 * @param {{getState: Function, dispatch: Function, subscribe: Function}} deps.store  the submit store
 * @param {object} deps.client  api-client.js
 * @param {object} deps.env  toast(severity, summary, detail), storage, upload(file, onProgress) -> Promise,
 *   openJob(id), setTimeout, clearTimeout
 */
export function createSubmitController({ store, client, env }) {
  const { dispatch, getState } = store;
  const later = env.setTimeout || ((fn, ms) => setTimeout(fn, ms));
  const cancelLater = env.clearTimeout || ((id) => clearTimeout(id));
  const resolved = new Set(); // "<workspace>|<mode>|<workflow>" whose saved values were checked this session
  let pathTimer = null;
  let uploadSeq = 0;
  const session = () => getState().session;
  const notice = (text, tone = "info", extra = {}) => dispatch({ type: "session/set", key: "notice", value: text ? { text, tone, ...extra } : null });

  // --- workflows -------------------------------------------------------------------------

  async function loadWorkflows() {
    if (session().workflows.loading) return;
    dispatch({ type: "session/merge", key: "workflows", patch: { loading: true, error: null } });
    try {
      const { workflows } = await client.listWorkflows();
      dispatch({ type: "session/merge", key: "workflows", patch: { list: workflows, loading: false } });
    } catch (err) {
      dispatch({ type: "session/merge", key: "workflows", patch: { loading: false, error: errorText(err) } });
    }
  }

  async function describe(name) {
    const entry = session().descriptions[name];
    if (entry?.desc || entry?.loading) return;
    dispatch({ type: "session/entry", key: "descriptions", id: name, patch: { loading: true, error: null } });
    try {
      const desc = await client.describeWorkflow(name);
      dispatch({ type: "session/entry", key: "descriptions", id: name, patch: { desc, loading: false } });
    } catch (err) {
      dispatch({ type: "session/entry", key: "descriptions", id: name, patch: { loading: false, error: errorText(err) } });
    }
  }

  /** The mode's workflows whose descriptions fit it (null while any is still loading). */
  function fittingWorkflows(state = getState()) {
    const { modeId, ms } = currentForm(state);
    const list = state.session.workflows.list;
    if (!list) return null;
    const out = [];
    for (const w of categoryWorkflows(list, modeId)) {
      const entry = state.session.descriptions[w.name];
      if (!entry?.desc) {
        if (!entry?.error) return null;
        continue;
      }
      if (fitsMode(entry.desc, modeId, ms.variant)) out.push(w);
    }
    return out;
  }

  /** Keep the view's inputs in step with the form: load what it needs, pick a workflow,
   *  check saved values against the definition once. Idempotent; runs after every change. */
  function sync() {
    const state = getState();
    const { ws, modeId, ms, desc } = currentForm(state);
    const list = state.session.workflows.list;
    if (!list) {
      if (!state.session.workflows.error) loadWorkflows();
      return;
    }
    for (const w of categoryWorkflows(list, modeId)) describe(w.name);
    const fitting = fittingWorkflows(state);
    if (!fitting) return;
    if (!fitting.some((w) => w.name === ms.workflow)) {
      if (fitting.length) chooseWorkflow(fitting[0].name);
      return;
    }
    if (!desc) return;
    const key = `${ws.id}|${modeId}|${desc.name}`;
    if (!resolved.has(key)) {
      resolved.add(key);
      const { values, ignored, clamped } = resolveValues(desc, ms.params[desc.name] || {});
      dispatch({ type: "mode/patch", patch: { params: { ...ms.params, [desc.name]: values } } });
      const parts = [];
      if (ignored.length) parts.push(`${plural(ignored.length, "saved setting")} no longer in “${desc.display_name || desc.name}” ignored: ${ignored.join(", ")}.`);
      if (clamped.length) parts.push(`Out-of-range values adjusted: ${clamped.join(", ")}.`);
      if (parts.length) notice(parts.join(" "), "warn");
    }
    refreshPerImageFiles();
    const auto = state.session.auto;
    if (ms.promptMode === PER_IMAGE_AUTO && !auto.status && !auto.statusError) autoprompt.refreshStatus();
  }

  function chooseWorkflow(name) {
    const { ws, modeId, ms } = currentForm(getState());
    const desc = session().descriptions[name]?.desc;
    if (!desc || name === ms.workflow) return;
    const current = ms.workflow ? ms.params[ms.workflow] : {};
    const { values } = resolveValues(desc, ms.params[name] || {}, current);
    resolved.add(`${ws.id}|${modeId}|${name}`);
    dispatch({ type: "mode/patch", patch: { workflow: name, params: { ...ms.params, [name]: values } } });
    schedulePathCheck();
  }

  // --- inputs ------------------------------------------------------------------------------

  function setFolder(text) {
    dispatch({ type: "mode/patch", patch: { folder: text } });
    schedulePathCheck();
  }

  function schedulePathCheck() {
    if (pathTimer != null) cancelLater(pathTimer);
    pathTimer = later(() => {
      pathTimer = null;
      checkPath();
    }, PATH_CHECK_MS);
  }

  async function checkPath() {
    const { ms, desc } = currentForm(getState());
    const path = ms.folder.trim();
    if (!path || !desc) return;
    const key = `${desc.name}\n${path}`;
    if (session().pathInfo[key]?.result || session().pathInfo[key]?.loading) return;
    dispatch({ type: "session/entry", key: "pathInfo", id: key, patch: { loading: true, error: null } });
    try {
      const result = await client.normalizePath(path, desc.name);
      dispatch({ type: "session/entry", key: "pathInfo", id: key, patch: { loading: false, result } });
    } catch (err) {
      dispatch({ type: "session/entry", key: "pathInfo", id: key, patch: { loading: false, error: errorText(err) } });
    }
    refreshPerImageFiles();
  }

  /** Files of a typed folder for the per-image table (the dropped set lists itself). */
  async function refreshPerImageFiles() {
    const { modeId, ms, desc } = currentForm(getState());
    if (!isPerImage(ms.promptMode) || !desc || ms.dropped.length || inputNeed(modeId, desc) !== "many") return;
    const path = ms.folder.trim();
    const info = session().pathInfo[`${desc.name}\n${path}`]?.result;
    if (!path || info?.kind !== "folder") return;
    const key = `${desc.name}\n${info.path}`;
    if (session().folderFiles[key]) return;
    dispatch({ type: "session/entry", key: "folderFiles", id: key, patch: { loading: true } });
    try {
      const listing = await client.browse({ path: info.path, workflow: desc.name, limit: 500 });
      dispatch({ type: "session/entry", key: "folderFiles", id: key, patch: { loading: false, files: listing.files } });
    } catch (err) {
      dispatch({ type: "session/entry", key: "folderFiles", id: key, patch: { loading: false, error: errorText(err) } });
    }
  }

  async function browse(path) {
    const { desc } = currentForm(getState());
    dispatch({ type: "session/set", key: "browser", value: { ...session().browser, path, loading: true, error: null } });
    try {
      const listing = await client.browse({ path: path || undefined, workflow: desc?.name, limit: 500 });
      if (session().browser) dispatch({ type: "session/set", key: "browser", value: { path: listing.path, listing, loading: false, error: null } });
    } catch (err) {
      if (session().browser) dispatch({ type: "session/set", key: "browser", value: { ...session().browser, loading: false, error: errorText(err) } });
    }
  }

  function pickPath(path) {
    dispatch({ type: "session/set", key: "browser", value: null });
    setFolder(path);
  }

  async function addFiles(files) {
    const { modeId, desc } = currentForm(getState());
    const exts = desc?.input?.extensions || [];
    const wanted = [];
    const skipped = [];
    for (const f of files) (exts.some((e) => f.name.toLowerCase().endsWith(e)) ? wanted : skipped).push(f);
    if (skipped.length) notice(`${plural(skipped.length, "file")} skipped (this workflow takes ${exts.join(" ") || "no files"}): ${skipped.slice(0, 3).map((f) => f.name).join(", ")}${skipped.length > 3 ? "…" : ""}`, "warn");
    const one = inputNeed(modeId, desc) === "one";
    const batch = one ? wanted.slice(0, 1) : wanted;
    if (one && wanted.length > 1) notice("This mode takes one image; the first dropped one is used.", "warn");
    await Promise.all(batch.map(async (file) => {
      const id = `u${++uploadSeq}`;
      dispatch({ type: "upload/progress", upload: { id, name: file.name, loaded: 0, total: file.size || 0, error: null } });
      try {
        const result = await env.upload(file, (loaded, total) => dispatch({ type: "upload/progress", upload: { id, loaded, total } }));
        const entry = { name: result.original_filename || result.name, path: result.path, size: result.size, kind: desc?.input?.kind || "image" };
        dispatch({ type: "mode/patch", mode: modeId, patch: (m) => ({ ...m, dropped: one ? [entry] : [...m.dropped.filter((d) => d.path !== entry.path), entry] }) });
        dispatch({ type: "upload/done", id });
      } catch (err) {
        dispatch({ type: "upload/progress", upload: { id, error: errorText(err) } });
      }
    }));
  }

  function removeDropped(path) {
    dispatch({ type: "mode/patch", patch: (m) => ({ ...m, dropped: m.dropped.filter((d) => d.path !== path) }) });
  }

  // --- preview and submit -------------------------------------------------------------------

  function batchFiles(state = getState()) {
    const { modeId, ms, desc } = currentForm(state);
    const { source, input } = inputOf(modeId, desc, ms);
    if (source === "dropped") return ms.dropped.map((d) => ({ path: d.path, name: d.name }));
    if (source !== "path") return [];
    const info = state.session.pathInfo[`${desc.name}\n${input}`]?.result;
    if (info?.kind === "file") return [{ path: info.path, name: info.path.split(/[\\/]/).pop() }];
    const listed = info ? state.session.folderFiles[`${desc.name}\n${info.path}`]?.files : null;
    return (listed || []).map((f) => ({ path: f.path, name: f.name, thumbnail: f.thumbnail_url }));
  }

  function formBody(dryRun) {
    const state = getState();
    const { ws, modeId, ms, desc, values } = currentForm(state);
    const errors = validateSubmit({ modeId, desc, ms, values });
    if (Object.keys(errors).length) {
      dispatch({ type: "session/set", key: "serverErrors", value: errors });
      notice(`Fix ${plural(Object.keys(errors).length, "field")} first: ${Object.values(errors)[0]}`, "error");
      return null;
    }
    return buildSubmitBody({ modeId, desc, ms, values, workspace: ws.name, dryRun, files: batchFiles(state).map((f) => f.path) });
  }

  /** A refused submit: point at the field the server names (details.param), else say it. */
  function refused(err, what) {
    const param = err?.details?.param;
    const field = param === "input" || param === "per_file_params" || err?.status === 403 ? "input" : param;
    if (field) dispatch({ type: "session/set", key: "serverErrors", value: { [field]: err.message } });
    notice(`${what}: ${errorText(err)}`, "error");
  }

  async function preview() {
    if (session().busy.preview) return;
    const body = formBody(true);
    if (!body) return;
    dispatch({ type: "session/merge", key: "busy", patch: { preview: true } });
    dispatch({ type: "session/set", key: "preview", value: { loading: true } });
    try {
      const result = await client.submitJob(body);
      const kind = currentForm(getState()).desc?.input?.kind === "video" ? "video" : "image";
      dispatch({ type: "session/set", key: "preview", value: { loading: false, result, summary: describePlan(result, body.tries, kind) } });
      notice(null);
    } catch (err) {
      dispatch({ type: "session/set", key: "preview", value: null });
      refused(err, "Preview refused");
    } finally {
      dispatch({ type: "session/merge", key: "busy", patch: { preview: false } });
    }
  }

  async function submit() {
    if (session().busy.submit) return;
    const body = formBody(false);
    if (!body) return;
    dispatch({ type: "session/merge", key: "busy", patch: { submit: true } });
    try {
      const job = await client.submitJob(body);
      const text = `Job #${job.id} “${job.name}” queued: ${plural(job.total, "prompt")}.`;
      notice(text, "success", { jobId: job.id });
      env.toast("success", "Job queued", `${text} Open it from the Submit view's notice or the Queue tab.`);
    } catch (err) {
      refused(err, "Submit refused");
    } finally {
      dispatch({ type: "session/merge", key: "busy", patch: { submit: false } });
    }
  }

  // --- saving --------------------------------------------------------------------------------

  function resetSaved() {
    clearForms(env.storage);
    resolved.clear();
    dispatch({ type: "forms/replace", forms: initialWorkspaces() });
    notice("Saved options cleared; every workspace starts from defaults.", "info");
  }

  let unsubscribe = null;
  function onChange(state, prev) {
    if (state.forms !== prev.forms) saveForms(env.storage, state.forms);
    sync();
  }

  const presets = createPresetActions({ store, client, env, notice, describe, chooseWorkflow });
  const autoprompt = createAutopromptActions({ store, client, env, batchFiles });

  return {
    start() {
      if (unsubscribe) return;
      unsubscribe = store.subscribe(onChange);
      sync();
      presets.refresh();
    },
    stop() {
      autoprompt.stop();
      unsubscribe?.();
      unsubscribe = null;
    },
    batchFiles,
    fittingWorkflows,
    /** A vq.autoprompt websocket event (main.js). */
    autopromptEvent: autoprompt.onEvent,
    /** Problems shown while editing (the missing-input one waits for a submit attempt). */
    localErrors(state = getState()) {
      const { modeId, ms, desc, values } = currentForm(state);
      if (!desc) return {};
      const { input: _later, ...errors } = validateSubmit({ modeId, desc, ms, values });
      return errors;
    },
    actions: {
      setMode: (mode) => dispatch({ type: "mode/set", mode }),
      setVariant: (variant) => dispatch({ type: "mode/patch", patch: { variant } }),
      chooseWorkflow,
      setParam: (name, value) => {
        const { ms } = currentForm(getState());
        if (ms.workflow) dispatch({ type: "param/set", workflow: ms.workflow, name, value });
      },
      setOption: (key, value) => dispatch({ type: "mode/patch", patch: (m) => ({ ...m, options: { ...m.options, [key]: value } }) }),
      setPromptMode: (promptMode) => {
        dispatch({ type: "mode/patch", patch: { promptMode } });
        refreshPerImageFiles();
        if (promptMode === PER_IMAGE_AUTO) autoprompt.refreshStatus();
      },
      setPerImage: (path, name, text) => dispatch({ type: "mode/patch",
        patch: (m) => ({ ...m, perImage: { ...m.perImage, [path]: { ...m.perImage[path], [name]: text } } }) }),
      setFolder,
      openBrowser: (path) => browse(path || currentForm(getState()).ms.folder.trim() || ""),
      browse,
      closeBrowser: () => dispatch({ type: "session/set", key: "browser", value: null }),
      pickPath,
      addFiles,
      removeDropped,
      clearDropped: () => dispatch({ type: "mode/patch", patch: { dropped: [] } }),
      dismissUpload: (id) => dispatch({ type: "upload/done", id }),
      createWorkspace: () => dispatch({ type: "ws/create" }),
      closeWorkspace: (id) => dispatch({ type: "ws/close", id }),
      renameWorkspace: (id, name) => dispatch({ type: "ws/rename", id, name }),
      activateWorkspace: (id) => dispatch({ type: "ws/activate", id }),
      toggle: (key) => dispatch({ type: "open/toggle", key }),
      dismissNotice: () => notice(null),
      openJob: (id) => env.openJob(id),
      preview,
      submit,
      resetSaved,
      retryWorkflows: () => loadWorkflows(),
      ...presets.actions,
      ...autoprompt.actions,
    },
  };
}
