// The Submit view's saved form: workspaces (tabs), each with a current mode and, per mode,
// its workflow, parameter values per workflow, inputs, per-image prompts, run options and
// preset selection. Pure functions over plain objects; persistence.js stores them.

import { MODE_IDS } from "./modes.js";

export const DEFAULT_OPTIONS = Object.freeze({
  tries: 1, seedMode: "random", priority: 0, name: "", moveProcessed: false,
});

export function defaultModeState() {
  return {
    workflow: null,
    variant: "t2i",
    params: {}, // workflow name -> {param name: value}
    folder: "",
    dropped: [], // [{name, path, size, kind}] uploaded files; when non-empty they are the input
    perImage: {}, // input path -> {prompt param name: text}
    promptMode: "manual",
    options: { ...DEFAULT_OPTIONS },
    presets: { prompt: null, settings: null },
  };
}

export function defaultWorkspace(id, name) {
  return { id, name, mode: MODE_IDS[0], modes: {} };
}

export function initialWorkspaces() {
  return { active: "ws-1", seq: 1, workspaces: [defaultWorkspace("ws-1", "Workspace 1")] };
}

export function activeWorkspace(forms) {
  return forms.workspaces.find((w) => w.id === forms.active) || forms.workspaces[0];
}

/** A mode's state in a workspace, defaults filled in (nothing is stored until it changes). */
export function modeState(ws, modeId = ws.mode) {
  const saved = ws.modes[modeId];
  const base = defaultModeState();
  if (!saved) return base;
  return { ...base, ...saved, options: { ...base.options, ...saved.options }, presets: { ...base.presets, ...saved.presets } };
}

function mapActive(forms, fn) {
  return { ...forms, workspaces: forms.workspaces.map((w) => (w.id === forms.active ? fn(w) : w)) };
}

/** Merge `patch` into the active workspace's state of `modeId` (default: its current mode). */
export function patchMode(forms, patch, modeId) {
  return mapActive(forms, (w) => {
    const id = modeId || w.mode;
    const prev = modeState(w, id);
    const next = typeof patch === "function" ? patch(prev) : { ...prev, ...patch };
    return { ...w, modes: { ...w.modes, [id]: next } };
  });
}

export function setParam(forms, workflow, name, value) {
  return patchMode(forms, (m) => ({ ...m, params: { ...m.params, [workflow]: { ...m.params[workflow], [name]: value } } }));
}

export function setMode(forms, modeId) {
  if (!MODE_IDS.includes(modeId)) return forms;
  return mapActive(forms, (w) => (w.mode === modeId ? w : { ...w, mode: modeId }));
}

/** A new workspace starts from defaults (not a copy of the current one) and becomes active. */
export function createWorkspace(forms) {
  const seq = forms.seq + 1;
  const names = new Set(forms.workspaces.map((w) => w.name));
  let n = forms.workspaces.length + 1;
  while (names.has(`Workspace ${n}`)) n++;
  const ws = defaultWorkspace(`ws-${seq}`, `Workspace ${n}`);
  return { ...forms, seq, active: ws.id, workspaces: [...forms.workspaces, ws] };
}

export function renameWorkspace(forms, id, name) {
  const clean = String(name || "").trim().slice(0, 60);
  if (!clean) return forms;
  return { ...forms, workspaces: forms.workspaces.map((w) => (w.id === id ? { ...w, name: clean } : w)) };
}

/** Close a workspace; the neighbour (right, else left) becomes active. The last one stays. */
export function closeWorkspace(forms, id) {
  const i = forms.workspaces.findIndex((w) => w.id === id);
  if (i < 0 || forms.workspaces.length <= 1) return forms;
  const workspaces = forms.workspaces.filter((w) => w.id !== id);
  const active = forms.active === id ? workspaces[Math.min(i, workspaces.length - 1)].id : forms.active;
  return { ...forms, workspaces, active };
}

export function activateWorkspace(forms, id) {
  return forms.workspaces.some((w) => w.id === id) && forms.active !== id ? { ...forms, active: id } : forms;
}
