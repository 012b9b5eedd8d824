// One prompt row of a job's detail: index, input thumbnail, try/seed, status, ComfyUI prompt
// id (copy; click to load the graph), progress, error with node and traceback, outputs,
// prompt JSON disclosure, cancel/retry.

import { h, progressBar, setAttr, setBusy, setClass, setHidden, setText, statusBadge, updateBadge, updateProgress } from "../dom.js";
import {
  CANCELABLE_STATUSES, RETRYABLE_STATUSES, baseName, mediaKind, percent, shortId, splitSubfolder, statusMeta, viewPath,
} from "../format.js";
import { createJsonView } from "./json-view.js";

const CANCELABLE = new Set(CANCELABLE_STATUSES);
const RETRYABLE = new Set(RETRYABLE_STATUSES);

/** [label, text] of a prompt's own prompt parameters ("Prompt", or "Clip 1" … "Clip N"). */
export function promptTexts(params, fields) {
  const out = [];
  for (const f of fields) {
    if (!f.name.includes("{k}")) {
      if (f.name in params) out.push([f.label, params[f.name]]);
      continue;
    }
    for (let k = 1; f.name.replace("{k}", k) in params; k++) out.push([f.label.replace("{k}", k), params[f.name.replace("{k}", k)]]);
  }
  return out;
}

