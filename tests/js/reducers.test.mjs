import test from "node:test";
import assert from "node:assert/strict";
import {
  badgeCount, clearableCount, compareJobs, initialState, isExpanded, listParams, pageInfo, persisted, queryKey, reducer,
  visibleJobs,
} from "../../web/js/reducers.js";
import { job, listResult, prompt } from "./fixtures.mjs";

function loaded(jobs, state = initialState(), extra = {}) {
  return reducer(state, { type: "list/loaded", key: queryKey(state.query), result: listResult(jobs, extra) });
}
const ids = (s) => s.list.ids;

test("a loaded page becomes ids + byId, in the server's order", () => {
  const s = loaded([job(3), job(1), job(2)]);
  assert.deepEqual(ids(s), [3, 1, 2]);
  assert.equal(s.list.byId[1].name, "job 1");
  assert.equal(s.list.loaded, true);
  assert.equal(visibleJobs(s).length, 3);
});

test("an answer to an older query is ignored", () => {
  let s = loaded([job(1)]);
  s = reducer(s, { type: "query/search", text: "cat" });
  const before = s.list.ids;
  s = reducer(s, { type: "list/loaded", key: "stale-key", result: listResult([job(9)]) });
  assert.equal(s.list.ids, before);
});

test("reloading an unchanged job keeps the same object (views skip it)", () => {
  const s1 = loaded([job(1), job(2)]);
  const s2 = loaded([job(1), job(2, { done: 1 })], s1);
  assert.equal(s2.list.byId[1], s1.list.byId[1]);
  assert.notEqual(s2.list.byId[2], s1.list.byId[2]);
});

test("a job event patches its row in place without touching the others", () => {
  const s1 = loaded([job(1, { status: "running" }), job(2)]);
  const s2 = reducer(s1, { type: "job/event", job: job(1, { status: "running", done: 1, current: { value: 3, max: 20 } }) });
  assert.deepEqual(ids(s2), [1, 2]);
  assert.equal(s2.list.ids, s1.list.ids, "order unchanged: same ids array");
  assert.equal(s2.list.byId[2], s1.list.byId[2]);
  assert.equal(s2.list.byId[1].current.value, 3);
  assert.equal(s2.list.stale, false, "progress alone needs no refetch");
});

test("a status change moves counts, re-sorts (actionable), announces and asks for a refetch", () => {
  const s1 = loaded([job(1, { status: "running" }), job(2, { status: "pending" })]);
  const s2 = reducer(s1, { type: "job/event", job: job(1, { status: "succeeded", done: 2 }) });
  assert.deepEqual(ids(s2), [2, 1]);
  assert.deepEqual(s2.list.counts, { running: 0, pending: 1, succeeded: 1 });
  assert.match(s2.announce.text, /job 1.*succeeded/);
  assert.equal(s2.announce.seq, s1.announce.seq + 1);
  assert.equal(s2.list.stale, true);
});

test("a job that leaves the status filter leaves the page", () => {
  let s = reducer(initialState(), { type: "query/toggleStatus", status: "running" });
  s = loaded([job(1, { status: "running" }), job(2, { status: "running" })], s);
  s = reducer(s, { type: "job/event", job: job(1, { status: "failed" }) });
  assert.deepEqual(ids(s), [2]);
  assert.equal(s.list.total, 1);
});

test("a new job appears on the first page at its sorted place; the page stays its size", () => {
  let s = initialState({ pageSize: 25 });
  const page = Array.from({ length: 25 }, (_, i) => job(i + 1, { status: "succeeded" }));
  s = loaded(page, s, { total: 40 });
  s = reducer(s, { type: "job/event", job: job(100, { status: "pending" }) });
  assert.equal(ids(s)[0], 100, "pending sorts before succeeded");
  assert.equal(ids(s).length, 25);
  assert.equal(s.list.total, 41);
  assert.equal(s.list.stale, true);
});

