// The job log: fetched when opened, followed while the job runs (append-only DOM; lines
// beyond the cap are dropped from the top), auto-scrolls only while the reader is at the end.

import { h, setAttr, setHidden, setText } from "../dom.js";
import { formatClock, formatCount } from "../format.js";

export function createLogView(jobId) {
  const key = `log:${jobId}`;
  const toggle = h("button", { class: "vq-btn vq-btn-small", type: "button", data: { act: "disclose", key, testid: "log-toggle" },
    attrs: { "aria-expanded": "false", "aria-controls": `vq-log-${jobId}` } },
  h("i", { class: "pi pi-align-left", attrs: { "aria-hidden": "true" } }), h("span", { text: "Job log" }));
  const status = h("p", { class: "vq-muted" });
  const lines = h("div", { class: "vq-log", tabIndex: 0, attrs: { role: "log", "aria-label": "Job log", "aria-live": "off" }, data: { testid: "log" } });
  const dropped = h("p", { class: "vq-muted", hidden: true });
  const body = h("div", { id: `vq-log-${jobId}`, hidden: true }, status, dropped, lines);
  const el = h("section", { class: "vq-section vq-log-section" }, toggle, body);

  let lastEntries = null;
  let lastId = 0;
  let open = false;

  function update(state, summary) {
    const isOpen = !!state.disclosures[key];
    if (isOpen !== open) {
      open = isOpen;
      setAttr(toggle, "aria-expanded", open ? "true" : "false");
      setHidden(body, !open);
    }
    if (!open) return;
    const log = state.logs[jobId];
    const following = summary && (summary.status === "running" || summary.status === "pending");
    const msg = log?.error ? `Could not load the log: ${log.error}` : !log?.entries ? "Loading the log…"
      : !log.entries.length ? "The log is empty." : following ? "Following while the job runs." : "";
    setText(status, msg);
    setHidden(status, !msg);
    if (!log?.entries || log.entries === lastEntries) return;
    const atEnd = lines.scrollHeight - lines.scrollTop - lines.clientHeight < 24;
    const entries = log.entries;
    const firstId = entries.length ? entries[0].id : 0;
    if (!lastEntries || (entries.length && entries[entries.length - 1].id < lastId)) {
      lines.replaceChildren();
      lastId = 0;
    }
    while (lines.firstChild && Number(lines.firstChild.dataset.id) < firstId) lines.firstChild.remove();
    let start = entries.length;
    while (start > 0 && entries[start - 1].id > lastId) start--;
    const frag = document.createDocumentFragment();
    for (let i = start; i < entries.length; i++) frag.append(line(entries[i]));
    lines.append(frag);
    if (entries.length) lastId = entries[entries.length - 1].id;
    lastEntries = entries;
    setHidden(dropped, !log.dropped);
    if (log.dropped) setText(dropped, `${formatCount(log.dropped)} older lines are not shown.`);
    if (atEnd || start === 0) lines.scrollTop = lines.scrollHeight;
  }

  return { el, update };
}

function line(e) {
  const level = (e.level || "info").toLowerCase();
  return h("div", { class: `vq-log-line vq-log-${level}`, data: { id: e.id } },
    h("span", { class: "vq-log-time", text: formatClock(e.at).slice(11) }),
    h("span", { class: "vq-log-level", text: level.toUpperCase() }),
    h("span", { class: "vq-log-msg", text: `${e.prompt_id ? `[prompt ${e.prompt_id}] ` : ""}${e.message}` }));
}
