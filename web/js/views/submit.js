// The Submit view: workspace tabs, mode tabs, the workflow picker, presets, inputs,
// per-image prompts, the parameter form, run options, preview and submit. It draws from the
// submit store (submit/state.js) at most once per frame and sends all input through
// delegated listeners on its root to the submit controller's actions (submit/controller.js).

import { h, setAttr, setHidden, setText } from "../dom.js";
import { coerceValue, emptyChainRow, formFields } from "../submit/form-model.js";
import { IMAGE_GEN_VARIANTS, MODES, modeById } from "../submit/modes.js";
import { currentForm } from "../submit/state.js";
import { bindSubmitEvents } from "./submit-events.js";
import { createSubmitForm } from "./submit-form.js";
import { createSubmitInputs } from "./submit-inputs.js";
import { createPerImage } from "./submit-per-image.js";
import { createPresetBar } from "./submit-presets.js";
import { createWorkspaceTabs } from "./submit-workspaces.js";

function modeTabs() {
  return h("div", { class: "vq-mode-tabs", attrs: { role: "tablist", "aria-label": "Submit mode" } },
    MODES.map((m) => h("button", { class: "vq-mode-tab", type: "button", title: m.help,
      attrs: { role: "tab", "aria-selected": "false" }, data: { sact: "mode", mode: m.id, testid: `mode-${m.id}` } },
    h("i", { class: m.icon, attrs: { "aria-hidden": "true" } }), h("span", { text: m.label }))));
}

/**
 * @param {object} ctx  apiUrl(path), fileUrl(path)
 * @param {{store: object, controller: object}} [submit]  the submit store and controller (main.js)
 */
