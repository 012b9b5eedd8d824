// Glue between the store, the REST client and the outside world: polling, socket events,
// refetching and the user's actions. No side effects at import; `createController` takes
// everything it touches (client, store, env), so node tests can drive it with fakes.

import { baseName, describeCancel, errorText, plural, shortId } from "./format.js";
import { badgeCount, clearableCount, listParams, persisted, queryKey } from "./reducers.js";

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
          dispatch({ type: "poll/failed", source: "list", message: errorText(err), at: env.now() });
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
        dispatch({ type: "poll/failed", source: "queue", message: errorText(err), at: env.now() });
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
        dispatch({ type: "detail/loaded", job: await client.getJob(id) });
      } catch (err) {
        dispatch({ type: "detail/failed", id, message: errorText(err) });
      }
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
    prompt(detail) {
      if (detail?.prompt) dispatch({ type: "prompt/event", prompt: detail.prompt });
    },
    queue(detail) {
      if (detail && typeof detail === "object") dispatch({ type: "queue/loaded", queue: detail });
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

  // --- user actions ----------------------------------------------------------------------

  /** Run an action once at a time per key, with busy state and a toast on failure. */
  async function act(key, fn, failSummary) {
    if (getState().busy[key]) return undefined;
    dispatch({ type: "busy/set", key, on: true });
    try {
      return await fn();
    } catch (err) {
      env.toast(err?.status === 409 ? "warn" : "error", failSummary, errorText(err));
      return undefined;
    } finally {
      dispatch({ type: "busy/set", key, on: false });
    }
  }

  const findJob = (id) => getState().list.byId[id] || getState().details[id]?.job;

  const actions = {
    setView: (view) => dispatch({ type: "view/set", view }),
    toggleStatus: (status) => dispatch({ type: "query/toggleStatus", status }),
    allStatuses: () => dispatch({ type: "query/allStatuses" }),
    search: (text) => dispatch({ type: "query/search", text }),
    sort: (sort) => dispatch({ type: "query/sort", sort }),
    page: (page) => dispatch({ type: "query/page", page }),
    pageSize: (pageSize) => dispatch({ type: "query/pageSize", pageSize }),
    scroll: (top) => dispatch({ type: "scroll/set", top }),
    showMoreRows: (jobId) => dispatch({ type: "detail/showMore", id: jobId }),
    retryNow: () => refreshAll(),

    toggleExpand(id) {
      dispatch({ type: "expand/toggle", id });
    },

    toggleDisclosure(key) {
      dispatch({ type: "disclosure/toggle", key });
      const open = !!getState().disclosures[key];
      if (open && key.startsWith("json:")) loadGraphText(Number(key.slice(5)));
      if (open && key.startsWith("log:")) refreshLog(Number(key.slice(4)), { reset: true });
    },

    async pause() {
      await act("pause", async () => {
        dispatch({ type: "queue/loaded", queue: await client.pause() });
        dispatch({ type: "announce", text: "Queue paused" });
        env.toast("info", "Queue paused", "The running prompt finishes; nothing new starts until you resume.");
      }, "Could not pause the queue");
    },

    async resume() {
      await act("pause", async () => {
        dispatch({ type: "queue/loaded", queue: await client.resume() });
        dispatch({ type: "announce", text: "Queue resumed" });
        env.toast("success", "Queue resumed", "");
      }, "Could not resume the queue");
    },

    async reloadWorkflows() {
      await act("reload", async () => {
        let result;
        try {
          result = await client.reloadWorkflows();
        } catch (err) {
          if (err?.status !== 404) throw err;
          env.toast("warn", "Reload workflows is not available",
            "This vq backend has no workflow catalog (POST /vq/v1/workflows/reload answered 404).");
          return;
        }
        const names = Array.isArray(result?.workflows) ? result.workflows : [];
        const problems = Array.isArray(result?.problems) ? result.problems : [];
        const lines = [`${plural(names.length, "workflow")} available.`];
        for (const p of problems.slice(0, 3)) lines.push(`${baseName(p.file)}: ${p.field ? `${p.field}: ` : ""}${p.reason}`);
        if (problems.length > 3) lines.push(`…and ${problems.length - 3} more.`);
        env.toast(problems.length ? "warn" : "success",
          problems.length ? `Workflows reloaded with ${plural(problems.length, "problem")}` : "Workflows reloaded",
          lines.join(" "));
      }, "Could not reload workflows");
    },

    async clearQueue() {
      await act("clear", async () => {
        const fresh = await client.queue();
        dispatch({ type: "queue/loaded", queue: fresh });
        const n = clearableCount(fresh);
        if (!n) {
          env.toast("info", "Nothing to clear", "No prompts are waiting.");
          return;
        }
        const running = (fresh.counts?.running || 0) + (fresh.counts?.canceling || 0);
        const ok = await env.confirm({
          title: "Clear the queue?",
          lines: [`${plural(n, "waiting prompt")} will be canceled.`,
            running ? `${plural(running, "running prompt")} keep running.` : "Nothing is running now.",
            "Finished prompts and their outputs are not touched."],
          confirmLabel: `Cancel ${plural(n, "prompt")}`,
          danger: true,
        });
        if (!ok) return;
        try {
          const result = await client.clear(n);
          env.toast("success", "Queue cleared", `${plural(result.cleared, "prompt")} canceled.`);
          dispatch({ type: "announce", text: `Queue cleared: ${plural(result.cleared, "prompt")} canceled` });
        } catch (err) {
          if (err?.code !== "count_changed") throw err;
          const actual = err.details?.actual;
          env.toast("warn", "The queue changed; nothing was cleared",
            `${actual == null ? "The number" : `Now ${plural(actual, "prompt")}`} would be canceled, not ${n}. Check and try again.`);
        }
        await Promise.all([refreshQueue(), refreshList()]);
      }, "Could not clear the queue");
    },

    async cancelJob(id) {
      const job = findJob(id);
      if (!job) return;
      await act(`cancel:${id}`, async () => {
        const ok = await env.confirm({
          title: `Cancel job “${job.name}”?`,
          lines: describeCancel(job),
          confirmLabel: "Cancel job",
          cancelLabel: "Keep it",
          danger: true,
        });
        if (!ok) return;
        const result = await client.cancelJob(id);
        dispatch({ type: "job/event", job: result.job });
        dispatch({ type: "detail/stale", id });
        const parts = [];
        if (result.canceled) parts.push(`${plural(result.canceled, "prompt")} canceled`);
        if (result.canceling) parts.push(`${plural(result.canceling, "running prompt")} stopping`);
        env.toast("success", `Job “${job.name}” canceled`, parts.join(", "));
      }, `Could not cancel “${job.name}”`);
    },

    async retryJob(id) {
      const job = findJob(id);
      if (!job) return;
      await act(`retry:${id}`, async () => {
        const result = await client.retryJob(id);
        dispatch({ type: "job/event", job: result.job });
        dispatch({ type: "detail/stale", id });
        env.toast("success", `Retrying “${job.name}”`, `${plural(result.retried, "prompt")} back in the queue.`);
      }, `Could not retry “${job.name}”`);
    },

    async moveToTop(id) {
      const job = findJob(id);
      if (!job) return;
      await act(`top:${id}`, async () => {
        dispatch({ type: "job/event", job: await client.moveToTop(id) });
        env.toast("success", `“${job.name}” moved to the top`, "Its waiting prompts run next.");
      }, `Could not move “${job.name}”`);
    },

    async cancelPrompt(prompt) {
      await act(`pcancel:${prompt.id}`, async () => {
        if (prompt.status === "running") {
          const ok = await env.confirm({
            title: `Interrupt prompt #${prompt.index + 1}?`,
            lines: ["ComfyUI stops it at the next node; its partial result is discarded.",
              "The job's other prompts are not affected."],
            confirmLabel: "Interrupt",
            cancelLabel: "Keep running",
            danger: true,
          });
          if (!ok) return;
        }
        const detail = await client.cancelPrompt(prompt.id);
        dispatch({ type: "prompt/event", prompt: detail });
        dispatch({ type: "detail/stale", id: prompt.job_id });
        env.toast("success", `Prompt #${prompt.index + 1} ${detail.status === "canceling" ? "stopping" : "canceled"}`, "");
      }, `Could not cancel prompt #${prompt.index + 1}`);
    },

    async retryPrompt(prompt) {
      await act(`pretry:${prompt.id}`, async () => {
        const detail = await client.retryPrompt(prompt.id);
        dispatch({ type: "prompt/event", prompt: detail });
        dispatch({ type: "detail/stale", id: prompt.job_id });
        env.toast("success", `Prompt #${prompt.index + 1} queued again`, `Attempt ${detail.attempt}.`);
      }, `Could not retry prompt #${prompt.index + 1}`);
    },

    async copy(text, what = "Prompt id") {
      const ok = await env.copy(text).catch(() => false);
      env.toast(ok ? "success" : "warn", ok ? `${what} copied` : `Could not copy the ${what.toLowerCase()}`, ok ? text : "");
    },

    async loadGraph(prompt) {
      await act(`load:${prompt.id}`, async () => {
        if (!env.canLoadGraph()) {
          env.toast("warn", "Cannot load API-format graphs here",
            "This ComfyUI frontend has no API-format loader; open the prompt JSON and copy it instead.");
          return;
        }
        const ok = await env.confirm({
          title: "Load this graph into the canvas?",
          lines: [`Prompt #${prompt.index + 1} (ComfyUI prompt ${shortId(prompt.comfy_prompt_id)}) as it was queued.`,
            "The canvas switches to it; save your current workflow first if it has unsaved changes."],
          confirmLabel: "Load graph",
        });
        if (!ok) return;
        const detail = await client.getPrompt(prompt.id);
        const loaded = await env.loadGraph(detail.graph, `vq job ${prompt.job_id} prompt ${prompt.index + 1}`);
        if (loaded) env.toast("success", "Graph loaded into the canvas", "");
      }, "Could not load the graph");
    },
  };

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
