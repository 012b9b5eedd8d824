// The prompt JSON disclosure: fetched only when opened, shown as plain text. A big graph
// (1 MB and up) shows its first lines at once; the rest is one click away, and "Copy"
// always copies everything, so the page never lays out megabytes of text it need not.

import { h, setHidden, setText } from "../dom.js";
import { formatCount } from "../format.js";

export const JSON_PREVIEW_CHARS = 60000;

export function createJsonView(promptId) {
  const status = h("p", { class: "vq-muted", attrs: { role: "status" } });
  const pre = h("pre", { class: "vq-pre vq-json", tabIndex: 0, attrs: { "aria-label": "Prompt JSON" }, data: { testid: "json" } });
  const moreBtn = h("button", { class: "vq-link", type: "button", hidden: true, data: { act: "disclose", key: `jsonall:${promptId}` } });
  const copyBtn = h("button", { class: "vq-btn vq-btn-small", type: "button", data: { act: "copy-json", id: promptId } },
    h("i", { class: "pi pi-copy", attrs: { "aria-hidden": "true" } }), h("span", { text: "Copy JSON" }));
  const el = h("div", { class: "vq-json-wrap", id: `vq-json-${promptId}`, hidden: true }, status, pre, h("div", { class: "vq-actions" }, moreBtn, copyBtn));

  let shownFor = null;
  let shownAll = false;

  /** @param {boolean} open @param {object|undefined} graph state.graphs[id] @param {boolean} wantAll */
  function update(open, graph, wantAll) {
    setHidden(el, !open);
    if (!open) return;
    const text = graph?.text;
    setText(status, graph?.loading ? "Loading the graph…" : graph?.error ? `Could not load the graph: ${graph.error}` : "");
    setHidden(status, !(graph?.loading || graph?.error));
    setHidden(copyBtn, text == null);
    if (text == null) return;
    const all = !!wantAll || text.length <= JSON_PREVIEW_CHARS;
    if (shownFor === text && shownAll === all) return;
    shownFor = text;
    shownAll = all;
    if (all) {
      pre.textContent = text;
    } else {
      const cut = text.lastIndexOf("\n", JSON_PREVIEW_CHARS);
      pre.textContent = `${text.slice(0, cut > 0 ? cut : JSON_PREVIEW_CHARS)}\n…`;
      setText(moreBtn, `Show all ${formatCount(graph.lines)} lines (${formatCount(Math.round(text.length / 1024))} KB)`);
    }
    setHidden(moreBtn, all);
  }

  return { el, update };
}
