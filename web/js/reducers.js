// The sidebar's state and its pure update functions (reducer + selectors).
// Actions are plain objects with a string `type`; anything time-dependent (`now`) comes
// inside the action, so every function here runs under node without a DOM.

import { JOB_STATUSES, SORTS, TERMINAL_STATUSES, statusMeta } from "./format.js";

export const PAGE_SIZES = Object.freeze([25, 50, 100, 200]);
const TERMINAL_PROMPT = new Set(TERMINAL_STATUSES);
const RANK = Object.fromEntries(JOB_STATUSES.map((s, i) => [s, i]));
/** Prompt rows shown at first in a job's detail; "show more" adds this many. */
export const PROMPT_ROWS_STEP = 100;

/** The initial state; `saved` holds the persisted view preferences (see `persisted`). */
export function initialState(saved = {}) {
  return {
    view: saved.view === "submit" ? "submit" : "queue",
    query: {
      statuses: Array.isArray(saved.statuses) ? saved.statuses.filter((s) => JOB_STATUSES.includes(s)) : [],
      search: "",
      sort: SORTS.some((s) => s.value === saved.sort) ? saved.sort : "actionable",
      page: 0,
      pageSize: PAGE_SIZES.includes(saved.pageSize) ? saved.pageSize : 50,
    },
    list: { ids: [], byId: {}, total: 0, counts: {}, loaded: false, loading: false, stale: false, key: null },
    queue: null,
    health: null,
    comfy: { socket: "unknown", queueRemaining: null },
    errors: {}, // polling failures by source ("list", "queue", "health"): {message, at}
    expanded: [], // job ids, in the order they were opened
    details: {}, // jobId -> {job, loading, error, stale, rows}
    disclosures: {}, // "json:<promptId>" | "tb:<promptId>" | "log:<jobId>" | "params:<jobId>" -> true
    logs: {}, // jobId -> {entries, nextAfter, loading, error, dropped}
    graphs: {}, // promptId -> {text, loading, error}
    promptFields: {}, // workflow name -> [{name, label}] of its prompt parameters (per_file), for prompt rows
    busy: {}, // action key -> true while it runs
    announce: { text: "", seq: 0 },
    scrollTop: 0,
  };
}

/** What survives a page reload (localStorage `vq.queue.view`). */
export function persisted(state) {
  const { statuses, sort, pageSize } = state.query;
  return { view: state.view, statuses, sort, pageSize };
}

// --- selectors ---------------------------------------------------------------------------

export function queryKey(query) {
  return JSON.stringify([[...query.statuses].sort(), query.search.trim(), query.sort, query.page, query.pageSize]);
}

/** Query parameters of GET /vq/v1/jobs for the current view. */
export function listParams(query) {
  const params = { sort: query.sort, limit: query.pageSize, offset: query.page * query.pageSize };
  if (query.statuses.length) params.status = [...query.statuses].sort().join(",");
  if (query.search.trim()) params.search = query.search.trim();
  return params;
}

export function visibleJobs(state) {
  return state.list.ids.map((id) => state.list.byId[id]).filter(Boolean);
}

export function isExpanded(state, id) {
  return state.expanded.includes(id);
}

/** Running + waiting prompts, the number on the sidebar icon; null hides the badge. */
export function badgeCount(queue) {
  const c = queue?.counts || {};
  const n = (c.running || 0) + (c.canceling || 0) + (c.queued || 0) + (c.pending || 0);
  return n > 0 ? n : null;
}

/** Prompts that "clear queue" would cancel (pending + queued), from QueueState. */
export function clearableCount(queue) {
  const c = queue?.counts || {};
  return (c.pending || 0) + (c.queued || 0);
}

export function pageInfo(state) {
  const { page, pageSize } = state.query;
  const total = state.list.total;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const from = total ? page * pageSize + 1 : 0;
  const to = Math.min(total, page * pageSize + state.list.ids.length);
  return { page, pages, from, to, total };
}

export function matchesStatuses(job, statuses) {
  return !statuses.length || statuses.includes(job.status);
}

/** Local search over what a JobSummary carries (name, workflow, id). The server also
 *  matches the input folder, so a miss here only means "wait for the refetch". */
