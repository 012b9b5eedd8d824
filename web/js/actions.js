// The user's actions: filters and view state (plain dispatches) and the REST actions with
// their confirm dialogs, busy flags (one run at a time per action and target) and toasts.
// No side effects at import; everything it touches is passed in (see controller.js).

import { baseName, describeCancel, errorText, plural, shortId } from "./format.js";
import { clearableCount } from "./reducers.js";

/**
 * @param {object} deps
 * @param {{getState: Function, dispatch: Function}} deps.store
 * @param {object} deps.client  the REST client (api-client.js)
 * @param {object} deps.env     toast, confirm, canLoadGraph, loadGraph, copy (see controller.js)
 * @param {{list: Function, queue: Function, all: Function, log: Function, graph: Function}} deps.refresh
 */
export function createActions({ store, client, env, refresh }) {
  const { dispatch, getState } = store;

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

  return {
    setView: (view) => dispatch({ type: "view/set", view }),
    toggleStatus: (status) => dispatch({ type: "query/toggleStatus", status }),
    allStatuses: () => dispatch({ type: "query/allStatuses" }),
    search: (text) => dispatch({ type: "query/search", text }),
    sort: (sort) => dispatch({ type: "query/sort", sort }),
    page: (page) => dispatch({ type: "query/page", page }),
    pageSize: (pageSize) => dispatch({ type: "query/pageSize", pageSize }),
    scroll: (top) => dispatch({ type: "scroll/set", top }),
    showMoreRows: (jobId) => dispatch({ type: "detail/showMore", id: jobId }),
    retryNow: () => refresh.all(),

    /** Show one job in the Queue view: its id as the search, its card expanded. */
    openJob(id) {
      dispatch({ type: "view/set", view: "queue" });
      dispatch({ type: "query/allStatuses" });
      dispatch({ type: "query/search", text: `#${id}` });
      if (!getState().expanded.includes(id)) dispatch({ type: "expand/toggle", id });
    },

    toggleExpand(id) {
      dispatch({ type: "expand/toggle", id });
    },

    toggleDisclosure(key) {
      dispatch({ type: "disclosure/toggle", key });
      const open = !!getState().disclosures[key];
      if (open && key.startsWith("json:")) refresh.graph(Number(key.slice(5)));
      if (open && key.startsWith("log:")) refresh.log(Number(key.slice(4)), { reset: true });
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
            running ? `${plural(running, "running prompt")} ${running === 1 ? "keeps" : "keep"} running.` : "Nothing is running now.",
            "Finished prompts and their outputs are not touched."],
          confirmLabel: `Cancel ${plural(n, "prompt")}`,
          cancelLabel: "Keep them",
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
        await Promise.all([refresh.queue(), refresh.list()]);
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

    async deleteJob(id) {
      const job = findJob(id);
      if (!job) return;
      await act(`delete:${id}`, async () => {
        const ok = await env.confirm({
          title: `Delete job “${job.name}”?`,
          lines: [`Its ${plural(job.total ?? 0, "prompt")}, their history and the job's log are removed from the queue.`,
            "Output files stay where they are.", "This cannot be undone."],
          confirmLabel: "Delete job",
          cancelLabel: "Keep it",
          danger: true,
        });
        if (!ok) return;
        await client.deleteJob(id);
        dispatch({ type: "job/deleted", id });
        dispatch({ type: "announce", text: `Job ${id} “${job.name}” deleted` });
        env.toast("success", `Job “${job.name}” deleted`, "");
        await Promise.all([refresh.queue(), refresh.list()]);
      }, `Could not delete “${job.name}”`);
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
        dispatch({ type: "prompts/event", prompts: [detail] });
        dispatch({ type: "detail/stale", id: prompt.job_id });
        env.toast("success", `Prompt #${prompt.index + 1} ${detail.status === "canceling" ? "stopping" : "canceled"}`, "");
      }, `Could not cancel prompt #${prompt.index + 1}`);
    },

    /** Interrupt a prompt the queue state lists as "stuck?" (the usual confirm first). */
    async interruptStuck(promptId) {
      const s = (getState().queue?.stuck || []).find((x) => x.prompt_id === promptId);
      if (!s) return;
      await this.cancelPrompt({ id: s.prompt_id, job_id: s.job_id, index: s.index, status: "running" });
      await refresh.queue();
    },

    async retryPrompt(prompt) {
      await act(`pretry:${prompt.id}`, async () => {
        const detail = await client.retryPrompt(prompt.id);
        dispatch({ type: "prompts/event", prompts: [detail] });
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
}
