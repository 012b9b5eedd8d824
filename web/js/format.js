// Pure formatting helpers for the sidebar: statuses, times, durations, counts.
// No DOM, no ComfyUI imports: unit-tested under node (tests/js/format.test.mjs).
// The status names are vq_extension/queue/models.py's (tests/unit/test_shared_tables.py).

import { mediaKindOfName } from "./media.js";

/** Job and prompt statuses: label, PrimeIcons icon and tone (a CSS class suffix). */
export const STATUS_META = Object.freeze({
  // Static icons: a spinner per running card would keep the page repainting every frame.
  running: { label: "Running", icon: "pi pi-play-circle", tone: "running" },
  queued: { label: "Queued", icon: "pi pi-arrow-circle-right", tone: "running" },
  canceling: { label: "Canceling", icon: "pi pi-hourglass", tone: "canceled" },
  failed: { label: "Failed", icon: "pi pi-times-circle", tone: "failed" },
  interrupted: { label: "Interrupted", icon: "pi pi-exclamation-triangle", tone: "failed" },
  pending: { label: "Pending", icon: "pi pi-clock", tone: "pending" },
  canceled: { label: "Canceled", icon: "pi pi-ban", tone: "canceled" },
  succeeded: { label: "Succeeded", icon: "pi pi-check-circle", tone: "succeeded" },
});

/** Job statuses in the actionable order (DESIGN §3): the chip order and the default sort. */
export const JOB_STATUSES = Object.freeze(["running", "failed", "pending", "canceled", "succeeded"]);

/** Prompt statuses that are final (a retry makes a new attempt). */
export const TERMINAL_STATUSES = Object.freeze(["succeeded", "failed", "canceled"]);
/** Prompt statuses a user can retry, and cancel. */
export const RETRYABLE_STATUSES = Object.freeze(["failed", "canceled", "interrupted"]);
export const CANCELABLE_STATUSES = Object.freeze(["pending", "queued", "running"]);

export const SORTS = Object.freeze([
  { value: "actionable", label: "Actionable first" },
  { value: "-created", label: "Newest first" },
  { value: "created", label: "Oldest first" },
  { value: "priority", label: "Priority" },
]);

export function statusMeta(status) {
  return STATUS_META[status] || { label: String(status || "unknown"), icon: "pi pi-question-circle", tone: "pending" };
}

/** ISO timestamp -> epoch ms, or null. */
export function parseTime(iso) {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** Seconds -> "45 s", "3 m 05 s", "1 h 02 m", "2 d 3 h". */
export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${pad(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${pad(m % 60)} m`;
  const d = Math.floor(h / 24);
  return `${d} d ${h % 24} h`;
}

/** The "stuck?" line for a prompt running over 3x its workflow's average (GET /queue `stuck`). */
export function describeStuck(s) {
  return `Job ${s.job_id}, prompt #${s.index + 1} has run ${formatDuration(s.running_seconds)}, ` +
    `over 3× its workflow's average of ${formatDuration(s.average_seconds)}. Stuck?`;
}

/** "just now", "5 min ago", "3 h ago", "2 d ago"; `now` is epoch ms (injected for tests). */
export function formatRelative(iso, now) {
  const t = parseTime(iso);
  if (t == null) return "";
  const s = Math.round((now - t) / 1000);
  if (s < 10) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** Local "YYYY-MM-DD HH:MM:SS" (the title of relative times and the detail grid). */
export function formatClock(iso) {
  const t = parseTime(iso);
  if (t == null) return "";
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Seconds between started and finished (or now while still going); null if never started. */
export function elapsedSeconds(item, now) {
  const start = parseTime(item?.started_at);
  if (start == null) return null;
  const end = parseTime(item.finished_at) ?? now;
  return Math.max(0, (end - start) / 1000);
}

export function formatEta(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "";
  if (seconds < 1) return "finishing";
  return `~${formatDuration(seconds)} left`;
}

/** 0..100, or null when there is no maximum. */
export function percent(value, max) {
  if (!max || !Number.isFinite(value) || !Number.isFinite(max)) return null;
  return Math.max(0, Math.min(100, (value / max) * 100));
}

export function formatCount(n) {
  return String(Math.trunc(n || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

export function plural(n, one, many = `${one}s`) {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export function shortId(id, length = 8) {
  return id ? String(id).slice(0, length) : "";
}

/** "3 / 10 done · 1 failed" for a JobSummary. */
export function jobProgressText(job) {
  const parts = [`${formatCount(job.done)} / ${formatCount(job.total)} done`];
  const failed = job.counts?.failed || 0;
  const canceled = job.counts?.canceled || 0;
  if (failed) parts.push(`${formatCount(failed)} failed`);
  if (canceled) parts.push(`${formatCount(canceled)} canceled`);
  return parts.join(" · ");
}

/** What cancelling a job will do, from its prompt counts (for the confirm dialog). */
export function describeCancel(job) {
  const c = job.counts || {};
  const waiting = (c.pending || 0) + (c.queued || 0) + (c.interrupted || 0);
  const running = c.running || 0;
  const lines = [];
  if (waiting) lines.push(`${plural(waiting, "waiting prompt")} will be canceled at once.`);
  if (running) {
    lines.push(`${plural(running, "running prompt")} will be interrupted; ComfyUI stops ` +
      `${running === 1 ? "it" : "them"} at the next node, and the partial result is discarded.`);
  }
  if (c.canceling) lines.push(`${plural(c.canceling, "prompt")} already being canceled.`);
  const finished = (c.succeeded || 0) + (c.failed || 0) + (c.canceled || 0);
  if (finished) lines.push(`${plural(finished, "finished prompt")} and ${finished === 1 ? "its" : "their"} outputs stay as they are.`);
  if (!waiting && !running) lines.push("Nothing is waiting or running in this job.");
  return lines;
}

/** Text of an error for a toast or an inline message. */
export function errorText(err) {
  if (!err) return "unknown error";
  if (typeof err === "string") return err;
  const text = err.message || String(err);
  return err.hint ? `${text} — ${err.hint}` : text; // the server's hint says what to do
}

/** A resolved parameter value as display text. */
export function formatValue(value) {
  if (value == null) return "—";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** The file-name part of a path (POSIX or Windows separators). */
export function baseName(path) {
  if (!path) return "";
  const parts = String(path).split(/[\\/]/);
  return parts[parts.length - 1] || String(path);
}

/** Split "a/b/c.png" into {subfolder: "a/b", filename: "c.png"} for ComfyUI's /view. */
export function splitSubfolder(name) {
  const s = String(name || "").replace(/\\/g, "/");
  const i = s.lastIndexOf("/");
  return i < 0 ? { subfolder: "", filename: s } : { subfolder: s.slice(0, i), filename: s.slice(i + 1) };
}

/** The query string of ComfyUI's /view for a file. */
export function viewPath({ filename, subfolder = "", type = "output" }) {
  const q = new URLSearchParams({ filename, subfolder, type });
  return `/view?${q.toString()}`;
}

/** An output's media kind, also guessing from the extension when the server says "other". */
export function mediaKind(output) {
  const kind = output?.kind;
  if (kind === "image" || kind === "video" || kind === "audio") return kind;
  const guessed = mediaKindOfName(output?.filename);
  return guessed === "image" || guessed === "video" || guessed === "audio" ? guessed : "other";
}

function pad(n) {
  return String(n).padStart(2, "0");
}
