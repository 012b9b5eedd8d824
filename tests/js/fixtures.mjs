// Shared builders for the JS unit tests (not a test file itself).

export function job(id, patch = {}) {
  return {
    id,
    name: `job ${id}`,
    workflow: null,
    mode: null,
    status: "pending",
    priority: 0,
    created_at: new Date(Date.UTC(2026, 10, 25, 12, 0, id)).toISOString(),
    started_at: null,
    finished_at: null,
    total: 2,
    done: 0,
    counts: { pending: 2 },
    current: null,
    eta_seconds: null,
    ...patch,
  };
}

export function prompt(id, jobId, patch = {}) {
  return {
    id, job_id: jobId, index: id - 1, status: "pending", attempt: 1, max_attempts: 2, seed: 1,
    input_file: null, staged_name: null, comfy_prompt_id: null, progress: null, error: null, outputs: [],
    created_at: null, started_at: null, finished_at: null, attempts: [],
    ...patch,
  };
}

export function listResult(jobs, extra = {}) {
  const counts = {};
  for (const j of jobs) counts[j.status] = (counts[j.status] || 0) + 1;
  return { jobs, total: jobs.length, limit: 50, offset: 0, counts, ...extra };
}
