// One parameter of the Submit form, drawn from its description entry: text (multiline when
// hinted), number with range and step, bool, select (closed list, or a live list of
// installed files), LoRA (a file, or a chain editor with rows) and image path. Input goes
// through the Submit view's delegated listeners (data-param); this module only draws.

import { h, setAttr, setHidden, setText } from "../dom.js";
import { formatValue } from "../format.js";

let datalistSeq = 0;

const fieldId = (name) => `vq-f-${name}`;

function helpText(f) {
  const bits = [];
  if ((f.type === "int" || f.type === "float") && (f.min != null || f.max != null)) {
    bits.push(f.min != null && f.max != null ? `${formatValue(f.min)}–${formatValue(f.max)}` : f.min != null ? `≥ ${formatValue(f.min)}` : `≤ ${formatValue(f.max)}`);
  }
  if (f.ui?.help) bits.push(f.ui.help);
  return bits.join(" · ");
}

function optionList(f, value) {
  const opts = (f.options || []).map((o) => ({ value: String(o.value), label: o.label || String(o.value) }));
  if (value != null && value !== "" && !opts.some((o) => o.value === String(value))) {
    opts.unshift({ value: String(value), label: `${value} (not installed)` });
  }
  return opts;
}

function control(f, value) {
  const id = fieldId(f.name);
  const common = { id, class: "vq-input", data: { param: f.name, testid: `field-${f.name}` }, attrs: { "aria-describedby": `${id}-help ${id}-err` } };
  switch (f.type) {
    case "bool":
      return h("input", { ...common, class: "vq-check", type: "checkbox", checked: !!value });
    case "int":
    case "float":
      return h("input", { ...common, type: "number", inputMode: f.type === "int" ? "numeric" : "decimal",
        value: value ?? "", attrs: { ...common.attrs, min: f.min ?? null, max: f.max ?? null, step: f.step ?? (f.type === "int" ? 1 : "any") } });
    case "select":
      if (f.options?.length) {
        return h("select", common, optionList(f, value).map((o) => h("option", { value: o.value, text: o.label, selected: o.value === String(value) })));
      }
      return h("input", { ...common, type: "text", value: value ?? "", placeholder: f.options_error ? "list unavailable; type a name" : "" });
    case "lora": {
      const list = h("datalist", { id: `vq-dl-${++datalistSeq}` }, (f.options || []).map((o) => h("option", { value: String(o.value) })));
      const input = h("input", { ...common, type: "text", value: value ?? "", placeholder: f.removable ? "none (removed)" : "LoRA file name",
        attrs: { ...common.attrs, list: list.id, autocomplete: "off", spellcheck: "false" } });
      return h("span", { class: "vq-combo" }, input, list);
    }
    case "text":
      if (f.ui?.multiline || f.ui?.widget === "textarea") {
        return h("textarea", { ...common, class: "vq-input vq-textarea", rows: 3, value: value ?? "", placeholder: f.ui?.placeholder || "" });
      }
      return h("input", { ...common, type: "text", value: value ?? "", placeholder: f.ui?.placeholder || "" });
    default:
      return h("input", { ...common, type: "text", value: value ?? "", placeholder: f.ui?.placeholder || "" });
  }
}

/** A LoRA chain: one row per extra LoRA (a file per chain target and a strength), add/remove. */
function chainEditor(f, rows) {
  const list = h("datalist", { id: `vq-dl-${++datalistSeq}` }, (f.options || []).map((o) => h("option", { value: String(o.value) })));
  const body = (rows || []).map((row, i) => h("div", { class: "vq-lora-row", data: { testid: "lora-row" }, attrs: { role: "group", "aria-label": `${f.label} ${i + 1}` } },
    f.chain.map((c) => h("input", { class: "vq-input", type: "text", value: row[c.name] || "", placeholder: c.label,
      attrs: { list: list.id, "aria-label": `${f.label} ${i + 1}: ${c.label}`, autocomplete: "off", spellcheck: "false" },
      data: { param: f.name, row: i, part: c.name } })),
    h("input", { class: "vq-input vq-lora-strength", type: "number", value: row.strength ?? 1,
      attrs: { min: f.min ?? null, max: f.max ?? null, step: f.step ?? 0.05, "aria-label": `${f.label} ${i + 1}: strength` },
      data: { param: f.name, row: i, part: "strength" } }),
    h("button", { class: "vq-icon-btn", type: "button", title: "Remove this LoRA", attrs: { "aria-label": `Remove ${f.label} ${i + 1}` },
      data: { sact: "lora-remove", param: f.name, row: i, testid: "lora-remove" } }, h("i", { class: "pi pi-trash", attrs: { "aria-hidden": "true" } }))));
  const full = (rows || []).length >= (f.max_items || 8);
  return h("div", { class: "vq-lora-chain", id: fieldId(f.name), data: { testid: `field-${f.name}` } }, list, body,
    h("button", { class: "vq-btn vq-btn-small", type: "button", disabled: full, data: { sact: "lora-add", param: f.name, testid: "lora-add" } },
      h("i", { class: "pi pi-plus", attrs: { "aria-hidden": "true" } }), h("span", { text: full ? `At most ${f.max_items} LoRAs` : `Add ${f.label}` })));
}

/**
 * @param {object} f  a form field (form-model.js formFields)
 * @param {any} value
 * @returns {{el: HTMLElement, set(value: any): void, setError(msg: string|null): void, setDisabled(on: boolean, note?: string): void}}
 */
export function createParamField(f, value) {
  const id = fieldId(f.name);
  const chain = f.type === "lora" && f.chain;
  let input = chain ? chainEditor(f, value) : control(f, value);
  const error = h("p", { class: "vq-field-error", id: `${id}-err`, hidden: true, attrs: { role: "alert" } });
  const help = helpText(f);
  const label = h("label", { class: "vq-label", text: f.label, attrs: { for: chain ? null : id } });
  const el = h("div", { class: `vq-field vq-field-${f.type === "bool" ? "bool" : "block"}`, data: { field: f.name } },
    f.type === "bool" ? h("div", { class: "vq-field-row" }, input, label) : [label, input],
    h("p", { class: "vq-help", id: `${id}-help`, text: help, hidden: !help }),
    error);

  function target() {
    return input.matches?.("input, select, textarea") ? input : input.querySelector("input, select, textarea");
  }

  return {
    el,
    set(v) {
      if (chain) {
        const rows = v || [];
        if (input.querySelectorAll(".vq-lora-row").length !== rows.length) {
          const next = chainEditor(f, rows);
          input.replaceWith(next);
          input = next;
          return;
        }
        for (const box of input.querySelectorAll("input[data-part]")) {
          const want = String(rows[Number(box.dataset.row)]?.[box.dataset.part] ?? "");
          if (box !== box.getRootNode().activeElement && box.value !== want) box.value = want;
        }
        return;
      }
      const t = target();
      if (!t || t === t.getRootNode().activeElement) return;
      if (t.type === "checkbox") t.checked = !!v;
      else if (t.value !== String(v ?? "")) t.value = v ?? "";
    },
    setError(msg) {
      setText(error, msg || "");
      setHidden(error, !msg);
      const t = target();
      if (t) setAttr(t, "aria-invalid", msg ? "true" : null);
    },
    setDisabled(on, note) {
      const t = target();
      if (t) t.disabled = !!on;
      setAttr(el, "title", on ? note || null : null);
    },
  };
}
