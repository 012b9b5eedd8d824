// Delegated input of the Submit view: one listener per event type on its root, mapped to
// the submit controller's actions. Typing keeps raw text (so a bad number is marked inline);
// committing (change) coerces and clamps it.

import { droppedFiles } from "./submit-inputs.js";

const NUMERIC_OPTIONS = new Set(["tries", "priority"]);

/**
 * @param {HTMLElement} root
 * @param {{store, actions, view: {editing}, schedule: Function, presets, fieldOf: Function,
 *   coerceValue: Function, emptyChainRow: Function}} deps
 * @returns {() => void} removes every listener
 */
export function bindSubmitEvents(root, { actions, view, schedule, presets, fieldOf, coerceValue, emptyChainRow, store }) {
  const values = () => {
    const ws = store.getState().forms;
    const w = ws.workspaces.find((x) => x.id === ws.active);
    const m = w.modes[w.mode];
    return (m?.workflow && m.params?.[m.workflow]) || {};
  };

  function setChainPart(t, commit) {
    const f = fieldOf(t.dataset.param);
    const rows = (values()[f.name] || []).map((r) => ({ ...r }));
    const i = Number(t.dataset.row);
    if (!rows[i]) return;
    rows[i][t.dataset.part] = t.dataset.part === "strength" && commit
      ? coerceValue({ type: "float", min: f.min, max: f.max }, t.value).value ?? 1 : t.value;
    actions.setParam(f.name, rows);
  }

  const clicks = {
    mode: (t) => actions.setMode(t.dataset.mode),
    variant: (t) => actions.setVariant(t.dataset.variant),
    toggle: (t) => actions.toggle(t.dataset.key),
    "ws-activate": (t) => actions.activateWorkspace(t.dataset.id),
    "ws-create": () => actions.createWorkspace(),
    "ws-close": (t) => actions.closeWorkspace(t.dataset.id),
    "stage-add": () => stage(+1),
    "stage-remove": () => stage(-1),
    "lora-add": (t) => {
      const f = fieldOf(t.dataset.param);
      actions.setParam(f.name, [...(values()[f.name] || []), emptyChainRow(f)]);
    },
    "lora-remove": (t) => {
      const f = fieldOf(t.dataset.param);
      actions.setParam(f.name, (values()[f.name] || []).filter((_r, i) => i !== Number(t.dataset.row)));
    },
    browse: () => actions.openBrowser(),
    "browse-to": (t) => actions.browse(t.dataset.path),
    "browse-close": () => actions.closeBrowser(),
    "pick-path": (t) => actions.pickPath(t.dataset.path),
    "choose-files": () => root.querySelector("[data-sinput=files]")?.click(),
    "remove-dropped": (t) => actions.removeDropped(t.dataset.path),
    "clear-dropped": () => actions.clearDropped(),
    "dismiss-upload": (t) => actions.dismissUpload(t.dataset.id),
    "dismiss-notice": () => actions.dismissNotice(),
    "open-job": (t) => t.dataset.id && actions.openJob(Number(t.dataset.id)),
    "prompt-mode": (t) => actions.setPromptMode(t.dataset.promptMode),
    "ap-check": () => actions.autopromptCheck(),
    "ap-captions": () => actions.autopromptCaptions(),
    "ap-motion": () => actions.autopromptMotion(),
    "ap-regenerate": () => actions.autopromptRegenerate(),
    "ap-cancel": () => actions.autopromptCancel(),
    "ap-apply": () => actions.autopromptApply(),
    "ap-clear": () => actions.autopromptClear(),
    preview: () => actions.preview(),
    submit: () => actions.submit(),
    "reset-saved": () => actions.resetSaved(),
    "preset-save": (t) => actions.savePreset(t.dataset.kind, presets.takeName(t.dataset.kind)),
    "preset-rename": (t) => {
      const id = presets.selected(t.dataset.kind);
      if (id != null) actions.renamePreset(t.dataset.kind, id, presets.takeName(t.dataset.kind));
    },
    "preset-delete": (t) => {
      const id = presets.selected(t.dataset.kind);
      if (id != null) actions.deletePreset(t.dataset.kind, id);
    },
  };

  function stage(delta) {
    const state = store.getState();
    const ws = state.forms.workspaces.find((x) => x.id === state.forms.active);
    const wf = ws.modes[ws.mode]?.workflow;
    const desc = wf && state.session.descriptions[wf]?.desc;
    if (!desc?.stages) return;
    const n = Number(values()[desc.stages.count_param] ?? desc.stages.default) + delta;
    if (n >= desc.stages.min && n <= desc.stages.max) actions.setParam(desc.stages.count_param, n);
  }

  function onClick(event) {
    const t = event.target.closest("[data-sact]");
    if (!t || !root.contains(t) || t.disabled || t.getAttribute("aria-disabled") === "true") return;
    clicks[t.dataset.sact]?.(t);
  }

  function onInput(event) {
    const t = event.target;
    const d = t.dataset || {};
    if (d.apPath) actions.autopromptEdit(d.apPath, d.apField, t.value);
    else if (d.perImage) actions.setPerImage(d.perImage, d.param, t.value);
    else if (d.part) setChainPart(t, false);
    else if (d.param && t.type !== "checkbox" && t.tagName !== "SELECT") actions.setParam(d.param, t.value);
    else if (d.option && t.type !== "checkbox" && t.tagName !== "SELECT") actions.setOption(d.option, t.value);
    else if (d.sinput === "folder") actions.setFolder(t.value);
  }

  function onChange(event) {
    const t = event.target;
    const d = t.dataset || {};
    if (d.part) return setChainPart(t, true);
    if (d.param && !d.perImage) {
      const f = fieldOf(d.param);
      if (!f) return undefined;
      if (t.type === "checkbox") return actions.setParam(f.name, t.checked);
      const c = coerceValue(f, t.value);
      if (!c.error && (f.type === "int" || f.type === "float")) t.value = c.value;
      return actions.setParam(f.name, c.error ? t.value : c.value);
    }
    if (d.option) {
      if (t.type === "checkbox") return actions.setOption(d.option, t.checked);
      if (NUMERIC_OPTIONS.has(d.option)) {
        const c = coerceValue({ type: "int", min: d.option === "tries" ? 1 : -1000000, max: d.option === "tries" ? 100 : 1000000 }, t.value);
        if (!c.error) t.value = c.value;
        return actions.setOption(d.option, c.error ? t.value : c.value);
      }
      return actions.setOption(d.option, t.value);
    }
    if (d.schange === "workflow") return actions.chooseWorkflow(t.value);
    if (d.schange === "preset-apply") return t.value && actions.applyPreset(d.kind, Number(t.value));
    if (d.sinput === "prompt-mode") return actions.setPromptMode(t.checked ? "per-image manual" : "manual");
    if (d.sinput === "files") {
      const files = [...(t.files || [])];
      t.value = "";
      if (files.length) actions.addFiles(files);
    }
    return undefined;
  }

  function finishRename(input, save) {
    if (view.editing == null) return;
    const id = view.editing;
    view.editing = null;
    if (save) actions.renameWorkspace(id, input.value);
    schedule();
    requestAnimationFrame(() => root.querySelector(`[data-ws-id="${id}"] [data-sact=ws-activate]`)?.focus());
  }

  function onKeydown(event) {
    const t = event.target;
    if (t.dataset?.sinput === "ws-rename") {
      if (event.key === "Enter" || event.key === "Escape") {
        event.preventDefault();
        finishRename(t, event.key === "Enter");
      }
      return;
    }
    if (t.dataset?.sact === "ws-activate" && event.key === "F2") {
      event.preventDefault();
      view.editing = t.dataset.id;
      schedule();
      return;
    }
    if (t.dataset?.sact === "choose-files" && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      clicks["choose-files"]();
      return;
    }
    const tablist = t.closest?.("[role=tablist]");
    if (tablist && root.contains(tablist) && (event.key === "ArrowRight" || event.key === "ArrowLeft")) {
      event.preventDefault();
      const tabs = [...tablist.querySelectorAll("[role=tab]")];
      const next = tabs[(tabs.indexOf(t) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      next?.focus();
      next?.click();
    }
  }

  function onFocusOut(event) {
    if (event.target.dataset?.sinput === "ws-rename") finishRename(event.target, true);
  }

  function onDblClick(event) {
    const t = event.target.closest("[data-sact=ws-activate]");
    if (!t) return;
    view.editing = t.dataset.id;
    schedule();
  }

  const zoneOf = (event) => event.target.closest?.("[data-testid=dropzone]");
  function onDragOver(event) {
    const zone = zoneOf(event);
    if (!zone) return;
    event.preventDefault();
    zone.classList.add("vq-dropzone-over");
  }
  function onDragLeave(event) {
    zoneOf(event)?.classList.remove("vq-dropzone-over");
  }
  async function onDrop(event) {
    const zone = zoneOf(event);
    if (!zone) return;
    event.preventDefault();
    event.stopPropagation(); // not onto ComfyUI's canvas, which would load a dropped image as a workflow
    zone.classList.remove("vq-dropzone-over");
    const files = await droppedFiles(event.dataTransfer);
    if (files.length) actions.addFiles(files);
  }

  const listeners = { click: onClick, input: onInput, change: onChange, keydown: onKeydown, focusout: onFocusOut,
    dblclick: onDblClick, dragover: onDragOver, dragleave: onDragLeave, drop: onDrop };
  for (const [type, fn] of Object.entries(listeners)) root.addEventListener(type, fn);
  return () => {
    for (const [type, fn] of Object.entries(listeners)) root.removeEventListener(type, fn);
  };
}
