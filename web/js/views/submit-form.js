// The Submit view's parameter form (groups, advanced parts collapsed, the clip count of an
// N-stage workflow, resolution presets deciding width × height) and the run options (tries,
// seed, priority, job name, move to _processed, staging). Rebuilt when its shape changes
// (workspace, mode, workflow, clip count); otherwise values and errors are patched in place.

import { h, setAttr, setHidden, setText } from "../dom.js";
import { effectiveSize, formFields, formGroups, RESOLUTION, CUSTOM, seedParam, stageCount } from "../submit/form-model.js";
import { createParamField } from "./param-field.js";

function disclosure(key, label, open, body) {
  const btn = h("button", { class: "vq-disclose", type: "button", data: { sact: "toggle", key, testid: `toggle-${key}` },
    attrs: { "aria-expanded": open ? "true" : "false", "aria-controls": `vq-${key}` } },
  h("i", { class: "pi pi-chevron-right vq-caret", attrs: { "aria-hidden": "true" } }), h("span", { text: label }));
  return [btn, h("div", { class: "vq-disclosed", id: `vq-${key}`, hidden: !open }, body)];
}

function stageControl(desc, n) {
  const s = desc.stages;
  return h("div", { class: "vq-stage-control", data: { testid: "stage-control" }, attrs: { role: "group", "aria-label": "Clips" } },
    h("span", { class: "vq-label", text: "Clips" }),
    h("button", { class: "vq-btn vq-btn-small", type: "button", disabled: n <= s.min, data: { sact: "stage-remove", testid: "stage-remove" },
      attrs: { "aria-label": `Remove clip ${n}` } }, h("i", { class: "pi pi-minus", attrs: { "aria-hidden": "true" } }), h("span", { text: "Remove clip" })),
    h("output", { class: "vq-stage-count", text: String(n), data: { testid: "stage-count" }, attrs: { "aria-live": "polite" } }),
    h("button", { class: "vq-btn vq-btn-small", type: "button", disabled: n >= s.max, data: { sact: "stage-add", testid: "stage-add" } },
      h("i", { class: "pi pi-plus", attrs: { "aria-hidden": "true" } }), h("span", { text: "Add clip" })));
}

function runOptions(desc, ms, values) {
  const o = ms.options;
  const seed = seedParam(desc);
  const num = (key, label, attrs) => h("div", { class: "vq-field vq-field-block" },
    h("label", { class: "vq-label", text: label, attrs: { for: `vq-o-${key}` } }),
    h("input", { class: "vq-input", id: `vq-o-${key}`, type: "number", value: o[key], attrs: { ...attrs, "aria-describedby": `vq-o-${key}-err` }, data: { option: key, testid: `option-${key}` } }),
    h("p", { class: "vq-field-error", id: `vq-o-${key}-err`, hidden: true, attrs: { role: "alert" }, data: { errorFor: key } }));
  return h("section", { class: "vq-form-group", attrs: { "aria-label": "Run options" } },
    h("h3", { class: "vq-h3", text: "Run" }),
    h("div", { class: "vq-field-pair" },
      num("tries", "Tries per input", { min: 1, max: 100, step: 1 }),
      num("priority", "Priority", { min: -1000000, max: 1000000, step: 1 })),
    seed && h("div", { class: "vq-field vq-field-block", data: { field: seed.name } },
      h("label", { class: "vq-label", text: "Seed", attrs: { for: "vq-o-seedMode" } }),
      h("div", { class: "vq-seed-row" },
        h("select", { class: "vq-input", id: "vq-o-seedMode", data: { option: "seedMode", testid: "option-seedMode" } },
          h("option", { value: "random", text: "Random for every prompt", selected: o.seedMode !== "fixed" }),
          h("option", { value: "fixed", text: "Fixed (try t uses seed + t)", selected: o.seedMode === "fixed" })),
        h("input", { class: "vq-input", id: `vq-f-${seed.name}`, type: "number", value: values[seed.name] ?? 0, hidden: o.seedMode !== "fixed",
          attrs: { min: seed.min ?? 0, max: seed.max ?? null, step: 1, "aria-label": "Seed value" }, data: { param: seed.name, testid: "field-seed" } })),
      h("p", { class: "vq-field-error", hidden: true, attrs: { role: "alert" }, data: { errorFor: seed.name } })),
    h("div", { class: "vq-field vq-field-block" },
      h("label", { class: "vq-label", text: "Job name", attrs: { for: "vq-o-name" } }),
      h("input", { class: "vq-input", id: "vq-o-name", type: "text", value: o.name, placeholder: "default: workflow and input", attrs: { maxlength: 200 }, data: { option: "name", testid: "option-name" } })),
    h("div", { class: "vq-field vq-field-bool" }, h("div", { class: "vq-field-row" },
      h("input", { class: "vq-check", id: "vq-o-moveProcessed", type: "checkbox", checked: !!o.moveProcessed, data: { option: "moveProcessed", testid: "option-moveProcessed" } }),
      h("label", { class: "vq-label", text: "Move inputs to _processed when the job succeeds", attrs: { for: "vq-o-moveProcessed" } }))),
    h("p", { class: "vq-help", data: { testid: "staging-note" } }));
}

