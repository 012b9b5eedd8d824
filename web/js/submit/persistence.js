// localStorage of the Submit view's form (versioned). A saved form that cannot be read
// (corrupted JSON, a wrong shape, a newer version) falls back to defaults with a notice;
// values inside it are checked field by field later, against the workflow's definition.

import { MODE_IDS } from "./modes.js";
import { DEFAULT_OPTIONS, initialWorkspaces } from "./workspaces.js";

export const STORAGE_KEY = "vq.submit.form";
export const VERSION = 1;

const isObject = (v) => v != null && typeof v === "object" && !Array.isArray(v);

/** @returns {{forms: object, notice: string|null}} */
export function loadForms(storage) {
  let text;
  try {
    text = storage?.getItem(STORAGE_KEY);
  } catch {
    return { forms: initialWorkspaces(), notice: "Saved options could not be read; starting from defaults." };
  }
  if (!text) return { forms: initialWorkspaces(), notice: null };
  try {
    const data = JSON.parse(text);
    if (!isObject(data) || data.version !== VERSION) throw new Error(`unknown version ${data?.version}`);
    return { forms: sanitize(data.forms), notice: null };
  } catch (err) {
    console.warn("[vq] ignoring unreadable saved submit options", err);
    return { forms: initialWorkspaces(), notice: "Saved options were unreadable and have been reset to defaults." };
  }
}

export function saveForms(storage, forms) {
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify({ version: VERSION, forms }));
    return true;
  } catch (err) {
    console.warn("[vq] could not save the submit options", err);
    return false;
  }
}

export function clearForms(storage) {
  try {
    storage?.removeItem(STORAGE_KEY);
  } catch {
    /* nothing saved to clear */
  }
}

/** Keep what has the right shape; throw when the whole thing is unusable. */
function sanitize(forms) {
  if (!isObject(forms) || !Array.isArray(forms.workspaces)) throw new Error("no workspaces");
  const seen = new Set();
  const workspaces = [];
  for (const w of forms.workspaces) {
    if (!isObject(w) || typeof w.id !== "string" || seen.has(w.id)) continue;
    seen.add(w.id);
    const modes = {};
    for (const [id, m] of Object.entries(isObject(w.modes) ? w.modes : {})) {
      if (MODE_IDS.includes(id) && isObject(m)) modes[id] = sanitizeMode(m);
    }
    workspaces.push({
      id: w.id,
      name: typeof w.name === "string" && w.name.trim() ? w.name.slice(0, 60) : `Workspace ${workspaces.length + 1}`,
      mode: MODE_IDS.includes(w.mode) ? w.mode : MODE_IDS[0],
      modes,
    });
  }
  if (!workspaces.length) throw new Error("no usable workspace");
  const seq = Math.max(Number.isInteger(forms.seq) ? forms.seq : 0, ...workspaces.map((w) => Number(w.id.slice(3)) || 0));
  const active = workspaces.some((w) => w.id === forms.active) ? forms.active : workspaces[0].id;
  return { active, seq, workspaces };
}

function sanitizeMode(m) {
  const out = {};
  if (typeof m.workflow === "string") out.workflow = m.workflow;
  if (m.variant === "t2i" || m.variant === "i2i") out.variant = m.variant;
  if (isObject(m.params)) out.params = Object.fromEntries(Object.entries(m.params).filter(([, v]) => isObject(v)));
  if (typeof m.folder === "string") out.folder = m.folder;
  if (Array.isArray(m.dropped)) out.dropped = m.dropped.filter((d) => isObject(d) && typeof d.path === "string" && typeof d.name === "string");
  if (isObject(m.perImage)) out.perImage = Object.fromEntries(Object.entries(m.perImage).filter(([, v]) => isObject(v)));
  if (["manual", "per-image manual", "per-image auto"].includes(m.promptMode)) out.promptMode = m.promptMode;
  if (isObject(m.options)) {
    const o = {};
    for (const [k, d] of Object.entries(DEFAULT_OPTIONS)) if (typeof m.options[k] === typeof d) o[k] = m.options[k];
    if (o.seedMode && o.seedMode !== "random" && o.seedMode !== "fixed") delete o.seedMode;
    out.options = o;
  }
  if (isObject(m.presets)) out.presets = { prompt: m.presets.prompt ?? null, settings: m.presets.settings ?? null };
  return out;
}
