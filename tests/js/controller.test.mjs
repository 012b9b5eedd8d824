import test from "node:test";
import assert from "node:assert/strict";
import { ApiError } from "../../web/js/api-client.js";
import { createController } from "../../web/js/controller.js";
import { initialState, reducer } from "../../web/js/reducers.js";
import { createStore } from "../../web/js/store.js";
import { job, listResult } from "./fixtures.mjs";

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

/** A fake clock: timers run only when the test says so. */
function fakeTimers() {
  let now = 1_000_000;
  let seq = 0;
  const timers = new Map();
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.set(++seq, { fn, at: now + ms });
      return seq;
    },
    clearTimeout: (id) => timers.delete(id),
    async advance(ms) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now && timers.has(id)) {
          timers.delete(id);
          t.fn();
        }
      }
      await settle();
    },
  };
}

function setup({ client = {}, confirm = async () => true } = {}) {
  const store = createStore(reducer, initialState());
  const timers = fakeTimers();
  const toasts = [];
  const confirms = [];
  const badges = [];
  const calls = [];
  const record = (name, fn) => async (...args) => {
    calls.push([name, ...args]);
    return fn(...args);
  };
  const base = {
    queue: async () => ({ paused: false, worker: "idle", counts: { pending: 3, queued: 1 } }),
    listJobs: async () => listResult([job(1, { status: "running" }), job(2)]),
    health: async () => ({ comfyui_version: "0.8.0", vq_version: "0.1.0" }),
    getJob: async (id) => ({ ...job(id), params: {}, prompts: [] }),
    jobLog: async () => ({ entries: [], next_after: 0 }),
    ...client,
  };
  const wrapped = Object.fromEntries(Object.entries(base).map(([k, fn]) => [k, record(k, fn)]));
  const env = {
    toast: (severity, summary, detail) => toasts.push({ severity, summary, detail }),
    confirm: async (opts) => {
      confirms.push(opts);
      return confirm(opts);
    },
    canLoadGraph: () => true,
    loadGraph: async () => true,
    copy: async () => true,
    setBadge: (t) => badges.push(t),
    save: () => {},
    now: timers.now,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
  };
  const controller = createController({ store, client: wrapped, env });
  return { store, controller, timers, toasts, confirms, badges, calls };
}

test("mounting fetches queue, list and health; the badge follows the queue", async () => {
  const t = setup();
  t.controller.start();
  t.controller.mount();
  await settle();
  const names = t.calls.map((c) => c[0]);
  assert.ok(names.includes("queue") && names.includes("listJobs") && names.includes("health"));
  assert.deepEqual(t.store.getState().list.ids, [1, 2]);
  assert.equal(t.badges.at(-1), "4");
  t.controller.stop();
});

test("clear queue: shows the count, needs a confirm, and runs once at a time", async () => {
  let cleared = 0;
  let release;
  const gate = new Promise((r) => (release = r));
  const t = setup({
    client: {
      clear: async (n) => {
        await gate;
        cleared += 1;
        return { cleared: n };
      },
    },
  });
  const first = t.controller.actions.clearQueue();
  const second = t.controller.actions.clearQueue(); // double click while the first is in flight
  await settle();
  release();
  await Promise.all([first, second]);
  assert.equal(cleared, 1, "single-flight");
  assert.equal(t.confirms.length, 1);
  assert.match(t.confirms[0].lines[0], /4 waiting prompts will be canceled/);
  assert.equal(t.confirms[0].confirmLabel, "Cancel 4 prompts");
  assert.deepEqual(t.calls.find((c) => c[0] === "clear"), ["clear", 4]);
  assert.equal(t.toasts.at(-1).summary, "Queue cleared");
  assert.deepEqual(t.store.getState().busy, {});
});

test("clear queue: a declined confirm sends nothing; a changed count is reported, not forced", async () => {
  const declined = setup({ confirm: async () => false, client: { clear: async () => assert.fail("must not clear") } });
  await declined.controller.actions.clearQueue();
  assert.equal(declined.calls.filter((c) => c[0] === "clear").length, 0);

  const changed = setup({
    client: { clear: async () => {
      throw new ApiError(409, "count_changed", "changed", { actual: 9 });
    } },
  });
  await changed.controller.actions.clearQueue();
  const last = changed.toasts.at(-1);
  assert.equal(last.severity, "warn");
  assert.match(last.detail, /Now 9 prompts would be canceled, not 4/);
});

