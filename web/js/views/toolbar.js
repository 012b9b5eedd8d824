// Queue toolbar: status chips with counts (toggle buttons), search, sort.

import { h, setAttr, setText } from "../dom.js";
import { formatCount, JOB_STATUSES, SORTS, statusMeta } from "../format.js";

export function createToolbar() {
  const allCount = h("span", { class: "vq-chip-count" });
  const all = h("button", { class: "vq-chip", type: "button", data: { act: "chip-all", testid: "chip-all" } },
    h("span", { text: "All" }), allCount);
  const chips = {};
  for (const status of JOB_STATUSES) {
    const meta = statusMeta(status);
    chips[status] = {
      btn: h("button", { class: `vq-chip vq-tone-${meta.tone}`, type: "button", data: { act: "chip", status, testid: `chip-${status}` } },
        h("i", { class: meta.icon, attrs: { "aria-hidden": "true" } }),
        h("span", { text: meta.label }),
        h("span", { class: "vq-chip-count" })),
    };
    chips[status].count = chips[status].btn.lastChild;
  }
  const search = h("input", {
    class: "vq-input vq-search",
    type: "search",
    placeholder: "Search name, workflow, folder, #id",
    attrs: { "aria-label": "Search jobs by name, workflow, input folder or job id", autocomplete: "off", spellcheck: "false" },
    data: { input: "search", testid: "search" },
  });
  const sort = h("select", { class: "vq-input vq-sort", attrs: { "aria-label": "Sort jobs" }, data: { change: "sort", testid: "sort" } },
    SORTS.map((s) => h("option", { value: s.value, text: s.label })));

  const el = h("div", { class: "vq-toolbar" },
    h("div", { class: "vq-chips", attrs: { role: "group", "aria-label": "Filter by status" } }, all, JOB_STATUSES.map((s) => chips[s].btn)),
    h("div", { class: "vq-toolbar-row" },
      h("span", { class: "vq-search-wrap" }, h("i", { class: "pi pi-search", attrs: { "aria-hidden": "true" } }), search),
      sort));

  let last = null;
  function update(state) {
    const { query, list } = state;
    if (last && last.query === query && last.list.counts === list.counts) return;
    last = state;
    const counts = list.counts || {};
    let total = 0;
    for (const status of JOB_STATUSES) {
      const n = counts[status] || 0;
      total += n;
      const on = query.statuses.includes(status);
      setAttr(chips[status].btn, "aria-pressed", on ? "true" : "false");
      setText(chips[status].count, formatCount(n));
      setAttr(chips[status].btn, "aria-label", `${statusMeta(status).label}: ${formatCount(n)} ${n === 1 ? "job" : "jobs"}`);
    }
    setAttr(all, "aria-pressed", query.statuses.length ? "false" : "true");
    setText(allCount, formatCount(total));
    setAttr(all, "aria-label", `All statuses: ${formatCount(total)} ${total === 1 ? "job" : "jobs"}`);
    if (search.value !== query.search && search !== search.getRootNode().activeElement) search.value = query.search;
    if (sort.value !== query.sort) sort.value = query.sort;
  }

  return { el, update, search };
}