test("new jobs are not inserted on later pages or when the search does not match", () => {
  let s = loaded([job(1)]);
  s = reducer(s, { type: "query/page", page: 1 });
  s = loaded([job(1)], s);
  const s2 = reducer(s, { type: "job/event", job: job(7) });
  assert.deepEqual(ids(s2), [1]);
  assert.equal(s2.list.stale, true);

  let t = reducer(initialState(), { type: "query/search", text: "cat" });
  t = loaded([job(1, { name: "cat walk" })], t);
  t = reducer(t, { type: "job/event", job: job(8, { name: "dog run" }) });
  assert.deepEqual(ids(t), [1]);
  t = reducer(t, { type: "job/event", job: job(9, { name: "Cat nap" }) });
  assert.deepEqual(ids(t), [9, 1]);
});

test("status chips toggle, reset the page, narrow the rows at once and mark the list stale", () => {
  let s = loaded([job(1, { status: "running" }), job(2, { status: "failed" }), job(3)]);
  s = reducer(s, { type: "query/page", page: 0 });
  s = reducer(s, { type: "query/toggleStatus", status: "failed" });
  assert.deepEqual(s.query.statuses, ["failed"]);
  assert.deepEqual(ids(s), [2]);
  assert.equal(s.list.stale, true);
  s = reducer(s, { type: "query/toggleStatus", status: "running" });
  assert.deepEqual(s.query.statuses, ["failed", "running"]);
  s = reducer(s, { type: "query/toggleStatus", status: "failed" });
  assert.deepEqual(s.query.statuses, ["running"]);
  s = reducer(s, { type: "query/allStatuses" });
  assert.deepEqual(s.query.statuses, []);
  assert.equal(listParams(s.query).status, undefined);
});

test("search narrows locally by name, workflow or #id; the server adds folder matches", () => {
  let s = loaded([job(1, { name: "Night batch" }), job(2, { workflow: "wan22_i2v" }), job(12)]);
  assert.deepEqual(ids(reducer(s, { type: "query/search", text: "night" })), [1]);
  assert.deepEqual(ids(reducer(s, { type: "query/search", text: "WAN22" })), [2]);
  assert.deepEqual(ids(reducer(s, { type: "query/search", text: "#12" })), [12]);
  s = reducer(s, { type: "query/search", text: "  cats  " });
  assert.equal(listParams(s.query).search, "cats");
});

