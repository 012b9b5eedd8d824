// The Submit view's store state: `forms` (workspaces.js; saved in localStorage) and
// `session` (what the server said and what is in flight; never saved). Pure reducer.

import { autoReducer, initialAuto } from "./autoprompt-model.js";
import { activateWorkspace, activeWorkspace, closeWorkspace, createWorkspace, initialWorkspaces, modeState, patchMode, renameWorkspace, setMode, setParam } from "./workspaces.js";

export function initialSession() {
  return {
    notice: null, // {text, tone: "info"|"warn"|"error"|"success", jobId?}
    workflows: { list: null, loading: false, error: null },
    descriptions: {}, // name -> {desc, loading, error}
    pathInfo: {}, // "<workflow>\n<path>" -> {loading, result, error}
    folderFiles: {}, // "<workflow>\n<folder>" -> {loading, files, error}  (per-image table of a folder)
    browser: null, // {path, listing, loading, error} while the folder browser is open
    uploads: [], // [{id, name, loaded, total, error}]
    preview: null, // {loading, result, error, key}
    serverErrors: {}, // field -> message from the last refused submit
    busy: {}, // "submit" | "preview" | "presets" -> true
    presets: { prompt: [], settings: [], loaded: false, error: null },
    open: {}, // disclosure key -> true (advanced sections, preview JSON)
    auto: initialAuto(), // the auto-prompt panel (autoprompt-model.js)
  };
}

export function initialSubmitState(forms = initialWorkspaces(), notice = null) {
  return { forms, session: { ...initialSession(), notice: notice ? { text: notice, tone: "warn" } : null } };
}

const formActions = {
  "ws/create": (f) => createWorkspace(f),
  "ws/close": (f, a) => closeWorkspace(f, a.id),
  "ws/rename": (f, a) => renameWorkspace(f, a.id, a.name),
  "ws/activate": (f, a) => activateWorkspace(f, a.id),
  "mode/set": (f, a) => setMode(f, a.mode),
  "mode/patch": (f, a) => patchMode(f, a.patch, a.mode),
  "param/set": (f, a) => setParam(f, a.workflow, a.name, a.value),
  "forms/replace": (f, a) => a.forms,
};

export function submitReducer(state, action) {
  const formAction = formActions[action.type];
  if (formAction) {
    const forms = formAction(state.forms, action);
    if (forms === state.forms) return state;
    // Anything the user changes makes an old preview and old server errors stale.
    const session = action.type.startsWith("ws/") || action.type === "mode/set"
      ? state.session : { ...state.session, preview: null, serverErrors: clearErrors(state.session.serverErrors, action) };
    return { ...state, forms, session };
  }
  if (action.type.startsWith("ap/")) {
    const auto = autoReducer(state.session.auto, action);
    return auto === state.session.auto ? state : { ...state, session: { ...state.session, auto } };
  }
  switch (action.type) {
    case "session/set":
      return state.session[action.key] === action.value ? state : { ...state, session: { ...state.session, [action.key]: action.value } };
    case "session/merge": {
      const prev = state.session[action.key] || {};
      return { ...state, session: { ...state.session, [action.key]: { ...prev, ...action.patch } } };
    }
    case "session/entry": { // one keyed entry of a map in the session (descriptions, pathInfo, ...)
      const map = state.session[action.key] || {};
      return { ...state, session: { ...state.session, [action.key]: { ...map, [action.id]: { ...map[action.id], ...action.patch } } } };
    }
    case "upload/progress": {
      const uploads = state.session.uploads.some((u) => u.id === action.upload.id)
        ? state.session.uploads.map((u) => (u.id === action.upload.id ? { ...u, ...action.upload } : u))
        : [...state.session.uploads, action.upload];
      return { ...state, session: { ...state.session, uploads } };
    }
    case "upload/done":
      return { ...state, session: { ...state.session, uploads: state.session.uploads.filter((u) => u.id !== action.id) } };
    case "open/toggle": {
      const { [action.key]: was, ...rest } = state.session.open;
      return { ...state, session: { ...state.session, open: was ? rest : { ...rest, [action.key]: true } } };
    }
    default:
      return state;
  }
}

function clearErrors(errors, action) {
  if (!Object.keys(errors).length) return errors;
  if (action.type === "param/set") {
    const { [action.name]: _gone, ...rest } = errors;
    return rest;
  }
  return {};
}

/** What the view draws from: the active workspace, its mode's state and the workflow's description. */
export function currentForm(state) {
  const ws = activeWorkspace(state.forms);
  const modeId = ws.mode;
  const ms = modeState(ws, modeId);
  const entry = ms.workflow ? state.session.descriptions[ms.workflow] : null;
  const desc = entry?.desc || null;
  const values = (ms.workflow && ms.params[ms.workflow]) || {};
  return { ws, modeId, ms, desc, descEntry: entry, values };
}
