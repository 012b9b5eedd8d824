// Preset bar of the Submit view: for prompt presets and settings presets of the current
// mode, a picker (choosing one applies it), a name field with Save (overwrite asks first),
// Rename and Delete.

import { h, setAttr, setText } from "../dom.js";
import { PRESET_KINDS } from "../submit/presets.js";

const TITLES = { prompt: "Prompt preset", settings: "Settings preset" };

export function createPresetBar() {
  const rows = {};
  for (const kind of PRESET_KINDS) {
    const select = h("select", { class: "vq-input", id: `vq-preset-${kind}`, data: { schange: "preset-apply", kind, testid: `preset-${kind}` } });
    const name = h("input", { class: "vq-input", type: "text", placeholder: "name", attrs: { "aria-label": `${TITLES[kind]} name`, maxlength: 100 },
      data: { sinput: "preset-name", kind, testid: `preset-${kind}-name` } });
    const btn = (act, icon, label) => h("button", { class: "vq-btn vq-btn-small", type: "button", data: { sact: act, kind, testid: `preset-${kind}-${act.split("-")[1]}` } },
      h("i", { class: icon, attrs: { "aria-hidden": "true" } }), h("span", { text: label }));
    rows[kind] = { select, name };
    rows[kind].el = h("div", { class: "vq-preset-row" },
      h("label", { class: "vq-label", text: TITLES[kind], attrs: { for: select.id } }),
      h("div", { class: "vq-preset-controls" }, select),
      h("div", { class: "vq-preset-controls" }, name,
        btn("preset-save", "pi pi-save", "Save"), btn("preset-rename", "pi pi-pencil", "Rename"), btn("preset-delete", "pi pi-trash", "Delete")));
  }
  const error = h("p", { class: "vq-field-error", hidden: true });
  const el = h("details", { class: "vq-presets", data: { testid: "presets" } },
    h("summary", { class: "vq-presets-summary" }, h("i", { class: "pi pi-bookmark", attrs: { "aria-hidden": "true" } }), h("span", { text: "Presets" })),
    PRESET_KINDS.map((k) => rows[k].el), error);
  let last = null;

  function update(ms, presets, busy) {
    const k = JSON.stringify([presets, ms.presets, busy]);
    if (k === last) return;
    last = k;
    for (const kind of PRESET_KINDS) {
      const { select } = rows[kind];
      const list = presets[kind] || [];
      const chosen = ms.presets[kind];
      select.replaceChildren(h("option", { value: "", text: list.length ? "— choose to apply —" : "none saved for this mode" }),
        ...list.map((p) => h("option", { value: String(p.id), text: p.name + (kind === "settings" && p.workflow ? ` (${p.workflow})` : ""), selected: p.id === chosen })));
      select.value = chosen != null && list.some((p) => p.id === chosen) ? String(chosen) : "";
      for (const b of rows[kind].el.querySelectorAll("button")) setAttr(b, "aria-disabled", busy ? "true" : null);
    }
    setText(error, presets.error ? `Presets unavailable: ${presets.error}` : "");
    error.hidden = !presets.error;
  }

  /** The name typed for `kind` (Save, Rename), then cleared. */
  function takeName(kind) {
    const v = rows[kind].name.value;
    rows[kind].name.value = "";
    return v;
  }

  const selected = (kind) => (rows[kind].select.value ? Number(rows[kind].select.value) : null);

  return { el, update, takeName, selected };
}