export function createPromptRow(id, ctx) {
  const index = h("span", { class: "vq-prompt-index" });
  const thumb = h("img", { class: "vq-thumb", alt: "", loading: "lazy", decoding: "async", hidden: true, width: 40, height: 40 });
  const file = h("span", { class: "vq-prompt-file" });
  const meta = h("span", { class: "vq-prompt-meta" });
  const badge = statusBadge(statusMeta("pending"));
  const comfyId = h("button", { class: "vq-link vq-mono", type: "button", data: { act: "load-graph", id, testid: "comfy-id" } });
  const copyBtn = h("button", { class: "vq-icon-btn", type: "button", data: { act: "copy-id", id, testid: "copy-id" },
    attrs: { "aria-label": "Copy the ComfyUI prompt id" }, title: "Copy the ComfyUI prompt id" },
  h("i", { class: "pi pi-copy", attrs: { "aria-hidden": "true" } }));
  const texts = h("dl", { class: "vq-prompt-texts", hidden: true, data: { testid: "prompt-texts" } });
  const ids = h("div", { class: "vq-prompt-ids", hidden: true }, h("span", { class: "vq-muted", text: "ComfyUI prompt" }), comfyId, copyBtn);
  const bar = progressBar("Sampler steps");
  const barText = h("span", { class: "vq-progress-text" });
  const progress = h("div", { class: "vq-prompt-progress", hidden: true }, bar, barText);
  const errMsg = h("p", { class: "vq-error-msg" });
  const errNode = h("p", { class: "vq-muted" });
  const tbBtn = h("button", { class: "vq-link", type: "button", data: { act: "disclose", key: `tb:${id}` }, attrs: { "aria-expanded": "false" } });
  const tb = h("pre", { class: "vq-pre vq-traceback", hidden: true, id: `vq-tb-${id}` });
  tbBtn.setAttribute("aria-controls", tb.id);
  const error = h("div", { class: "vq-error", hidden: true, attrs: { role: "group", "aria-label": "Error" } }, errMsg, errNode, tbBtn, tb);
  const outputs = h("ul", { class: "vq-outputs", hidden: true, attrs: { "aria-label": "Outputs" } });
  const jsonBtn = h("button", { class: "vq-btn vq-btn-small", type: "button", data: { act: "disclose", key: `json:${id}`, testid: "json-toggle" },
    attrs: { "aria-expanded": "false", "aria-controls": `vq-json-${id}` } },
  h("i", { class: "pi pi-code", attrs: { "aria-hidden": "true" } }), h("span", { text: "Prompt JSON" }));
  const cancelBtn = h("button", { class: "vq-btn vq-btn-small", type: "button", data: { act: "cancel-prompt", id, testid: "cancel-prompt" } },
    h("i", { class: "pi pi-times", attrs: { "aria-hidden": "true" } }), h("span", { text: "Cancel" }));
  const retryBtn = h("button", { class: "vq-btn vq-btn-small", type: "button", data: { act: "retry-prompt", id, testid: "retry-prompt" } },
    h("i", { class: "pi pi-replay", attrs: { "aria-hidden": "true" } }), h("span", { text: "Retry" }));
  const json = createJsonView(id);

  const el = h("li", { class: "vq-prompt", data: { promptId: id, testid: "prompt-row" } },
    h("div", { class: "vq-prompt-head" }, index, thumb, h("span", { class: "vq-prompt-main" }, file, meta), badge),
    texts, ids, progress, error, outputs,
    h("div", { class: "vq-actions vq-actions-small" }, jsonBtn, cancelBtn, retryBtn),
    json.el);

  let last = null;
  let lastOutputs = null;
  let lastOpen = {};
  let lastFields = null;
  let lastTexts = null;

  function update(p, state) {
    if (p !== last) {
      const m = statusMeta(p.status);
      setText(index, `#${p.index + 1}`);
      setText(file, p.input_file ? baseName(p.input_file) : "no input file");
      setClass(file, "vq-muted", !p.input_file);
      setAttr(file, "title", p.input_file || null);
      const bits = [`id ${p.id}`];
      if (p.try_index != null) bits.push(`try ${p.try_index + 1}`);
      if (p.seed != null) bits.push(`seed ${p.seed}`);
      if (p.max_attempts && p.attempt) bits.push(`attempt ${p.attempt}/${p.max_attempts}`);
      setText(meta, bits.join(" · "));
      setAttr(meta, "title", `Prompt id ${p.id}: vq cancel --prompt ${p.id} / vq retry --prompt ${p.id}`);
      updateBadge(badge, m);
      if ((p.input_file || p.staged_name) && !thumb.getAttribute("src")) showThumb(p);
      setHidden(ids, !p.comfy_prompt_id);
      if (p.comfy_prompt_id) {
        setText(comfyId, shortId(p.comfy_prompt_id));
        setAttr(comfyId, "title", `${p.comfy_prompt_id}: load this graph into the canvas`);
        setAttr(comfyId, "aria-label", `ComfyUI prompt ${p.comfy_prompt_id}: load its graph into the canvas`);
      }
      const running = p.status === "running" && p.progress;
      setHidden(progress, !running);
      if (running) {
        const steps = p.progress.max ? `step ${p.progress.value} / ${p.progress.max}` : "starting";
        updateProgress(bar, percent(p.progress.value, p.progress.max), steps);
        setText(barText, `${steps}${p.progress.node ? ` · node ${p.progress.node}` : ""}`);
      }
      renderError(p.error);
      setHidden(cancelBtn, !CANCELABLE.has(p.status));
      setHidden(retryBtn, !RETRYABLE.has(p.status));
      last = p;
    }
    const fields = state.promptFields[state.details[p.job_id]?.job?.workflow];
    if (p !== lastTexts || fields !== lastFields) {
      lastTexts = p;
      lastFields = fields;
      renderTexts(promptTexts(p.params || {}, fields || []));
    }
    if (p.outputs !== lastOutputs) {
      lastOutputs = p.outputs;
      renderOutputs(p.outputs || []);
    }
    setBusy(cancelBtn, state.busy[`pcancel:${id}`]);
    setBusy(retryBtn, state.busy[`pretry:${id}`]);
    setBusy(comfyId, state.busy[`load:${id}`]);
    const tbOpen = !!state.disclosures[`tb:${id}`];
    const jsonOpen = !!state.disclosures[`json:${id}`];
    if (tbOpen !== lastOpen.tb) {
      setAttr(tbBtn, "aria-expanded", tbOpen ? "true" : "false");
      setText(tbBtn, tbOpen ? "Hide traceback" : "Show traceback");
      setHidden(tb, !tbOpen);
    }
    if (jsonOpen !== lastOpen.json) setAttr(jsonBtn, "aria-expanded", jsonOpen ? "true" : "false");
    lastOpen = { tb: tbOpen, json: jsonOpen };
    json.update(jsonOpen, state.graphs[id], !!state.disclosures[`jsonall:${id}`]);
  }

  /** A small WebP of the input from vq's thumbnail route; if the original moved (e.g. to
   *  _processed/), the staged copy through ComfyUI's /view; if that is gone too, nothing. */
  function showThumb(p) {
    const staged = p.staged_name ? ctx.fileUrl(viewPath({ ...splitSubfolder(p.staged_name), type: "input" })) : null;
    thumb.onerror = () => {
      if (staged && thumb.getAttribute("src") !== staged) thumb.src = staged;
      else thumb.hidden = true;
    };
    thumb.src = p.input_file ? ctx.apiUrl(`/vq/v1/thumbnail?${new URLSearchParams({ path: p.input_file, size: "96" })}`) : staged;
    thumb.alt = `Input ${baseName(p.input_file || p.staged_name)}`;
    thumb.hidden = false;
  }

  function renderTexts(pairs) {
    setHidden(texts, !pairs.length);
    texts.replaceChildren(...pairs.flatMap(([label, text]) => [h("dt", { text: label }), h("dd", { text: text || "(empty)" })]));
  }

  function renderError(err) {
    setHidden(error, !err);
    if (!err) return;
    setText(errMsg, `${err.type ? `${err.type}: ` : ""}${err.message || "failed"}`);
    const where = err.node_id ? `in node ${err.node_id}${err.node_type ? ` (${err.node_type})` : ""}` : "";
    setText(errNode, where);
    setHidden(errNode, !where);
    const lines = Array.isArray(err.traceback) ? err.traceback.join("") : err.traceback || "";
    setText(tb, lines);
    setHidden(tbBtn, !lines);
  }

  function renderOutputs(list) {
    setHidden(outputs, !list.length);
    outputs.replaceChildren(...list.map((o) => {
      // Only same-origin paths from the server; anything else is rebuilt from the file fields.
      const url = ctx.fileUrl(typeof o.url === "string" && o.url.startsWith("/") && !o.url.startsWith("//") ? o.url : viewPath(o));
      const kind = mediaKind(o);
      const label = `Open ${kind === "other" ? "output" : kind} ${o.filename}`;
      let preview;
      if (kind === "image") preview = h("img", { src: url, alt: o.filename, loading: "lazy", decoding: "async" });
      else if (kind === "video") preview = h("video", { src: url, muted: true, preload: "metadata", playsInline: true, attrs: { "aria-hidden": "true" } });
      else preview = h("span", { class: "vq-output-file" }, h("i", { class: kind === "audio" ? "pi pi-volume-up" : "pi pi-file", attrs: { "aria-hidden": "true" } }));
      return h("li", {}, h("a", { class: "vq-output", href: url, target: "_blank", rel: "noopener", title: label,
        attrs: { "aria-label": label }, data: { testid: `output-${kind}` } }, preview, h("span", { class: "vq-output-name", text: o.filename })));
    }));
  }

  return { el, update };
}