test("clear queue with nothing waiting says so without a dialog", async () => {
  const t = setup({ client: { queue: async () => ({ paused: false, worker: "idle", counts: { succeeded: 2 } }) } });
  await t.controller.actions.clearQueue();
  assert.equal(t.confirms.length, 0);
  assert.equal(t.toasts.at(-1).summary, "Nothing to clear");
});

test("cancel job asks first and explains running vs waiting prompts", async () => {
  const t = setup({
    client: { cancelJob: async (id) => ({ job: job(id, { status: "canceled" }), canceled: 2, canceling: 1 }) },
  });
  t.store.dispatch({ type: "list/loaded", key: JSON.stringify([[], "", "actionable", 0, 50]),
    result: listResult([job(5, { status: "running", counts: { running: 1, pending: 2 } })]) });
  await t.controller.actions.cancelJob(5);
  assert.match(t.confirms[0].lines.join(" "), /2 waiting prompts will be canceled at once.*1 running prompt will be interrupted/);
  assert.equal(t.store.getState().list.byId[5].status, "canceled");
  assert.match(t.toasts.at(-1).detail, /2 prompts canceled, 1 running prompt stopping/);
});

test("reload workflows reports the count and the problems", async () => {
  const t = setup({ client: { reloadWorkflows: async () => ({ workflows: ["a", "b"], problems: [] }) } });
  await t.controller.actions.reloadWorkflows();
  assert.deepEqual(t.toasts.at(-1), { severity: "success", summary: "Workflows reloaded", detail: "2 workflows available." });
  const bad = setup({ client: { reloadWorkflows: async () => ({ workflows: ["a"],
    problems: [{ file: "/u/workflows/mine.yaml", field: "params.steps.default", reason: "0 is below the minimum 1" }] }) } });
  await bad.controller.actions.reloadWorkflows();
  assert.equal(bad.toasts.at(-1).severity, "warn");
  assert.match(bad.toasts.at(-1).summary, /1 problem/);
  assert.match(bad.toasts.at(-1).detail, /mine.yaml: params.steps.default: 0 is below the minimum 1/);
});

test("reload workflows explains a 404 (an older backend without the catalog)", async () => {
  const t = setup({ client: { reloadWorkflows: async () => {
    throw new ApiError(404, "not_found", "HTTP 404");
  } } });
  await t.controller.actions.reloadWorkflows();
  assert.equal(t.toasts.at(-1).severity, "warn");
  assert.match(t.toasts.at(-1).summary, /not available/);
});

test("a failing poll shows an error, backs off, and clears itself on recovery", async () => {
  let fail = true;
  const t = setup({ client: { queue: async () => {
    if (fail) throw new ApiError(500, "internal", "internal error in vq");
    return { paused: false, worker: "idle", counts: {} };
  } } });
  t.controller.start();
  await t.timers.advance(0);
  assert.match(t.store.getState().errors.queue.message, /internal error/);
  fail = false;
  await t.timers.advance(15000 * 2);
  assert.equal(t.store.getState().errors.queue, undefined);
  t.controller.stop();
});

test("socket events patch the store; reconnected refetches everything", async () => {
  const t = setup();
  t.controller.start();
  t.controller.mount();
  await settle();
  t.controller.events.job({ job: job(1, { status: "running", done: 1 }) });
  assert.equal(t.store.getState().list.byId[1].done, 1);
  t.controller.events.queue({ paused: true, worker: "paused", counts: {} });
  assert.equal(t.store.getState().queue.paused, true);
  t.controller.events.jobsDeleted({ ids: [2, 99] }); // 99: never listed here
  assert.deepEqual(t.store.getState().list.ids, [1]);
  assert.equal(t.store.getState().list.byId[2], undefined);
  t.controller.events.status(null);
  assert.equal(t.store.getState().comfy.socket, "reconnecting");
  const before = t.calls.filter((c) => c[0] === "listJobs").length;
  t.controller.events.reconnected();
  await settle();
  assert.equal(t.store.getState().comfy.socket, "connected");
  assert.equal(t.calls.filter((c) => c[0] === "listJobs").length, before + 1);
  t.controller.stop();
});