export function createSubmitForm() {
  const el = h("div", { class: "vq-form", data: { testid: "submit-form" } });
  let shapeKey = null;
  let fields = new Map();
  let staging = null;

  function build(desc, ms, values, open) {
    fields = new Map();
    const n = stageCount(desc, values);
    const countGroup = desc.stages ? desc.params.find((p) => p.name === desc.stages.count_param)?.ui?.group || "Settings" : null;
    const sections = formGroups(formFields(desc, values)).map((g) => {
      const make = (f) => {
        const field = createParamField(f, values[f.name]);
        fields.set(f.name, field);
        return field.el;
      };
      const key = `adv-${g.name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
      return h("section", { class: "vq-form-group", attrs: { "aria-label": g.name }, data: { group: g.name } },
        h("h3", { class: "vq-h3", text: g.name }),
        g.name === countGroup && stageControl(desc, n),
        g.basic.map(make),
        g.advanced.length ? disclosure(key, `More ${g.name.toLowerCase()} options (${g.advanced.length})`, !!open[key], g.advanced.map(make)) : null);
    });
    const run = runOptions(desc, ms, values);
    staging = run.querySelector("[data-testid=staging-note]");
    el.replaceChildren(...sections, run);
  }

  function update({ ws, modeId, ms, desc, values }, session, errors, health) {
    if (!desc) {
      shapeKey = null;
      delete el.dataset.workflow;
      el.replaceChildren();
      return;
    }
    const key = `${ws.id}|${modeId}|${desc.name}|${stageCount(desc, values)}`;
    if (key !== shapeKey) {
      shapeKey = key;
      build(desc, ms, values, session.open);
      el.dataset.workflow = desc.name; // the definition the form (and the inputs) show now
    }
    const size = effectiveSize(desc, values);
    for (const [name, field] of fields) {
      field.set(values[name]);
      field.setError(errors[name] || null);
      if (size && (name === desc.resolution.width_param || name === desc.resolution.height_param)) {
        const fromPreset = values[RESOLUTION] !== CUSTOM;
        field.setDisabled(fromPreset, "Set by the resolution preset; choose Custom to edit");
        if (fromPreset) field.set(name === desc.resolution.width_param ? size.width : size.height);
      }
    }
    for (const btn of el.querySelectorAll("[data-sact=toggle]")) {
      const on = !!session.open[btn.dataset.key];
      setAttr(btn, "aria-expanded", on ? "true" : "false");
      setHidden(btn.nextElementSibling, !on);
    }
    for (const input of el.querySelectorAll("[data-option]")) {
      const v = ms.options[input.dataset.option];
      if (input === input.getRootNode().activeElement) continue;
      if (input.type === "checkbox") input.checked = !!v;
      else if (input.value !== String(v ?? "")) input.value = v ?? "";
    }
    const seedInput = el.querySelector("[data-testid=field-seed]");
    if (seedInput) setHidden(seedInput, ms.options.seedMode !== "fixed");
    for (const p of el.querySelectorAll("[data-error-for]")) {
      const msg = errors[p.dataset.errorFor];
      setText(p, msg || "");
      setHidden(p, !msg);
    }
    const stage = health?.settings?.stage_on_submit;
    setText(staging, stage === false
      ? "Staging is off: ComfyUI reads the inputs where they are."
      : "Staging: inputs are copied into ComfyUI's input folder when queued (uploads always are).");
  }

  return { el, update };
}
