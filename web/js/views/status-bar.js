// Status bar: ComfyUI connection, vq worker state, prompt counts, pause/resume, reload
// workflows, clear queue, and the inline (non-blocking) polling error.

import { h, setAttr, setBusy, setHidden, setText, setTone } from "../dom.js";
import { describeStuck, formatCount, plural } from "../format.js";
import { clearableCount } from "../reducers.js";

const WORKER = {
  running: { label: "Running", icon: "pi pi-play", tone: "running" },
  idle: { label: "Idle", icon: "pi pi-moon", tone: "pending" },
  paused: { label: "Paused", icon: "pi pi-pause", tone: "canceled" },
  error: { label: "Error", icon: "pi pi-exclamation-triangle", tone: "failed" },
  unknown: { label: "Unknown", icon: "pi pi-question-circle", tone: "pending" },
};

export function createStatusBar() {
  const comfyText = h("span", { class: "vq-state-text" });
  const comfy = h("span", { class: "vq-state vq-tone-pending", data: { testid: "comfy-state" } },
    h("i", { class: "pi pi-server", attrs: { "aria-hidden": "true" } }), h("span", { class: "vq-state-label", text: "ComfyUI" }), comfyText);
  const workerIcon = h("i", { class: "pi pi-question-circle", attrs: { "aria-hidden": "true" } });
  const workerText = h("span", { class: "vq-state-text" });
  const worker = h("span", { class: "vq-state", data: { testid: "worker-state" } },
    workerIcon, h("span", { class: "vq-state-label", text: "Worker" }), workerText);
  const counts = {
    running: h("span", { class: "vq-count vq-tone-running", data: { testid: "count-running" } }),
    pending: h("span", { class: "vq-count vq-tone-pending", data: { testid: "count-pending" } }),
    failed: h("span", { class: "vq-count vq-tone-failed", data: { testid: "count-failed" } }),
  };
  const pauseIcon = h("i", { class: "pi pi-pause", attrs: { "aria-hidden": "true" } });
  const pauseText = h("span", { text: "Pause" });
  const pauseBtn = h("button", { class: "vq-btn", type: "button", data: { act: "pause", testid: "pause" } }, pauseIcon, pauseText);
  const reloadBtn = h("button", { class: "vq-btn", type: "button", data: { act: "reload-workflows" },
    title: "Re-read the workflow definitions from disk" },
  h("i", { class: "pi pi-refresh", attrs: { "aria-hidden": "true" } }), h("span", { text: "Reload workflows" }));
  const clearText = h("span", { text: "Clear queue" });
  const clearBtn = h("button", { class: "vq-btn vq-btn-danger-quiet", type: "button", data: { act: "clear", testid: "clear" } },
    h("i", { class: "pi pi-trash", attrs: { "aria-hidden": "true" } }), clearText);
  const errorText = h("span", { class: "vq-inline-error-text" });
  const retryBtn = h("button", { class: "vq-link", type: "button", text: "Retry now", data: { act: "retry-now" } });
  const error = h("div", { class: "vq-inline-error", hidden: true, attrs: { role: "status" }, data: { testid: "poll-error" } },
    h("i", { class: "pi pi-exclamation-triangle", attrs: { "aria-hidden": "true" } }), errorText, retryBtn);
  const workerError = h("div", { class: "vq-inline-error", hidden: true, data: { testid: "worker-error" } });
  // Prompts running over 3x their workflow's average: maybe hung (prompt_timeout_seconds is
  // off by default), with the interrupt one click away.
  const stuck = h("div", { class: "vq-stuck", hidden: true, attrs: { role: "status" }, data: { testid: "stuck" } });

  const el = h("section", { class: "vq-status", attrs: { "aria-label": "Queue status" } },
    h("div", { class: "vq-status-row" }, comfy, worker),
    h("div", { class: "vq-status-row vq-counts", attrs: { "aria-label": "Prompt counts" } }, counts.running, counts.pending, counts.failed),
    h("div", { class: "vq-status-row vq-status-actions" }, pauseBtn, reloadBtn, clearBtn),
    error, workerError, stuck);

  let last = null;
  function update(state) {
    if (last && state.queue === last.queue && state.comfy === last.comfy && state.errors === last.errors &&
      state.busy === last.busy && state.health === last.health) return;
    last = state;
    const q = state.queue;
    const unreachable = Object.values(state.errors).some((e) => e.code === "network" || e.code === "timeout");
    const socket = state.comfy.socket;
    let comfyLabel = "connected";
    let comfyTone = "succeeded";
    if (unreachable) [comfyLabel, comfyTone] = ["unreachable", "failed"];
    else if (socket === "reconnecting") [comfyLabel, comfyTone] = ["reconnecting…", "canceled"];
    else if (state.comfy.queueRemaining) comfyLabel = `busy (${formatCount(state.comfy.queueRemaining)} in its queue)`;
    else if (socket === "unknown" && !q) [comfyLabel, comfyTone] = ["connecting…", "pending"];
    setText(comfyText, comfyLabel);
    setTone(comfy, comfyTone);
    setAttr(comfy, "title", state.health?.comfyui_version ? `ComfyUI ${state.health.comfyui_version}, vq ${state.health.vq_version}` : null);

    const w = WORKER[q?.worker] || WORKER.unknown;
    setText(workerText, w.label);
    setTone(worker, w.tone);
    if (workerIcon.className !== w.icon) workerIcon.className = w.icon;

    const c = q?.counts || {};
    setText(counts.running, `${formatCount((c.running || 0) + (c.canceling || 0))} running`);
    setText(counts.pending, `${formatCount((c.pending || 0) + (c.queued || 0))} pending`);
    setText(counts.failed, `${formatCount(c.failed || 0)} failed`);

    const paused = !!q?.paused;
    pauseIcon.className = paused ? "pi pi-play" : "pi pi-pause";
    setText(pauseText, paused ? "Resume" : "Pause");
    setAttr(pauseBtn, "aria-label", paused ? "Resume the queue" : "Pause the queue");
    pauseBtn.disabled = !q;
    setBusy(pauseBtn, state.busy.pause);
    setBusy(reloadBtn, state.busy.reload);
    const n = clearableCount(q);
    setText(clearText, n ? `Clear queue (${formatCount(n)})` : "Clear queue");
    setAttr(clearBtn, "aria-label", n ? `Clear queue: cancel ${plural(n, "waiting prompt")}` : "Clear queue");
    setBusy(clearBtn, state.busy.clear);

    const errs = Object.entries(state.errors);
    setHidden(error, !errs.length);
    if (errs.length) {
      const [source, e] = errs[0];
      const what = source === "list" ? "job list" : source;
      setText(errorText, e.status === 404
        ? `vq's API is missing (HTTP 404 for the ${what}): the Video Queue backend may have failed to load; see ComfyUI's log. Retrying automatically.`
        : `Could not refresh the ${what}: ${e.message}. Retrying automatically.`);
    }
    const stuckList = Array.isArray(q?.stuck) ? q.stuck : [];
    setHidden(stuck, !stuckList.length);
    const stuckSig = stuckList.map((s) => `${s.prompt_id}:${Math.round(s.running_seconds / 60)}:${!!state.busy[`pcancel:${s.prompt_id}`]}`).join(",");
    if (stuck.dataset.sig !== stuckSig) {
      stuck.dataset.sig = stuckSig;
      stuck.replaceChildren(...stuckList.map((s) => {
        const btn = h("button", { class: "vq-btn vq-btn-danger-quiet", type: "button",
          data: { act: "interrupt-stuck", id: s.prompt_id, testid: "interrupt-stuck" } },
        h("i", { class: "pi pi-stop-circle", attrs: { "aria-hidden": "true" } }), h("span", { text: "Interrupt" }));
        setBusy(btn, state.busy[`pcancel:${s.prompt_id}`]);
        return h("div", { class: "vq-inline-error" },
          h("i", { class: "pi pi-exclamation-triangle", attrs: { "aria-hidden": "true" } }),
          h("span", { class: "vq-inline-error-text", text: describeStuck(s) }), btn);
      }));
    }
    setHidden(workerError, !(q?.worker === "error"));
    if (q?.worker === "error") setText(workerError, `The vq worker stopped: ${q.worker_error || "unknown error"}`);
  }

  return { el, update };
}
