// One job card: header (expand toggle), status badge, progress, current prompt, ETA, and the
// in-place detail when expanded. `update` patches only what changed (identity checks).

import { h, progressBar, setAttr, setClass, setHidden, setText, setTone, statusBadge, updateBadge, updateProgress } from "../dom.js";
import { formatClock, formatEta, formatRelative, jobProgressText, percent, statusMeta } from "../format.js";
import { createJobDetail } from "./job-detail.js";

export function createJobCard(id, ctx) {
  const detailId = `vq-job-${id}-detail`;
  const name = h("span", { class: "vq-card-name" });
  const workflow = h("span", { class: "vq-card-workflow" });
  const created = h("time", { class: "vq-time" });
  const badge = statusBadge(statusMeta("pending"));
  const head = h("button", {
    class: "vq-card-head",
    type: "button",
    attrs: { "aria-expanded": "false", "aria-controls": detailId },
    data: { act: "expand", id, testid: "job-toggle" },
  },
  h("i", { class: "pi pi-chevron-right vq-caret", attrs: { "aria-hidden": "true" } }),
  h("span", { class: "vq-card-title" }, name,
    h("span", { class: "vq-card-sub" }, workflow, h("span", { class: "vq-sep", text: "·", attrs: { "aria-hidden": "true" } }),
      h("span", { text: `#${id}` }), h("span", { class: "vq-sep", text: "·", attrs: { "aria-hidden": "true" } }), created)),
  badge);

  const bar = progressBar("Prompts done");
  const progressText = h("span", { class: "vq-progress-text", data: { testid: "job-progress" } });
  const eta = h("span", { class: "vq-eta" });
  const currentBar = progressBar("Current prompt");
  const currentText = h("span", { class: "vq-progress-text" });
  const current = h("div", { class: "vq-card-current", hidden: true }, currentText, currentBar);
  const detailHost = h("div", { class: "vq-detail", id: detailId, hidden: true, attrs: { role: "region", "aria-label": "Job detail" } });

  const el = h("article", { class: "vq-card", data: { jobId: id, testid: "job-card" } },
    head,
    h("div", { class: "vq-card-progress" }, bar, h("span", { class: "vq-progress-line" }, progressText, eta)),
    current,
    detailHost);

  let detail = null;
  let lastJob = null;
  let lastOpen = null;

  function update(job, state) {
    const open = state.expanded.includes(id);
    if (job !== lastJob) {
      lastJob = job;
      const meta = statusMeta(job.status);
      setText(name, job.name);
      setAttr(head, "aria-label", `${job.name}, job ${id}, ${meta.label}, ${jobProgressText(job)}`);
      setText(workflow, job.workflow || "raw graphs");
      setAttr(created, "datetime", job.created_at);
      setAttr(created, "title", `Created ${formatClock(job.created_at)}`);
      created.dataset.time = job.created_at || "";
      setText(created, formatRelative(job.created_at, ctx.now()));
      updateBadge(badge, meta);
      setTone(el, meta.tone); // the left edge and the progress bar take the status colour
      setClass(el, "vq-card-active", job.status === "running");
      const pct = percent(job.done, job.total) ?? 0;
      updateProgress(bar, pct, jobProgressText(job));
      setText(progressText, jobProgressText(job));
      setText(eta, formatEta(job.eta_seconds));
      const cur = job.current;
      setHidden(current, !(cur && job.status === "running"));
      if (cur && job.status === "running") {
        const cp = percent(cur.value, cur.max);
        const steps = cur.max ? `step ${cur.value} / ${cur.max}` : "starting";
        setText(currentText, `Current prompt: ${steps}${cur.node ? ` (node ${cur.node})` : ""}`);
        updateProgress(currentBar, cp, steps);
      }
    }
    if (open !== lastOpen) {
      lastOpen = open;
      setAttr(head, "aria-expanded", open ? "true" : "false");
      setClass(el, "vq-card-open", open);
      setHidden(detailHost, !open);
      if (open && !detail) {
        detail = createJobDetail(id, ctx);
        detailHost.append(detail.el);
      }
    }
    if (open && detail) detail.update(state);
  }

  return { el, update, dispose: () => detail?.dispose?.() };
}
