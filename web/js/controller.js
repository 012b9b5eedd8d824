// Glue between the store, the REST client and the outside world: polling, socket events
// and refetching (the user's actions are in actions.js). No side effects at import:
// `createController` takes everything it touches (client, store, env), so node tests can
// drive it with fakes.

import { createActions } from "./actions.js";
import { errorText } from "./format.js";
import { badgeCount, listParams, persisted, queryKey } from "./reducers.js";

const ACTIVE_JOB = new Set(["pending", "running"]);

/**
 * @param {object} deps
 * @param {{getState: Function, dispatch: Function, subscribe: Function}} deps.store
 * @param {ReturnType<import("./api-client.js").createApiClient>} deps.client
 * @param {object} deps.env  toast(severity, summary, detail), confirm(opts) -> Promise<boolean>,
 *   canLoadGraph(), loadGraph(graph, name) -> Promise<boolean>, copy(text) -> Promise<boolean>,
 *   setBadge(text|null), save(prefs), now() -> ms, setTimeout, clearTimeout
 */
export function createController({ store, client, env, pollMs = 3000, idlePollMs = 15000, listEveryMs = 10000 }) {
  const { dispatch, getState } = store;
  const later = env.setTimeout || ((fn, ms) => setTimeout(fn, ms));
  const cancelLater = env.clearTimeout || ((id) => clearTimeout(id));
  let mounted = false;
  let started = false;
  let pollTimer = null;
  let failures = 0;
  let lastList = 0;
  let lastHealth = 0;
  let listTimer = null;
  const flights = new Map(); // single-flight by key -> promise
  const detailTimers = new Map();
  const logTimers = new Map();

  // --- fetching ------------------------------------------------------------------------

  const failure = (err) => ({ message: errorText(err), status: err?.status ?? null, code: err?.code ?? null });

  /** Run `fn` once per key at a time; a call while it runs waits for the same promise. */
  function single(key, fn) {
    if (flights.has(key)) return flights.get(key);
    const p = (async () => {
      try {
        return await fn();
      } finally {
        flights.delete(key);
      }
    })();
    flights.set(key, p);
    return p;
  }

  let listAgain = false;
  async function refreshList() {
    if (flights.has("list")) {
      listAgain = true;
      return flights.get("list");
    }
    return single("list", async () => {
      for (let round = 0; round < 5; round++) {
        listAgain = false;
        const query = getState().query;
        const key = queryKey(query);
        dispatch({ type: "list/request", key });
        try {
          const result = await client.listJobs(listParams(query));
          lastList = env.now();
          dispatch({ type: "list/loaded", key, result });
        } catch (err) {
          dispatch({ type: "poll/failed", source: "list", ...failure(err), at: env.now() });
          return;
        }
        if (!listAgain && getState().list.key === queryKey(getState().query)) return;
      }
    });
  }

  async function refreshQueue() {
    return single("queue", async () => {
      try {
        const queue = await client.queue();
        dispatch({ type: "queue/loaded", queue });
        dispatch({ type: "poll/ok", source: "queue" });
        return true;
      } catch (err) {
        dispatch({ type: "poll/failed", source: "queue", ...failure(err), at: env.now() });
        return false;
      }
    });
  }

  async function refreshHealth() {
    return single("health", async () => {
      try {
        dispatch({ type: "health/loaded", health: await client.health() });
        lastHealth = env.now();
      } catch (err) {
        // the queue poll reports reachability; health only adds versions
        console.warn("[vq] health check failed:", errorText(err));
      }
    });
  }

  async function refreshDetail(id) {
    return single(`detail:${id}`, async () => {
      dispatch({ type: "detail/request", id });
      try {
        const job = await client.getJob(id);
        dispatch({ type: "detail/loaded", job });
        if (job.workflow && !getState().promptFields[job.workflow]) loadPromptFields(job.workflow);
      } catch (err) {
        dispatch({ type: "detail/failed", id, message: errorText(err) });
      }
    });
  }

  /** The prompt parameters of a job's workflow (its definition's per-file ones), so prompt
   *  rows can show each prompt's own text under the same labels as the Submit form. */
  async function loadPromptFields(name) {
    return single(`fields:${name}`, async () => {
      let fields = [];
      try {
        const desc = await client.describeWorkflow(name);
        fields = (desc.params || []).filter((p) => p.per_file).map((p) => ({ name: p.name, label: p.label }));
      } catch (err) {
        console.warn(`[vq] no prompt labels for workflow ${name}:`, errorText(err));
      }
      dispatch({ type: "workflow/promptFields", name, fields });
    });
  }

  async function refreshLog(jobId, { reset = false } = {}) {
    return single(`log:${jobId}`, async () => {
      const prev = getState().logs[jobId];
      const after = reset || !prev ? 0 : prev.nextAfter || 0;
      dispatch({ type: "log/request", jobId });
      try {
        let page = await client.jobLog(jobId, { after, limit: 2000 });
        dispatch({ type: "log/loaded", jobId, entries: page.entries, nextAfter: page.next_after, reset: reset || !prev });
        // Catch up on a long log in a few pages, not one giant answer.
        for (let i = 0; i < 10 && page.entries.length === 2000; i++) {
          page = await client.jobLog(jobId, { after: page.next_after, limit: 2000 });
          dispatch({ type: "log/loaded", jobId, entries: page.entries, nextAfter: page.next_after });
        }
      } catch (err) {
        dispatch({ type: "log/failed", jobId, message: errorText(err) });
      }
    });
  }

  async function refreshAll() {
    const jobs = [refreshQueue(), refreshList(), refreshHealth()];
    for (const id of getState().expanded) jobs.push(refreshDetail(id));
    for (const key of Object.keys(getState().disclosures)) {
      if (key.startsWith("log:")) jobs.push(refreshLog(Number(key.slice(4))));
    }
    await Promise.all(jobs);
  }

  // --- polling -------------------------------------------------------------------------

  function schedulePoll(ms) {
    if (pollTimer != null) cancelLater(pollTimer);
    pollTimer = started ? later(poll, ms) : null;
  }

  async function poll() {
    pollTimer = null;
    const ok = await refreshQueue();
    failures = ok ? 0 : failures + 1;
    const now = env.now();
    if (ok && mounted) {
      // Events are hints: re-read the page now and then, and whenever a poll recovered.
      if (now - lastList >= listEveryMs || getState().errors.list) refreshList();
      for (const id of getState().expanded) {
        const d = getState().details[id];
        if (d?.error || (!d?.job && !d?.loading)) refreshDetail(id);
      }
    }
    if (ok && now - lastHealth >= 30000) refreshHealth();
    const base = mounted ? pollMs : idlePollMs;
    // After a failure retry a little slower, but not so slow that recovery goes unnoticed.
    schedulePoll(failures ? Math.min(base * 2, 10000) : base);
  }

  // --- reacting to state changes ------------------------------------------------------

  function onChange(state, prev) {
    if (state.queue !== prev.queue) {
      const n = badgeCount(state.queue);
      env.setBadge(n == null ? null : String(n));
    }
    if (state.query !== prev.query) env.save?.(persisted(state));
    if (!mounted) return;
    if (state.query !== prev.query || (state.list.stale && !prev.list.stale)) {
      // Chips and sort refetch fast; a run of events or keystrokes coalesces.
      if (listTimer != null) cancelLater(listTimer);
      listTimer = later(() => {
        listTimer = null;
        refreshList();
      }, state.query !== prev.query ? 150 : 400);
    }
    for (const id of state.expanded) {
      // A log left open on a card that was collapsed (which drops its lines) reloads.
      if (state.disclosures[`log:${id}`] && !state.logs[id] && !flights.has(`log:${id}`)) refreshLog(id);
      const d = state.details[id];
      const needs = !d || (d.stale && !d.loading);
      if (needs && !detailTimers.has(id)) {
        detailTimers.set(id, later(() => {
          detailTimers.delete(id);
          refreshDetail(id);
        }, d ? 250 : 0));
      }
    }
  }

  // --- socket events (registered by main.js at module load) ---------------------------

  const events = {
    job(detail) {
      if (!detail?.job) return;
      dispatch({ type: "job/event", job: detail.job });
      followLog(detail.job.id);
    },
    /** vq.prompts: the briefs of every prompt that changed in one 50 ms window, applied in one dispatch. */
    prompts(detail) {
      if (Array.isArray(detail?.prompts) && detail.prompts.length) dispatch({ type: "prompts/event", prompts: detail.prompts });
    },
    prompt(detail) { // a single brief (older servers sent vq.prompt)
      if (detail?.prompt) dispatch({ type: "prompts/event", prompts: [detail.prompt] });
    },
    queue(detail) {
      if (detail && typeof detail === "object") dispatch({ type: "queue/loaded", queue: detail });
    },
    /** vq.jobs_deleted: jobs deleted elsewhere (another tab, `vq rm`, the retention sweep). */
    jobsDeleted(detail) {
      for (const id of Array.isArray(detail?.ids) ? detail.ids : []) dispatch({ type: "job/deleted", id });
    },
    status(detail) {
      if (detail == null) dispatch({ type: "comfy/socket", state: "reconnecting" });
      else dispatch({ type: "comfy/status", queueRemaining: detail?.exec_info?.queue_remaining ?? null });
    },
    reconnecting() {
      dispatch({ type: "comfy/socket", state: "reconnecting" });
    },
    reconnected() {
      dispatch({ type: "comfy/socket", state: "connected" });
      dispatch({ type: "announce", text: "Connection to ComfyUI restored" });
      refreshAll(); // messages sent while disconnected are lost
    },
  };

  function followLog(jobId) {
    if (!getState().disclosures[`log:${jobId}`] || logTimers.has(jobId)) return;
    logTimers.set(jobId, later(() => {
      logTimers.delete(jobId);
      refreshLog(jobId);
    }, 500));
  }

  // --- user actions (actions.js) and lazy details ------------------------------------

  const findJob = (id) => getState().list.byId[id] || getState().details[id]?.job;
  const actions = createActions({
    store, client, env,
    refresh: { list: refreshList, queue: refreshQueue, all: refreshAll, log: refreshLog, graph: loadGraphText },
  });

  async function loadGraphText(promptId) {
    const g = getState().graphs[promptId];
    if (g?.text != null || g?.loading) return;
    dispatch({ type: "graph/request", promptId });
    try {
      const detail = await client.getPrompt(promptId);
      const text = JSON.stringify(detail.graph, null, 2) ?? "null";
      let lines = 1;
      for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lines++;
      dispatch({ type: "graph/loaded", promptId, text, lines });
    } catch (err) {
      dispatch({ type: "graph/failed", promptId, message: errorText(err) });
    }
  }

  function logFollowTick() {
    if (!mounted) return;
    for (const key of Object.keys(getState().disclosures)) {
      if (!key.startsWith("log:")) continue;
      const id = Number(key.slice(4));
      if (ACTIVE_JOB.has(findJob(id)?.status)) refreshLog(id);
    }
  }

  let unsubscribe = null;
  let followTimer = null;
  function followLoop() {
    logFollowTick();
    followTimer = mounted ? later(followLoop, 2000) : null;
  }

  return {
    actions,
    events,
    refreshAll,
    refreshList,
    /** Begin the background work (extension setup). */
    start() {
      if (started) return;
      started = true;
      unsubscribe = store.subscribe(onChange);
      schedulePoll(0);
      // One page in the background, so the first open draws at once and refetches after.
      later(() => {
        if (!getState().list.loaded) refreshList();
      }, 1000);
    },
    stop() {
      started = false;
      unsubscribe?.();
      if (pollTimer != null) cancelLater(pollTimer);
      pollTimer = null;
    },
    /** The panel opened: poll faster and refetch what it shows. */
    mount() {
      mounted = true;
      refreshAll();
      schedulePoll(pollMs);
      if (followTimer == null) followTimer = later(followLoop, 2000);
    },
    unmount() {
      mounted = false;
      if (followTimer != null) cancelLater(followTimer);
      followTimer = null;
      schedulePoll(idlePollMs);
    },
    get mounted() {
      return mounted;
    },
  };
}
