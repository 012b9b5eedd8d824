// A job's detail, expanded in place: actions, metadata grid, parameters, prompt rows, log.

import { h, reconcile, setAttr, setBusy, setHidden, setText } from "../dom.js";
import { elapsedSeconds, formatClock, formatCount, formatDuration, formatValue, plural, statusMeta } from "../format.js";
import { PROMPT_ROWS_STEP } from "../reducers.js";
import { createLogView } from "./log-view.js";
import { createPromptRow } from "./prompt-row.js";

const CANCELABLE = new Set(["pending", "running"]);
const DELETABLE = new Set(["succeeded", "failed", "canceled"]);

export function createJobDetail(id, ctx) {
  const status = h("p", { class: "vq-muted", attrs: { role: "status" } });
  const cancelBtn = actionButton("cancel-job", id, "pi pi-times", "Cancel job");
  const retryBtn = actionButton("retry-job", id, "pi pi-replay", "Retry failed");
  const topBtn = actionButton("top", id, "pi pi-angle-double-up", "Move to top");
  const deleteBtn = actionButton("delete-job", id, "pi pi-trash", "Delete job");
  const actions = h("div", { class: "vq-actions", attrs: { role: "group", "aria-label": "Job actions" } },
    cancelBtn, retryBtn, topBtn, deleteBtn);

  const grid = h("dl", { class: "vq-grid", data: { testid: "job-meta" } });
  const paramsBody = h("dl", { class: "vq-grid vq-params" });
  const paramsNone = h("p", { class: "vq-muted", text: "None: this job was submitted as raw graphs.", hidden: true });
  const params = h("section", { class: "vq-section" }, h("h3", { class: "vq-h3", text: "Parameters" }), paramsBody, paramsNone);
  const promptsTitle = h("h3", { class: "vq-h3", text: "Prompts" });
  const rowsHost = h("ol", { class: "vq-prompts", attrs: { "aria-label": "Prompts" } });
  const moreBtn = h("button", { class: "vq-btn vq-more", type: "button", hidden: true, data: { act: "more-rows", id } });
  const log = createLogView(id);

  const el = h("div", { class: "vq-detail-inner" },
    status, actions, grid, params,
    h("section", { class: "vq-section" }, promptsTitle, rowsHost, moreBtn),
    log.el);

  const rows = new Map();
  let last = {};

  function update(state) {
    const d = state.details[id];
    const job = d?.job;
    const summary = state.list.byId[id] || job;
    const loadingText = !job && d?.loading ? "Loading…" : d?.error ? `Could not load the job: ${d.error}` : "";
    setText(status, loadingText);
    setHidden(status, !loadingText);

    if (summary && (summary !== last.summary || state.busy !== last.busy)) {
      const c = summary.counts || {};
      const retryable = (c.failed || 0) + (c.canceled || 0) + (c.interrupted || 0);
      setHidden(cancelBtn, !CANCELABLE.has(summary.status));
      setHidden(topBtn, !CANCELABLE.has(summary.status));
      setHidden(retryBtn, !retryable);
      setHidden(deleteBtn, !DELETABLE.has(summary.status));
      setHidden(actions, !CANCELABLE.has(summary.status) && !retryable && !DELETABLE.has(summary.status));
      setText(retryBtn.lastChild, retryable ? `Retry ${formatCount(retryable)} failed/canceled` : "Retry failed");
      setBusy(cancelBtn, state.busy[`cancel:${id}`]);
      setBusy(retryBtn, state.busy[`retry:${id}`]);
      setBusy(topBtn, state.busy[`top:${id}`]);
      setBusy(deleteBtn, state.busy[`delete:${id}`]);
    }
    if (job && (job !== last.job || summary !== last.summary)) renderMeta(grid, job, summary, ctx.now());
    if (job && job.params !== last.params) {
      last.params = job.params;
      const entries = Object.entries(job.params || {});
      paramsBody.replaceChildren(...entries.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: formatValue(v) })]));
      setHidden(paramsBody, !entries.length);
      setHidden(paramsNone, entries.length > 0);
    }
    if (job) {
      const limit = d.rows || PROMPT_ROWS_STEP;
      const shown = job.prompts.slice(0, limit);
      if (job.prompts !== last.prompts || limit !== last.limit) {
        setText(promptsTitle, `Prompts (${formatCount(job.prompts.length)})`);
        reconcile(rowsHost, shown.map((p) => p.id), rows, (pid) => createPromptRow(pid, ctx));
        const rest = job.prompts.length - shown.length;
        setHidden(moreBtn, rest <= 0);
        if (rest > 0) setText(moreBtn, `Show ${formatCount(Math.min(rest, PROMPT_ROWS_STEP))} more of ${plural(rest, "remaining prompt")}`);
      }
      for (const p of shown) rows.get(p.id)?.update(p, state);
    }
    log.update(state, summary);
    last = { ...last, job, summary, busy: state.busy, prompts: job?.prompts, limit: d?.rows || PROMPT_ROWS_STEP };
  }

  return { el, update, dispose: () => log.dispose?.() };
}

function actionButton(act, id, icon, label) {
  return h("button", { class: "vq-btn", type: "button", data: { act, id, testid: act } },
    h("i", { class: icon, attrs: { "aria-hidden": "true" } }), h("span", { text: label }));
}

function renderMeta(grid, job, summary, now) {
  const s = summary || job;
  const attempts = job.options?.max_attempts;
  const items = [
    ["Status", statusMeta(s.status).label],
    ["Created", formatClock(s.created_at)],
    ["Started", formatClock(s.started_at) || "not yet"],
    ["Finished", formatClock(s.finished_at) || "—"],
    ["Elapsed", formatDuration(elapsedSeconds(s, now)) || "—"],
    ["Prompts", `${formatCount(s.done)} / ${formatCount(s.total)} done`],
    ["Priority", String(s.priority ?? 0)],
  ];
  if (job.workflow) items.push(["Workflow", job.workflow]);
  if (job.mode) items.push(["Mode", job.mode]);
  if (attempts) items.push(["Max attempts", String(attempts)]);
  if (job.source?.folder) items.push(["Input folder", job.source.folder]);
  // Rebuild only when a value changed: the grid is small, and focus never sits in it.
  const sig = items.map((i) => i.join("=")).join("\n");
  if (grid.dataset.sig === sig) return;
  grid.dataset.sig = sig;
  grid.replaceChildren(...items.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
  setAttr(grid, "aria-label", "Job details");
}