test("sort comparators match the server: actionable, created, -created, priority", () => {
  const a = [job(1, { status: "succeeded" }), job(2, { status: "pending" }), job(3, { status: "failed" }),
    job(4, { status: "running" }), job(5, { status: "canceled" }), job(6, { status: "pending" })];
  const order = (sort) => [...a].sort(compareJobs(sort)).map((j) => j.id);
  assert.deepEqual(order("actionable"), [4, 3, 6, 2, 5, 1]);
  assert.deepEqual(order("created"), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(order("-created"), [6, 5, 4, 3, 2, 1]);
  const p = [job(1, { priority: 0 }), job(2, { priority: 5 }), job(3, { priority: 5 })];
  assert.deepEqual([...p].sort(compareJobs("priority")).map((j) => j.id), [2, 3, 1]);
});

test("changing the sort keeps the rows until the refetch, then takes the server's order", () => {
  let s = loaded([job(1), job(2)]);
  s = reducer(s, { type: "query/sort", sort: "created" });
  assert.equal(s.query.sort, "created");
  assert.deepEqual(ids(s), [1, 2]);
  assert.equal(listParams(s.query).sort, "created");
  assert.notEqual(queryKey(s.query), queryKey(initialState().query));
});

test("expanded cards survive refetches, filter changes and events", () => {
  let s = loaded([job(1, { status: "running" }), job(2)]);
  s = reducer(s, { type: "expand/toggle", id: 1 });
  s = reducer(s, { type: "detail/loaded", job: { ...job(1, { status: "running" }), params: {}, prompts: [prompt(1, 1)] } });
  s = loaded([job(2), job(1, { status: "running", done: 1 })], s);
  assert.ok(isExpanded(s, 1));
  s = reducer(s, { type: "query/toggleStatus", status: "pending" });
  assert.ok(isExpanded(s, 1), "still expanded while filtered out");
  s = reducer(s, { type: "query/allStatuses" });
  s = reducer(s, { type: "job/event", job: job(1, { status: "succeeded" }) });
  assert.ok(isExpanded(s, 1));
  assert.ok(s.details[1].job, "the loaded detail is kept");
  s = reducer(s, { type: "expand/toggle", id: 1 });
  assert.ok(!isExpanded(s, 1));
  assert.deepEqual(reducer(s, { type: "expand/set", id: 2, open: true }).expanded, [2]);
});

test("prompt events patch one prompt of a loaded detail; settling marks the detail stale", () => {
  let s = loaded([job(1, { status: "running" })]);
  const detail = { ...job(1, { status: "running" }), params: {}, prompts: [prompt(1, 1), prompt(2, 1)] };
  s = reducer(s, { type: "detail/loaded", job: detail });
  const before = s.details[1].job.prompts;
  s = reducer(s, { type: "prompts/event", prompts: [{ id: 1, job_id: 1, status: "running", progress: { value: 2, max: 20 } }] });
  const after = s.details[1].job.prompts;
  assert.equal(after[0].progress.value, 2);
  assert.equal(after[1], before[1], "the other prompt keeps its identity");
  s = reducer(s, { type: "detail/request", id: 1 });
  assert.equal(s.details[1].stale, false);
  s = reducer(s, { type: "prompts/event", prompts: [{ id: 1, job_id: 1, status: "running", progress: { value: 3, max: 20 } }] });
  assert.equal(s.details[1].stale, false, "progress alone does not refetch");
  s = reducer(s, { type: "prompts/event", prompts: [{ id: 1, job_id: 1, status: "succeeded", progress: null }] });
  assert.equal(s.details[1].stale, true, "outputs come with the refetch");
  const unknown = reducer(s, { type: "prompts/event", prompts: [{ id: 99, job_id: 1, status: "pending" }] });
  assert.equal(unknown.details[1].stale, true);
  const noDetail = reducer(s, { type: "prompts/event", prompts: [{ id: 5, job_id: 77, status: "running" }] });
  assert.equal(noDetail, s, "no detail loaded: nothing to patch");
});

test("a job event whose done count moved marks its loaded detail stale", () => {
  let s = loaded([job(1, { status: "running" })]);
  s = reducer(s, { type: "detail/loaded", job: { ...job(1, { status: "running" }), params: {}, prompts: [] } });
  s = reducer(s, { type: "detail/request", id: 1 });
  s = reducer(s, { type: "detail/loaded", job: { ...job(1, { status: "running" }), params: {}, prompts: [] } });
  s = reducer(s, { type: "job/event", job: job(1, { status: "running", done: 1 }) });
  assert.equal(s.details[1].stale, true);
});

test("badge, clear count and page info", () => {
  assert.equal(badgeCount({ counts: { running: 1, queued: 1, pending: 10, failed: 4 } }), 12);
  assert.equal(badgeCount({ counts: { succeeded: 3 } }), null);
  assert.equal(badgeCount(null), null);
  assert.equal(clearableCount({ counts: { pending: 5, queued: 2, running: 1 } }), 7);
  let s = initialState({ pageSize: 25 });
  s = loaded(Array.from({ length: 25 }, (_, i) => job(i + 1)), s, { total: 60 });
  s = reducer(s, { type: "query/page", page: 2 });
  s = loaded(Array.from({ length: 10 }, (_, i) => job(i + 51)), s, { total: 60 });
  assert.deepEqual(pageInfo(s), { page: 2, pages: 3, from: 51, to: 60, total: 60 });
  assert.deepEqual(listParams(s.query), { sort: "actionable", limit: 25, offset: 50 });
});

test("polling errors are kept per source and cleared by the next success", () => {
  let s = reducer(initialState(), { type: "poll/failed", source: "queue", message: "HTTP 500", at: 1 });
  s = reducer(s, { type: "poll/failed", source: "list", message: "HTTP 500", at: 1 });
  assert.deepEqual(Object.keys(s.errors).sort(), ["list", "queue"]);
  s = reducer(s, { type: "poll/ok", source: "queue" });
  assert.deepEqual(Object.keys(s.errors), ["list"]);
  s = loaded([job(1)], s);
  assert.deepEqual(s.errors, {});
});

test("the job log appends pages and drops the oldest lines beyond the cap", () => {
  const entries = (from, n) => Array.from({ length: n }, (_, i) => ({ id: from + i, message: `m${from + i}` }));
  let s = reducer(initialState(), { type: "log/loaded", jobId: 1, entries: entries(1, 3), nextAfter: 3, reset: true });
  s = reducer(s, { type: "log/loaded", jobId: 1, entries: entries(4, 2), nextAfter: 5, cap: 4 });
  assert.deepEqual(s.logs[1].entries.map((e) => e.id), [2, 3, 4, 5]);
  assert.equal(s.logs[1].dropped, 1);
  assert.equal(s.logs[1].nextAfter, 5);
  s = reducer(s, { type: "log/loaded", jobId: 1, entries: entries(1, 1), nextAfter: 1, reset: true });
  assert.deepEqual(s.logs[1].entries.map((e) => e.id), [1]);
});

test("disclosures, busy flags and the view toggle", () => {
  let s = reducer(initialState(), { type: "disclosure/toggle", key: "json:4" });
  assert.equal(s.disclosures["json:4"], true);
  s = reducer(s, { type: "disclosure/toggle", key: "json:4" });
  assert.equal(s.disclosures["json:4"], undefined);
  s = reducer(s, { type: "busy/set", key: "clear", on: true });
  assert.equal(s.busy.clear, true);
  s = reducer(s, { type: "busy/set", key: "clear", on: false });
  assert.deepEqual(s.busy, {});
  assert.equal(reducer(s, { type: "view/set", view: "submit" }).view, "submit");
  assert.equal(reducer(s, { type: "nope" }), s);
});

test("saved preferences are validated; only view preferences persist", () => {
  const s = initialState({ statuses: ["failed", "bogus"], sort: "bad", pageSize: 7, view: "submit" });
  assert.deepEqual(s.query.statuses, ["failed"]);
  assert.equal(s.query.sort, "actionable");
  assert.equal(s.query.pageSize, 50);
  assert.deepEqual(persisted(s), { view: "submit", statuses: ["failed"], sort: "actionable", pageSize: 50 });
});

test("collapsing a card frees its detail and log; closing a prompt JSON frees its text", () => {
  let s = loaded([job(1)]);
  s = reducer(s, { type: "expand/toggle", id: 1 });
  s = reducer(s, { type: "detail/loaded", job: { ...job(1), params: {}, prompts: [prompt(1, 1)] } });
  s = reducer(s, { type: "log/loaded", jobId: 1, entries: [{ id: 1, message: "m" }], nextAfter: 1, reset: true });
  s = reducer(s, { type: "disclosure/toggle", key: "log:1" });
  s = reducer(s, { type: "expand/toggle", id: 1 });
  assert.equal(s.details[1], undefined);
  assert.equal(s.logs[1], undefined);
  assert.equal(s.disclosures["log:1"], true, "the log stays open for the next expansion");
  s = reducer(s, { type: "disclosure/toggle", key: "json:7" });
  s = reducer(s, { type: "disclosure/toggle", key: "jsonall:7" });
  s = reducer(s, { type: "graph/loaded", promptId: 7, text: "{}", lines: 1 });
  s = reducer(s, { type: "disclosure/toggle", key: "json:7" });
  assert.equal(s.graphs[7], undefined);
  assert.equal(s.disclosures["jsonall:7"], undefined);
});

test("a vq.prompts batch patches every listed prompt in one action, across jobs", () => {
  let s = loaded([job(1, { status: "running" }), job(2, { status: "running" })]);
  s = reducer(s, { type: "detail/loaded", job: { ...job(1, { status: "running" }), params: {}, prompts: [prompt(1, 1), prompt(2, 1)] } });
  s = reducer(s, { type: "detail/loaded", job: { ...job(2, { status: "running" }), params: {}, prompts: [prompt(3, 2)] } });
  s = reducer(s, { type: "detail/request", id: 1 });
  s = reducer(s, { type: "detail/request", id: 2 });
  s = reducer(s, { type: "prompts/event", prompts: [
    { id: 1, job_id: 1, status: "running", progress: { value: 5, max: 10 } },
    { id: 2, job_id: 1, status: "queued", comfy_prompt_id: "c2" },
    { id: 3, job_id: 2, status: "running", progress: { value: 1, max: 4 } },
  ] });
  assert.equal(s.details[1].job.prompts[0].progress.value, 5);
  assert.equal(s.details[1].job.prompts[1].comfy_prompt_id, "c2");
  assert.equal(s.details[2].job.prompts[0].progress.value, 1);
});
