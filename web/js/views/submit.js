// The Submit view. Placeholder: the submit panel (modes, parameter fields, presets,
// drag/drop, workspaces) arrives with the next issue and replaces this module's body.
// Contract for it: createSubmitView(ctx) -> {el, update(state), dispose?()}, like the queue views.

import { h } from "../dom.js";

export function createSubmitView() {
  const el = h("div", { class: "vq-submit", data: { testid: "submit-view" } },
    h("p", { class: "vq-empty", text: "Submitting from the sidebar is coming next. Until then, submit jobs with the vq command-line tool (vq submit …) or POST /vq/v1/jobs." }));
  return { el, update() {} };
}
