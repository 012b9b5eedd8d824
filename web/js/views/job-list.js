// The job list: keyed job cards for the current page, an empty state and the pager.
// Pages come from the server (GET /vq/v1/jobs limit/offset), so 5,000 jobs cost one page of DOM.

import { h, reconcile, setAttr, setHidden, setText } from "../dom.js";
import { formatCount } from "../format.js";
import { pageInfo, PAGE_SIZES, visibleJobs } from "../reducers.js";
import { createJobCard } from "./job-card.js";

export function createJobList(ctx) {
  const cards = h("div", { class: "vq-cards", attrs: { role: "list", "aria-label": "Jobs" } });
  const empty = h("p", { class: "vq-empty", hidden: true, data: { testid: "empty" } });
  const prev = h("button", { class: "vq-btn vq-btn-small", type: "button", data: { act: "page-prev" }, attrs: { "aria-label": "Previous page" } },
    h("i", { class: "pi pi-chevron-left", attrs: { "aria-hidden": "true" } }));
  const next = h("button", { class: "vq-btn vq-btn-small", type: "button", data: { act: "page-next" }, attrs: { "aria-label": "Next page" } },
    h("i", { class: "pi pi-chevron-right", attrs: { "aria-hidden": "true" } }));
  const info = h("span", { class: "vq-page-info", attrs: { "aria-live": "polite" }, data: { testid: "page-info" } });
  const size = h("select", { class: "vq-input vq-page-size", attrs: { "aria-label": "Jobs per page" }, data: { change: "page-size" } },
    PAGE_SIZES.map((n) => h("option", { value: String(n), text: `${n} / page` })));
  const pager = h("nav", { class: "vq-pager", attrs: { "aria-label": "Pages" } }, prev, info, next, size);
  const el = h("div", { class: "vq-list" }, cards, empty, pager);

  const views = new Map();
  let last = null;

  function update(state) {
    const { list, query } = state;
    const structural = !last || list.ids !== last.list.ids;
    if (structural) {
      reconcile(cards, list.ids, views, (id) => {
        const card = createJobCard(id, ctx);
        card.el.setAttribute("role", "listitem");
        return card;
      });
    }
    // Patch every visible card; each skips itself when its job and expansion are unchanged.
    if (structural || list.byId !== last.list.byId || state.expanded !== last.expanded || state.details !== last.details ||
      state.busy !== last.busy || state.disclosures !== last.disclosures || state.logs !== last.logs || state.graphs !== last.graphs) {
      for (const job of visibleJobs(state)) views.get(job.id)?.update(job, state);
    }
    if (!last || list !== last.list || query !== last.query) {
      const p = pageInfo(state);
      const filtered = query.statuses.length || query.search.trim();
      const msg = !list.loaded ? (list.loading ? "Loading jobs…" : "")
        : list.ids.length ? "" : filtered ? "No jobs match the filters." : "No jobs yet. Submit one from the Submit view or the vq CLI.";
      setText(empty, msg);
      setHidden(empty, !msg);
      setText(info, p.total ? `${formatCount(p.from)}–${formatCount(p.to)} of ${formatCount(p.total)}` : "0 jobs");
      prev.disabled = p.page <= 0;
      next.disabled = p.page >= p.pages - 1;
      setHidden(pager, p.total <= PAGE_SIZES[0] && p.page === 0);
      if (size.value !== String(query.pageSize)) size.value = String(query.pageSize);
      setAttr(cards, "aria-busy", list.loading ? "true" : "false");
    }
    last = state;
  }

  return { el, update };
}
