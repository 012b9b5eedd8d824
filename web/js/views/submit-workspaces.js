// Workspace tabs above the Submit form: activate (click, arrow keys), rename (double-click
// or F2, Enter saves, Escape cancels), close (the neighbour becomes active; the last one
// cannot be closed) and "+" for a new workspace that starts from defaults.

import { h } from "../dom.js";

export function createWorkspaceTabs() {
  const el = h("div", { class: "vq-ws-bar", data: { testid: "workspaces" } });
  let key = null;

  function update(forms, editing) {
    const k = JSON.stringify([forms.active, forms.workspaces.map((w) => [w.id, w.name]), editing]);
    if (k === key) return;
    key = k;
    const one = forms.workspaces.length === 1;
    const tabs = forms.workspaces.map((w) => {
      const active = w.id === forms.active;
      const label = editing === w.id
        ? h("input", { class: "vq-input vq-ws-rename", type: "text", value: w.name, attrs: { "aria-label": "Workspace name", maxlength: 60 },
          data: { sinput: "ws-rename", id: w.id, testid: "ws-rename" } })
        : h("button", { class: "vq-ws-tab", type: "button", tabIndex: active ? 0 : -1, title: "Double-click (or F2) to rename",
          attrs: { role: "tab", "aria-selected": active ? "true" : "false" }, data: { sact: "ws-activate", id: w.id, testid: "ws-tab" } },
        h("span", { text: w.name }));
      return h("div", { class: `vq-ws${active ? " vq-ws-active" : ""}`, data: { wsId: w.id } }, label,
        !one && h("button", { class: "vq-ws-close", type: "button", title: `Close ${w.name}`, attrs: { "aria-label": `Close workspace ${w.name}` },
          data: { sact: "ws-close", id: w.id, testid: "ws-close" } }, h("i", { class: "pi pi-times", attrs: { "aria-hidden": "true" } })));
    });
    el.replaceChildren(
      h("div", { class: "vq-ws-tabs", attrs: { role: "tablist", "aria-label": "Workspaces" } }, tabs),
      h("button", { class: "vq-icon-btn vq-ws-add", type: "button", title: "New workspace", attrs: { "aria-label": "New workspace" }, data: { sact: "ws-create", testid: "ws-add" } },
        h("i", { class: "pi pi-plus", attrs: { "aria-hidden": "true" } })));
    const input = el.querySelector("[data-sinput=ws-rename]");
    if (input) {
      input.focus();
      input.select();
    }
  }

  return { el, update };
}
