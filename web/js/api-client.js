// HTTP client of the vq REST API (docs/api.md). It takes ComfyUI's `api.fetchApi` as an
// argument (which adds the `/api` prefix and the Comfy-User header), so it runs in node too.

const BASE = "/vq/v1";

/** An error answer ({"error": {code, message, details}}) or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

/**
 * @param {(route: string, init?: RequestInit) => Promise<Response>} fetchApi
 * @param {{timeoutMs?: number}} [options]
 */
export function createApiClient(fetchApi, { timeoutMs = 15000 } = {}) {
  async function request(method, path, { query, body, timeout = timeoutMs } = {}) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (timeout && typeof AbortSignal?.timeout === "function") init.signal = AbortSignal.timeout(timeout);
    let response;
    try {
      response = await fetchApi(BASE + path + queryString(query), init);
    } catch (err) {
      const timedOut = err?.name === "TimeoutError" || err?.name === "AbortError";
      throw new ApiError(0, timedOut ? "timeout" : "network",
        timedOut ? `ComfyUI did not answer within ${Math.round(timeout / 1000)} s` : "ComfyUI is not reachable");
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const e = data?.error;
      if (e && typeof e.message === "string") throw new ApiError(response.status, e.code || "error", e.message, e.details);
      const hint = text && text.length < 200 ? `: ${text.trim()}` : "";
      throw new ApiError(response.status, response.status === 404 ? "not_found" : "http",
        `HTTP ${response.status}${hint}`);
    }
    return data;
  }

  const post = (path, body) => request("POST", path, body === undefined ? {} : { body });

  return {
    request,
    health: () => request("GET", "/health"),
    listJobs: (params) => request("GET", "/jobs", { query: params }),
    getJob: (id) => request("GET", `/jobs/${id}`),
    submitGraphs: (body) => post("/jobs", body),
    cancelJob: (id) => post(`/jobs/${id}/cancel`),
    retryJob: (id) => post(`/jobs/${id}/retry`),
    moveToTop: (id) => post(`/jobs/${id}/top`),
    deleteJob: (id) => request("DELETE", `/jobs/${id}`),
    jobLog: (id, { after = 0, limit = 500 } = {}) => request("GET", `/jobs/${id}/log`, { query: { after, limit } }),
    getPrompt: (id) => request("GET", `/prompts/${id}`, { timeout: 60000 }),
    cancelPrompt: (id) => post(`/prompts/${id}/cancel`),
    retryPrompt: (id) => post(`/prompts/${id}/retry`),
    queue: () => request("GET", "/queue"),
    pause: () => post("/queue/pause"),
    resume: () => post("/queue/resume"),
    clear: (expectedCount, includeRunning = false) =>
      post("/queue/clear", { expected_count: expectedCount, include_running: includeRunning }),
    reloadWorkflows: () => post("/workflows/reload"),
  };
}

export function queryString(query) {
  if (!query) return "";
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