test("expanding a card fetches its detail; a query change refetches the list after a short delay", async () => {
  const t = setup();
  t.controller.start();
  t.controller.mount();
  await settle();
  t.controller.actions.toggleExpand(2);
  await t.timers.advance(0);
  assert.ok(t.calls.some((c) => c[0] === "getJob" && c[1] === 2));
  assert.ok(t.store.getState().details[2].job);
  const lists = () => t.calls.filter((c) => c[0] === "listJobs").length;
  const before = lists();
  t.controller.actions.search("n");
  t.controller.actions.search("ni");
  t.controller.actions.search("nig");
  await t.timers.advance(100);
  assert.equal(lists(), before, "still typing");
  await t.timers.advance(200);
  assert.equal(lists(), before + 1, "one request for three keystrokes");
  assert.equal(t.calls.filter((c) => c[0] === "listJobs").at(-1)[1].search, "nig");
  t.controller.stop();
});

test("a poll failure records the HTTP status and code (the status bar explains a 404)", async () => {
  const t = setup({ client: { queue: async () => {
    throw new ApiError(404, "not_found", "HTTP 404");
  } } });
  t.controller.start();
  await t.timers.advance(0);
  assert.deepEqual({ ...t.store.getState().errors.queue, at: 0 }, { message: "HTTP 404", status: 404, code: "not_found", at: 0 });
  t.controller.stop();
});

test("vq.prompts events reach the loaded detail in one dispatch; empty or malformed batches are ignored", async () => {
  const t = setup();
  t.controller.start();
  t.controller.mount();
  await settle();
  const seen = [];
  const unsubscribe = t.store.subscribe ? t.store.subscribe(() => seen.push(1)) : null;
  const before = t.store.getState();
  t.controller.events.prompts({ prompts: [] });
  t.controller.events.prompts({});
  t.controller.events.prompts(null);
  assert.equal(t.store.getState(), before, "nothing dispatched");
  t.controller.events.prompts({ prompts: [{ id: 1, job_id: 99, status: "running" }, { id: 2, job_id: 99, status: "queued" }] });
  if (unsubscribe) assert.ok(seen.length <= 1, "one dispatch for the batch");
  t.controller.stop();
});

test("delete job asks first, removes the row and refetches", async () => {
  const deleted = [];
  const t = setup({ client: { deleteJob: async (id) => { deleted.push(id); return { id, deleted: true }; } } });
  t.store.dispatch({ type: "list/loaded", key: JSON.stringify([[], "", "actionable", 0, 50]),
    result: listResult([job(5, { status: "succeeded" }), job(6, { status: "failed" })]) });
  t.store.dispatch({ type: "expand/set", id: 5, open: true });
  await t.controller.actions.deleteJob(5);
  assert.deepEqual(deleted, [5]);
  assert.match(t.confirms[0].title, /Delete job/);
  assert.match(t.confirms[0].lines.join(" "), /Output files stay/);
  const s = t.store.getState();
  assert.equal(s.list.byId[5], undefined);
  assert.ok(!s.list.ids.includes(5) && !s.expanded.includes(5));
  assert.match(t.toasts.at(-1).summary, /deleted/);
  assert.ok(t.calls.some((c) => c[0] === "listJobs"), "the list is fetched again");

  const declined = setup({ client: { deleteJob: async () => assert.fail("not asked") }, confirm: async () => false });
  declined.store.dispatch({ type: "list/loaded", key: JSON.stringify([[], "", "actionable", 0, 50]),
    result: listResult([job(5, { status: "succeeded" })]) });
  await declined.controller.actions.deleteJob(5);
  assert.ok(declined.store.getState().list.byId[5]);
});

test("a stuck prompt in the queue state is one click (and a confirm) from its interrupt", async () => {
  const canceled = [];
  const stuck = { prompt_id: 40, job_id: 12, index: 2, workflow: "wan-i2v", running_seconds: 1900, average_seconds: 600 };
  const t = setup({
    client: {
      cancelPrompt: async (id) => { canceled.push(id); return { id, job_id: 12, index: 2, status: "canceling" }; },
      queue: async () => ({ paused: false, worker: "running", counts: { running: 1 }, stuck: [] }),
    },
  });
  t.store.dispatch({ type: "queue/loaded", queue: { paused: false, worker: "running", counts: { running: 1 }, stuck: [stuck] } });
  await t.controller.actions.interruptStuck(40);
  assert.match(t.confirms[0].title, /Interrupt prompt #3/);
  assert.deepEqual(canceled, [40]);
  assert.equal(t.toasts.at(-1).summary, "Prompt #3 stopping");
  assert.deepEqual(t.store.getState().queue.stuck, [], "the queue state is fetched again");
  await t.controller.actions.interruptStuck(99); // not listed: nothing happens
  assert.deepEqual(canceled, [40]);
});
