import test from "node:test";
import assert from "node:assert/strict";
import { ApiError, createApiClient, queryString } from "../../web/js/api-client.js";

function fakeFetch(handler) {
  const calls = [];
  const fetchApi = async (route, init) => {
    calls.push({ route, init });
    const { status = 200, body = {}, raw } = (await handler(route, init)) || {};
    const text = raw ?? JSON.stringify(body);
    return { ok: status >= 200 && status < 300, status, text: async () => text };
  };
  return { fetchApi, calls };
}

test("routes live under /vq/v1 and queries drop empty values", async () => {
  const { fetchApi, calls } = fakeFetch(() => ({ body: { jobs: [], total: 0 } }));
  const client = createApiClient(fetchApi);
  await client.listJobs({ status: "failed,running", search: "", sort: "actionable", limit: 50, offset: 0 });
  assert.equal(calls[0].route, "/vq/v1/jobs?status=failed%2Crunning&sort=actionable&limit=50&offset=0");
  assert.equal(calls[0].init.method, "GET");
  assert.equal(queryString({}), "");
});

test("POST bodies are JSON with a JSON content type; body-less POSTs send no body", async () => {
  const { fetchApi, calls } = fakeFetch(() => ({ body: { cleared: 3 } }));
  const client = createApiClient(fetchApi);
  assert.deepEqual(await client.clear(3), { cleared: 3 });
  assert.equal(calls[0].route, "/vq/v1/queue/clear");
  assert.equal(calls[0].init.headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(calls[0].init.body), { expected_count: 3, include_running: false });
  await client.cancelJob(12);
  assert.equal(calls[1].route, "/vq/v1/jobs/12/cancel");
  assert.equal(calls[1].init.method, "POST");
  assert.equal(calls[1].init.body, undefined);
});

test("the error envelope becomes an ApiError with status, code, message and details", async () => {
  const { fetchApi } = fakeFetch(() => ({ status: 409, body: { error: { code: "count_changed", message: "now 4", details: { actual: 4 } } } }));
  const err = await createApiClient(fetchApi).clear(3).catch((e) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 409);
  assert.equal(err.code, "count_changed");
  assert.equal(err.message, "now 4");
  assert.deepEqual(err.details, { actual: 4 });
});

test("a non-JSON error still says what happened (e.g. ComfyUI's plain 404)", async () => {
  const { fetchApi } = fakeFetch(() => ({ status: 404, raw: "404: Not Found" }));
  const err = await createApiClient(fetchApi).reloadWorkflows().catch((e) => e);
  assert.equal(err.status, 404);
  assert.equal(err.code, "not_found");
  assert.match(err.message, /HTTP 404: 404: Not Found/);
});

test("a network failure is status 0 with a plain message", async () => {
  const client = createApiClient(async () => {
    throw new TypeError("Failed to fetch");
  });
  const err = await client.queue().catch((e) => e);
  assert.equal(err.status, 0);
  assert.equal(err.code, "network");
  assert.equal(err.message, "ComfyUI is not reachable");
});

test("requests carry a timeout signal", async () => {
  const { fetchApi, calls } = fakeFetch(() => ({ body: {} }));
  await createApiClient(fetchApi, { timeoutMs: 1000 }).queue();
  assert.ok(calls[0].init.signal, "AbortSignal.timeout is attached");
});
