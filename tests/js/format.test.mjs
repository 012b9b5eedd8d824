import test from "node:test";
import assert from "node:assert/strict";
import {
  baseName, describeCancel, describeStuck, elapsedSeconds, errorText, formatCount, formatDuration, formatEta, formatRelative, formatValue,
  jobProgressText, mediaKind, percent, plural, shortId, splitSubfolder, statusMeta, viewPath, JOB_STATUSES,
} from "../../web/js/format.js";

test("durations read naturally at every scale", () => {
  assert.equal(formatDuration(0), "0 s");
  assert.equal(formatDuration(45.4), "45 s");
  assert.equal(formatDuration(65), "1 m 05 s");
  assert.equal(formatDuration(3720), "1 h 02 m");
  assert.equal(formatDuration(2 * 86400 + 3 * 3600), "2 d 3 h");
  assert.equal(formatDuration(null), "");
  assert.equal(formatDuration(Number.NaN), "");
});

test("relative times use the injected clock", () => {
  const now = Date.parse("2026-11-25T12:00:00Z");
  assert.equal(formatRelative("2026-11-25T11:59:55Z", now), "just now");
  assert.equal(formatRelative("2026-11-25T11:59:30Z", now), "30 s ago");
  assert.equal(formatRelative("2026-11-25T11:55:00Z", now), "5 min ago");
  assert.equal(formatRelative("2026-11-25T09:00:00Z", now), "3 h ago");
  assert.equal(formatRelative("2026-11-22T12:00:00Z", now), "3 d ago");
  assert.equal(formatRelative(null, now), "");
  assert.equal(formatRelative("garbage", now), "");
});

test("elapsed runs to now while unfinished, and is null before the start", () => {
  const now = Date.parse("2026-11-25T12:01:00Z");
  assert.equal(elapsedSeconds({ started_at: "2026-11-25T12:00:00Z", finished_at: null }, now), 60);
  assert.equal(elapsedSeconds({ started_at: "2026-11-25T12:00:00Z", finished_at: "2026-11-25T12:00:30Z" }, now), 30);
  assert.equal(elapsedSeconds({ started_at: null }, now), null);
});

test("eta, percent, counts, ids", () => {
  assert.equal(formatEta(312.5), "~5 m 13 s left");
  assert.equal(formatEta(null), "");
  assert.equal(formatEta(0.2), "finishing");
  assert.equal(percent(5, 20), 25);
  assert.equal(percent(30, 20), 100);
  assert.equal(percent(1, 0), null);
  assert.equal(formatCount(1234567), "1,234,567");
  assert.equal(plural(1, "prompt"), "1 prompt");
  assert.equal(plural(2000, "prompt"), "2,000 prompts");
  assert.equal(shortId("c4b7a970-1234-5678"), "c4b7a970");
  assert.equal(shortId(null), "");
});

test("every job status has a text label and an icon (never colour alone)", () => {
  for (const s of JOB_STATUSES) {
    const m = statusMeta(s);
    assert.ok(m.label && m.icon && m.tone, s);
  }
  assert.equal(statusMeta("weird").label, "weird");
});

test("job progress text mentions failures", () => {
  assert.equal(jobProgressText({ done: 3, total: 10, counts: { failed: 1 } }), "3 / 10 done · 1 failed");
  assert.equal(jobProgressText({ done: 0, total: 1, counts: {} }), "0 / 1 done");
  assert.equal(jobProgressText({ done: 2, total: 2, counts: { canceled: 2 } }), "2 / 2 done · 2 canceled");
});

test("the cancel confirmation says what happens to running and waiting prompts", () => {
  const lines = describeCancel({ counts: { pending: 3, queued: 1, running: 1, succeeded: 2 } });
  assert.match(lines[0], /4 waiting prompts will be canceled at once/);
  assert.match(lines[1], /1 running prompt will be interrupted/);
  assert.match(lines[2], /2 finished prompts/);
  assert.deepEqual(describeCancel({ counts: { succeeded: 1 } }).at(-1), "Nothing is waiting or running in this job.");
});

test("file helpers build ComfyUI /view paths", () => {
  assert.deepEqual(splitSubfolder("vq/staged/ab/abc.png"), { subfolder: "vq/staged/ab", filename: "abc.png" });
  assert.deepEqual(splitSubfolder("x.png"), { subfolder: "", filename: "x.png" });
  assert.equal(viewPath({ filename: "a b.png", subfolder: "s", type: "input" }), "/view?filename=a+b.png&subfolder=s&type=input");
  assert.equal(baseName("C:\\imgs\\cat.png"), "cat.png");
  assert.equal(baseName("/data/in/dog.jpg"), "dog.jpg");
  assert.equal(mediaKind({ kind: "video", filename: "x.png" }), "video");
  assert.equal(mediaKind({ kind: "other", filename: "clip.webm" }), "video");
  assert.equal(mediaKind({ filename: "a.bin" }), "other");
  assert.equal(formatValue({ a: 1 }), '{"a":1}');
  assert.equal(formatValue(null), "—");
});

test("describeStuck names the job, the prompt and both durations", () => {
  assert.equal(describeStuck({ prompt_id: 40, job_id: 12, index: 2, running_seconds: 1900, average_seconds: 600 }),
    "Job 12, prompt #3 has run 31 m 40 s, over 3× its workflow's average of 10 m 00 s. Stuck?");
});

test("errorText adds the server's hint, which says what to do", () => {
  assert.equal(errorText({ message: "/c/input/vq cannot be written", hint: "make it writable" }),
    "/c/input/vq cannot be written — make it writable");
  assert.equal(errorText({ message: "not found" }), "not found");
  assert.equal(errorText("plain"), "plain");
  assert.equal(errorText(null), "unknown error");
});
