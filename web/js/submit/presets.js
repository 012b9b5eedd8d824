// Presets stored by the server (/vq/v1/presets), scoped by the Submit view's mode:
// prompt presets hold the prompt fields' text (Prompt, Clip 1..N); settings presets hold a
// workflow and its other parameter values plus the run options, optionally linked to a
// prompt preset. Applying ignores parameters the workflow no longer has, with a notice.

import { errorText, plural } from "../format.js";
import { promptFields, resolveValues } from "./form-model.js";
import { currentForm } from "./state.js";

export const PRESET_KINDS = Object.freeze(["prompt", "settings"]);
const RUN_OPTIONS = ["tries", "seedMode", "priority", "moveProcessed"];

/** The payload a preset of `kind` stores for the current form. */
export function presetPayload(kind, desc, values, options) {
  const prompts = new Set(promptFields(desc, values).map((f) => f.name));
  if (kind === "prompt") return { values: Object.fromEntries([...prompts].map((n) => [n, values[n] ?? ""])) };
  const params = Object.fromEntries(Object.entries(values).filter(([n]) => !prompts.has(n)));
  return { params, options: Object.fromEntries(RUN_OPTIONS.map((k) => [k, options[k]])) };
}

export function createPresetActions({ store, client, env, notice, describe, chooseWorkflow }) {
  const { dispatch, getState } = store;
  const busy = (on) => dispatch({ type: "session/merge", key: "busy", patch: { presets: on } });

  async function refresh() {
    const { modeId } = currentForm(getState());
    try {
      const [prompt, settings] = await Promise.all(PRESET_KINDS.map((kind) => client.listPresets(kind, modeId)));
      if (currentForm(getState()).modeId !== modeId) return;
      dispatch({ type: "session/set", key: "presets", value: { prompt: prompt.presets, settings: settings.presets, loaded: true, mode: modeId, error: null } });
    } catch (err) {
      dispatch({ type: "session/merge", key: "presets", patch: { loaded: true, mode: modeId, error: errorText(err) } });
    }
  }

  const select = (kind, id) => dispatch({ type: "mode/patch", patch: (m) => ({ ...m, presets: { ...m.presets, [kind]: id } }) });

  async function save(kind, name) {
    const clean = String(name || "").trim();
    const { modeId, ms, desc, values } = currentForm(getState());
    if (!clean || !desc) {
      notice(clean ? "Choose a workflow first." : "Give the preset a name.", "warn");
      return;
    }
    const body = { name: clean, kind, mode: modeId, workflow: desc.name, payload: presetPayload(kind, desc, values, ms.options) };
    if (kind === "settings" && ms.presets.prompt != null) body.prompt_preset_id = ms.presets.prompt;
    busy(true);
    try {
      let saved;
      try {
        saved = await client.savePreset(body);
      } catch (err) {
        if (err?.status !== 409) throw err;
        const ok = await env.confirm({ title: `Overwrite the ${kind} preset “${clean}”?`,
          lines: [`A ${kind} preset of this name exists for ${modeId.replace("_", " ")}. Its contents are replaced by the current form.`],
          confirmLabel: "Overwrite", cancelLabel: "Keep it" });
        if (!ok) return;
        saved = await client.savePreset({ ...body, overwrite: true });
      }
      select(kind, saved.id);
      notice(`${kind === "prompt" ? "Prompt" : "Settings"} preset “${saved.name}” saved.`, "success");
      await refresh();
    } catch (err) {
      notice(`Could not save the preset: ${errorText(err)}`, "error");
    } finally {
      busy(false);
    }
  }

  function find(kind, id) {
    return getState().session.presets[kind].find((p) => p.id === id) || null;
  }

  async function apply(kind, id) {
    const preset = find(kind, id);
    if (!preset) return;
    select(kind, id);
    const ignored = kind === "prompt" ? applyValues(preset.payload?.values || {}) : await applySettings(preset);
    if (kind === "settings" && preset.prompt_preset_id != null && find("prompt", preset.prompt_preset_id)) {
      select("prompt", preset.prompt_preset_id);
      ignored.push(...applyValues(find("prompt", preset.prompt_preset_id).payload?.values || {}));
    }
    notice(ignored.length
      ? `Preset “${preset.name}” applied; ${plural(ignored.length, "setting")} this workflow does not have ignored: ${ignored.join(", ")}.`
      : `Preset “${preset.name}” applied.`, ignored.length ? "warn" : "success");
  }

  /** Set the given values on the current workflow; returns the names it does not have. */
  function applyValues(given) {
    const { ms, desc, values } = currentForm(getState());
    if (!desc) return Object.keys(given);
    const merged = resolveValues(desc, given, values);
    dispatch({ type: "mode/patch", patch: { params: { ...ms.params, [desc.name]: merged.values } } });
    return merged.ignored;
  }

  async function applySettings(preset) {
    const { ms } = currentForm(getState());
    if (preset.workflow && preset.workflow !== ms.workflow) {
      await describe(preset.workflow);
      if (!getState().session.descriptions[preset.workflow]?.desc) {
        return [`workflow ${preset.workflow} (not installed)`];
      }
      chooseWorkflow(preset.workflow);
    }
    const options = preset.payload?.options || {};
    dispatch({ type: "mode/patch", patch: (m) => ({ ...m, options: { ...m.options, ...Object.fromEntries(RUN_OPTIONS.filter((k) => k in options).map((k) => [k, options[k]])) } }) });
    return applyValues(preset.payload?.params || {});
  }

  async function rename(kind, id, name) {
    const clean = String(name || "").trim();
    if (!clean || !find(kind, id)) return;
    busy(true);
    try {
      await client.updatePreset(id, { name: clean });
      await refresh();
    } catch (err) {
      notice(`Could not rename the preset: ${errorText(err)}`, "error");
    } finally {
      busy(false);
    }
  }

  async function remove(kind, id) {
    const preset = find(kind, id);
    if (!preset) return;
    const ok = await env.confirm({ title: `Delete the ${kind} preset “${preset.name}”?`,
      lines: ["The preset is removed for every browser and the CLI. The current form keeps its values."],
      confirmLabel: "Delete", cancelLabel: "Keep it", danger: true });
    if (!ok) return;
    busy(true);
    try {
      await client.deletePreset(id);
      if (currentForm(getState()).ms.presets[kind] === id) select(kind, null);
      notice(`Preset “${preset.name}” deleted.`, "info");
      await refresh();
    } catch (err) {
      notice(`Could not delete the preset: ${errorText(err)}`, "error");
    } finally {
      busy(false);
    }
  }

  return { refresh, actions: { savePreset: save, applyPreset: apply, renamePreset: rename, deletePreset: remove, refreshPresets: refresh } };
}