export function matchesSearch(job, search) {
  const term = search.trim().toLowerCase();
  if (!term) return true;
  const digits = term.replace(/^#/, "");
  if (/^\d+$/.test(digits) && String(job.id) === digits) return true;
  return `${job.name || ""} ${job.workflow || ""}`.toLowerCase().includes(term);
}

/** The comparator the server's sort uses (store.py _JOB_SORTS), for local re-sorting. */
export function compareJobs(sort) {
  const created = (j) => Date.parse(j.created_at || "") || 0;
  const byCreatedDesc = (a, b) => created(b) - created(a) || b.id - a.id;
  const byCreatedAsc = (a, b) => created(a) - created(b) || a.id - b.id;
  switch (sort) {
    case "created":
      return byCreatedAsc;
    case "-created":
      return byCreatedDesc;
    case "priority":
      return (a, b) => (b.priority || 0) - (a.priority || 0) || byCreatedAsc(a, b);
    default:
      return (a, b) => (RANK[a.status] ?? 9) - (RANK[b.status] ?? 9) || byCreatedDesc(a, b);
  }
}

// --- the reducer -------------------------------------------------------------------------

const handlers = {
  "view/set": (s, a) => ({ ...s, view: a.view }),

  "query/toggleStatus": (s, a) => {
    const on = s.query.statuses.includes(a.status);
    const statuses = on ? s.query.statuses.filter((x) => x !== a.status) : [...s.query.statuses, a.status];
    return withQuery(s, { statuses, page: 0 });
  },
  "query/allStatuses": (s) => withQuery(s, { statuses: [], page: 0 }),
  "query/search": (s, a) => withQuery(s, { search: String(a.text || ""), page: 0 }),
  "query/sort": (s, a) => withQuery(s, { sort: a.sort, page: 0 }),
  "query/page": (s, a) => withQuery(s, { page: Math.max(0, a.page | 0) }),
  "query/pageSize": (s, a) => withQuery(s, { pageSize: a.pageSize, page: 0 }),

  "list/request": (s, a) => ({ ...s, list: { ...s.list, loading: true, requested: a.key } }),
  "list/loaded": (s, a) => {
    if (a.key !== queryKey(s.query)) return { ...s, list: { ...s.list, loading: false } }; // answer to an old query
    const byId = {};
    for (const job of a.result.jobs) byId[job.id] = sameJob(s.list.byId[job.id], job);
    const list = {
      ids: a.result.jobs.map((j) => j.id),
      byId,
      total: a.result.total,
      counts: a.result.counts || {},
      loaded: true,
      loading: false,
      stale: false,
      key: a.key,
    };
    const { [a.source || "list"]: _gone, ...errors } = s.errors;
    return { ...s, list, errors };
  },

  "job/event": (s, a) => applyJobEvent(s, a.job),
  "job/deleted": (s, a) => removeJob(s, a.id),
  "prompts/event": (s, a) => a.prompts.reduce(applyPromptEvent, s),
  "queue/loaded": (s, a) => ({ ...s, queue: a.queue }),
  "health/loaded": (s, a) => ({ ...s, health: a.health }),
  "comfy/socket": (s, a) => (s.comfy.socket === a.state ? s : { ...s, comfy: { ...s.comfy, socket: a.state } }),
  "comfy/status": (s, a) => ({ ...s, comfy: { ...s.comfy, socket: "connected", queueRemaining: a.queueRemaining } }),

  "poll/failed": (s, a) => ({ ...s, errors: { ...s.errors, [a.source]: { message: a.message, status: a.status ?? null,
    code: a.code ?? null, at: a.at } },
    list: a.source === "list" ? { ...s.list, loading: false } : s.list }),
  "poll/ok": (s, a) => {
    if (!s.errors[a.source]) return s;
    const { [a.source]: _gone, ...errors } = s.errors;
    return { ...s, errors };
  },

  "expand/toggle": (s, a) => setExpanded(s, a.id, !s.expanded.includes(a.id)),
  "expand/set": (s, a) => setExpanded(s, a.id, a.open),

  "detail/request": (s, a) => patchDetail(s, a.id, { loading: true, stale: false }),
  "detail/loaded": (s, a) => {
    const job = a.job;
    const next = patchDetail(s, job.id, { job, loading: false, error: null }); // events during the fetch keep it stale
    // The detail is newer than the list row: keep the row in step (status, counts, progress).
    if (!s.list.byId[job.id]) return next;
    const { params: _p, options: _o, source: _s, prompts: _pr, ...summary } = job;
    return { ...next, list: { ...next.list, byId: { ...next.list.byId, [job.id]: { ...s.list.byId[job.id], ...summary } } } };
  },
  "detail/failed": (s, a) => patchDetail(s, a.id, { loading: false, error: a.message }),
  "detail/stale": (s, a) => (s.details[a.id] ? patchDetail(s, a.id, { stale: true }) : s),
  "detail/showMore": (s, a) => {
    const rows = (s.details[a.id]?.rows || PROMPT_ROWS_STEP) + PROMPT_ROWS_STEP;
    return patchDetail(s, a.id, { rows });
  },

  "disclosure/toggle": (s, a) => {
    const { [a.key]: open, ...rest } = s.disclosures;
    if (!open) return { ...s, disclosures: { ...rest, [a.key]: true } };
    if (!a.key.startsWith("json:")) return { ...s, disclosures: rest };
    // A closed prompt JSON frees its text (graphs can be megabytes); opening it refetches.
    const id = a.key.slice(5);
    const { [`jsonall:${id}`]: _all, ...disclosures } = rest;
    const { [id]: _g, ...graphs } = s.graphs;
    return { ...s, disclosures, graphs };
  },

  "log/request": (s, a) => patchKeyed(s, "logs", a.jobId, { loading: true }),
  "log/loaded": (s, a) => {
    const prev = a.reset ? null : s.logs[a.jobId];
    let entries = prev?.entries ? prev.entries.concat(a.entries) : a.entries;
    let dropped = prev?.dropped || 0;
    const cap = a.cap || 5000;
    if (entries.length > cap) {
      dropped += entries.length - cap;
      entries = entries.slice(entries.length - cap);
    }
    return patchKeyed(s, "logs", a.jobId, { entries, nextAfter: a.nextAfter, loading: false, error: null, dropped,
      base: prev?.base ?? 0 });
  },
  "log/failed": (s, a) => patchKeyed(s, "logs", a.jobId, { loading: false, error: a.message }),

  "graph/request": (s, a) => patchKeyed(s, "graphs", a.promptId, { loading: true, error: null }),
  "graph/loaded": (s, a) => patchKeyed(s, "graphs", a.promptId, { loading: false, text: a.text, lines: a.lines }),
  "graph/failed": (s, a) => patchKeyed(s, "graphs", a.promptId, { loading: false, error: a.message }),

  "busy/set": (s, a) => {
    const { [a.key]: _was, ...rest } = s.busy;
    return { ...s, busy: a.on ? { ...rest, [a.key]: true } : rest };
  },
  announce: (s, a) => ({ ...s, announce: { text: a.text, seq: s.announce.seq + 1 } }),
  "workflow/promptFields": (s, a) => ({ ...s, promptFields: { ...s.promptFields, [a.name]: a.fields } }),
  "scroll/set": (s, a) => (s.scrollTop === a.top ? s : { ...s, scrollTop: a.top }),
};

export function reducer(state, action) {
  const handle = handlers[action.type];
  return handle ? handle(state, action) : state;
}

// --- helpers ---------------------------------------------------------------------------

function withQuery(s, patch) {
  const query = { ...s.query, ...patch };
  // Narrow what is on screen at once (status chips only remove rows); the refetch fills in.
  const ids = s.list.ids.filter((id) => {
    const job = s.list.byId[id];
    return job && matchesStatuses(job, query.statuses) && matchesSearch(job, query.search);
  });
  const samePage = query.page === s.query.page && query.pageSize === s.query.pageSize && query.sort === s.query.sort;
  return { ...s, query, list: { ...s.list, ids: samePage ? ids : s.list.ids, stale: true } };
}

function setExpanded(s, id, open) {
  const has = s.expanded.includes(id);
  if (open === has) return s;
  if (open) return { ...s, expanded: [...s.expanded, id] };
  // A collapsed job's detail and log can be big (thousands of prompts): drop them; opening
  // the card again refetches.
  const { [id]: _d, ...details } = s.details;
  const { [id]: _l, ...logs } = s.logs;
  return { ...s, expanded: s.expanded.filter((x) => x !== id), details, logs };
}

function patchDetail(s, id, patch) {
  return patchKeyed(s, "details", id, patch);
}

function patchKeyed(s, field, id, patch) {
  return { ...s, [field]: { ...s[field], [id]: { ...s[field][id], ...patch } } };
}

/** Keep the old object when nothing changed, so views can skip it by identity. */
function sameJob(prev, next) {
  if (!prev) return next;
  return JSON.stringify(prev) === JSON.stringify(next) ? prev : next;
}

function applyJobEvent(s, job) {
  if (!job || job.id == null) return s;
  const { query } = s;
  const prev = s.list.byId[job.id];
  let { ids, counts, total } = s.list;
  const byId = { ...s.list.byId, [job.id]: job };
  let stale = s.list.stale;
  let announce = s.announce;

  if (prev) {
    if (prev.status !== job.status) {
      counts = { ...counts, [prev.status]: Math.max(0, (counts[prev.status] || 0) - 1),
        [job.status]: (counts[job.status] || 0) + 1 };
      announce = { text: `Job ${job.id} “${job.name}”: ${statusMeta(job.status).label.toLowerCase()}`,
        seq: announce.seq + 1 };
      stale = true;
    }
    if (prev.priority !== job.priority) stale = true;
    if (ids.includes(job.id) && !matchesStatuses(job, query.statuses)) {
      ids = ids.filter((x) => x !== job.id);
      total = Math.max(0, total - 1);
    } else if (ids.includes(job.id) && (prev.status !== job.status || prev.priority !== job.priority)) {
      ids = sortIds(ids, byId, query.sort);
    }
  } else {
    stale = true; // a new job, or one on another page: the refetch gets counts and paging right
    if (query.page === 0 && matchesStatuses(job, query.statuses) && matchesSearch(job, query.search)) {
      ids = sortIds([...ids, job.id], byId, query.sort).slice(0, query.pageSize);
      total += 1;
    }
  }
  const details = s.details[job.id]?.job && detailOutdated(s.details[job.id].job, job)
    ? { ...s.details, [job.id]: { ...s.details[job.id], stale: true } }
    : s.details;
  return { ...s, list: { ...s.list, ids, byId, counts, total, stale }, details, announce };
}

function removeJob(s, id) {
  const prev = s.list.byId[id];
  const { [id]: _j, ...byId } = s.list.byId;
  const shown = s.list.ids.includes(id);
  const counts = prev ? { ...s.list.counts, [prev.status]: Math.max(0, (s.list.counts[prev.status] || 0) - 1) }
    : s.list.counts;
  const closed = setExpanded(s, id, false);
  return { ...closed, list: { ...s.list, byId, counts, ids: s.list.ids.filter((x) => x !== id),
    total: shown ? Math.max(0, s.list.total - 1) : s.list.total, stale: true } };
}

/** A detail needs a refetch when its prompts moved on in a way the vq.prompts briefs do not carry
 * (a bulk cancel or retry sends no briefs: its vq.job's done / status tells). */
function detailOutdated(detail, summary) {
  return detail.done !== summary.done || detail.status !== summary.status || detail.total !== summary.total;
}

function sortIds(ids, byId, sort) {
  const cmp = compareJobs(sort);
  return [...ids].sort((a, b) => cmp(byId[a], byId[b]));
}

const BRIEF_FIELDS = ["status", "attempt", "comfy_prompt_id", "progress", "error"];

function applyPromptEvent(s, brief) {
  if (!brief || brief.id == null) return s;
  const detail = s.details[brief.job_id];
  if (!detail?.job?.prompts) return s;
  const prompts = detail.job.prompts;
  const i = prompts.findIndex((p) => p.id === brief.id);
  if (i < 0) return patchDetail(s, brief.job_id, { stale: true });
  const prev = prompts[i];
  const next = { ...prev };
  for (const f of BRIEF_FIELDS) if (f in brief) next[f] = brief[f];
  const copy = prompts.slice();
  copy[i] = next;
  // Outputs, timestamps and attempts are not in the brief: refetch once a prompt settles.
  const stale = detail.stale || (prev.status !== next.status && (TERMINAL_PROMPT.has(next.status) || next.status === "running"));
  return patchDetail(s, brief.job_id, { job: { ...detail.job, prompts: copy }, stale });
}