export function createSubmitView(ctx, submit) {
  const { store, controller } = submit;
  const actions = controller.actions;
  const workspaces = createWorkspaceTabs();
  const modes = modeTabs();
  const noticeText = h("span", {});
  const openJob = h("button", { class: "vq-link", type: "button", hidden: true, data: { sact: "open-job", testid: "open-job" } });
  const notice = h("div", { class: "vq-notice", hidden: true, attrs: { role: "status" }, data: { testid: "submit-notice" } },
    noticeText, openJob,
    h("button", { class: "vq-icon-btn", type: "button", attrs: { "aria-label": "Dismiss" }, data: { sact: "dismiss-notice" } },
      h("i", { class: "pi pi-times", attrs: { "aria-hidden": "true" } })));
  const variants = h("div", { class: "vq-variants", attrs: { role: "group", "aria-label": "Image generation kind" } },
    IMAGE_GEN_VARIANTS.map((v) => h("button", { class: "vq-chip", type: "button", data: { sact: "variant", variant: v.id, testid: `variant-${v.id}` } }, h("span", { text: v.label }))));
  const workflowSelect = h("select", { class: "vq-input", id: "vq-workflow", data: { schange: "workflow", testid: "workflow-select" } });
  const workflowHelp = h("p", { class: "vq-help", data: { testid: "workflow-help" } });
  const presets = createPresetBar();
  const inputs = createSubmitInputs(ctx);
  const perImage = createPerImage(ctx);
  const form = createSubmitForm();
  const previewBtn = h("button", { class: "vq-btn", type: "button", data: { sact: "preview", testid: "preview" } },
    h("i", { class: "pi pi-eye", attrs: { "aria-hidden": "true" } }), h("span", { text: "Preview" }));
  const submitBtn = h("button", { class: "vq-btn vq-btn-primary", type: "button", data: { sact: "submit", testid: "submit" } },
    h("i", { class: "pi pi-send", attrs: { "aria-hidden": "true" } }), h("span", { text: "Submit" }));
  const resetBtn = h("button", { class: "vq-link", type: "button", data: { sact: "reset-saved", testid: "reset-saved" } }, "Reset saved options");
  const preview = h("div", { class: "vq-preview", hidden: true, data: { testid: "preview-panel" }, attrs: { "aria-live": "polite" } });
  const body = h("div", { class: "vq-submit-body" },
    h("section", { class: "vq-form-group", attrs: { "aria-label": "Workflow" } },
      variants,
      h("label", { class: "vq-label", text: "Workflow", attrs: { for: workflowSelect.id } }),
      workflowSelect, workflowHelp),
    presets.el, inputs.el, perImage.el, form.el,
    h("div", { class: "vq-submit-actions" }, previewBtn, submitBtn, resetBtn),
    preview);
  const el = h("div", { class: "vq-submit", data: { testid: "submit-view" } }, workspaces.el, modes, notice, body);

  const view = { editing: null, main: null };
  let frame = null;
  let last = null;
  let lastMain = null;

  function fieldOf(name) {
    const { desc, values } = currentForm(store.getState());
    return desc ? formFields(desc, values).find((f) => f.name === name) || desc.params.find((p) => p.name === name) : null;
  }

  function renderWorkflows(state, form0) {
    const fitting = controller.fittingWorkflows(state);
    const wf = state.session.workflows;
    const key = JSON.stringify([fitting?.map((w) => w.name), form0.ms.workflow, wf.error]);
    if (workflowSelect.dataset.key !== key) {
      workflowSelect.dataset.key = key;
      const opts = !fitting ? [h("option", { value: "", text: wf.error ? "Workflows unavailable" : "Loading workflows…" })]
        : !fitting.length ? [h("option", { value: "", text: "No workflow for this mode" })]
          : fitting.map((w) => h("option", { value: w.name, text: w.display_name || w.name, selected: w.name === form0.ms.workflow }));
      workflowSelect.replaceChildren(...opts);
      workflowSelect.disabled = !fitting?.length;
    }
    const desc = form0.desc;
    setText(workflowHelp, wf.error ? `Could not load the workflows: ${wf.error}`
      : fitting && !fitting.length ? `No installed workflow fits ${modeById(form0.modeId).label.toLowerCase()}. Add a definition to workflow_defs_v2 or the user workflows folder.`
        : desc?.description || form0.descEntry?.error || "");
  }

  function renderPreview(p, open) {
    setHidden(preview, !p);
    if (!p) return;
    if (p.loading) {
      preview.replaceChildren(h("p", { class: "vq-muted", text: "Rendering the prompts…" }));
      return;
    }
    const r = p.result;
    const first = r.prompts?.[0];
    const showing = !!open["preview-json"];
    preview.replaceChildren(
      h("p", { class: "vq-preview-summary", text: p.summary, data: { testid: "preview-summary" } }),
      (r.warnings || []).map((w) => h("p", { class: "vq-text-warn", text: typeof w === "string" ? w : JSON.stringify(w) })),
      first && h("button", { class: "vq-link", type: "button", data: { sact: "toggle", key: "preview-json", testid: "preview-json-toggle" },
        attrs: { "aria-expanded": showing ? "true" : "false" } }, showing ? "Hide the first rendered prompt" : "Show the first rendered prompt"),
      first && showing && h("pre", { class: "vq-pre", data: { testid: "preview-json" } }, JSON.stringify(first.graph ?? first, null, 2)));
  }

  function render() {
    frame = null;
    const state = store.getState();
    if (state === last && view.main === lastMain) return;
    const f = currentForm(state);
    const s = state.session;
    const errors = { ...controller.localErrors(state), ...s.serverErrors };
    workspaces.update(state.forms, view.editing);
    for (const tab of modes.children) {
      const on = tab.dataset.mode === f.modeId;
      setAttr(tab, "aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
    }
    setHidden(notice, !s.notice);
    if (s.notice) {
      notice.className = `vq-notice vq-notice-${s.notice.tone}`;
      setText(noticeText, s.notice.text);
      setHidden(openJob, s.notice.jobId == null);
      setText(openJob, s.notice.jobId != null ? `Open job #${s.notice.jobId} in the Queue` : "");
      openJob.dataset.id = s.notice.jobId ?? "";
    }
    setHidden(variants, modeById(f.modeId).input !== "variant");
    for (const b of variants.children) setAttr(b, "aria-pressed", b.dataset.variant === f.ms.variant ? "true" : "false");
    renderWorkflows(state, f);
    presets.update(f.ms, s.presets, !!s.busy.presets);
    inputs.update(f, s, errors);
    perImage.update(f, controller.batchFiles(state), s.auto);
    form.update(f, s, errors, view.main?.health);
    setAttr(previewBtn, "aria-busy", s.busy.preview ? "true" : null);
    setAttr(submitBtn, "aria-busy", s.busy.submit ? "true" : null);
    setAttr(submitBtn, "aria-disabled", s.busy.submit || !f.desc ? "true" : null);
    setAttr(previewBtn, "aria-disabled", s.busy.preview || !f.desc ? "true" : null);
    renderPreview(s.preview, s.open);
    last = state;
    lastMain = view.main;
  }

  function schedule() {
    if (frame == null) frame = requestAnimationFrame(render);
  }

  const unbind = bindSubmitEvents(el, { store, actions, view, schedule, presets, fieldOf, coerceValue, emptyChainRow });
  const unsubscribe = store.subscribe(schedule);
  controller.start();
  render();

  return {
    el,
    /** The queue state (for the staging setting in health); the view draws from its own store. */
    update(mainState) {
      if (view.main?.health === mainState.health) return;
      view.main = mainState;
      schedule();
    },
    dispose() {
      unbind();
      unsubscribe();
      if (frame != null) cancelAnimationFrame(frame);
    },
  };
}
