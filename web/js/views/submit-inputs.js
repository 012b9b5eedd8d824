// The Submit view's inputs: a folder (or file) field with the server-side folder browser
// and "N images will be queued" feedback, and a drop zone whose uploaded files (thumbnails,
// remove, clear all) become the job's input while there are any. T2I shows no input.

import { h, progressBar, setHidden, setText, updateProgress } from "../dom.js";
import { plural } from "../format.js";
import { inputNeed } from "../submit/modes.js";

const thumbUrl = (ctx, path) => ctx.apiUrl(`/vq/v1/thumbnail?${new URLSearchParams({ path, size: "128" })}`);

function pathStatus(session, desc, ms, need, kindWord) {
  const path = ms.folder.trim();
  if (ms.dropped.length) return path ? { text: `Ignored while ${plural(ms.dropped.length, "dropped file")} ${ms.dropped.length === 1 ? "is" : "are"} the input.`, tone: "muted" } : null;
  if (!path) return null;
  const entry = session.pathInfo[`${desc.name}\n${path}`];
  if (!entry || entry.loading) return { text: "Checking…", tone: "muted" };
  if (entry.error) return { text: entry.error, tone: "error" };
  const r = entry.result;
  if (!r.exists) return { text: `${r.path} does not exist.`, tone: "error" };
  if (need === "one" && r.kind !== "file") return { text: "Choose one image file, not a folder.", tone: "error" };
  if (!r.matching_files) return { text: `No ${kindWord}s (${r.extensions.join(" ")}) in ${r.path}.`, tone: "error" };
  return { text: `${plural(r.matching_files, kindWord)} will be queued from ${r.path}.`, tone: "ok" };
}

function browserPanel(browser, need) {
  const l = browser.listing;
  const rows = [];
  if (l) {
    if (l.parent) rows.push(h("li", {}, h("button", { class: "vq-browse-item", type: "button", data: { sact: "browse-to", path: l.parent, testid: "browse-up" } },
      h("i", { class: "pi pi-arrow-up", attrs: { "aria-hidden": "true" } }), h("span", { text: "Up one folder" }))));
    for (const f of l.folders.filter((x) => !x.hidden)) {
      rows.push(h("li", {}, h("button", { class: "vq-browse-item", type: "button", data: { sact: "browse-to", path: f.path, testid: "browse-folder" } },
        h("i", { class: "pi pi-folder", attrs: { "aria-hidden": "true" } }), h("span", { class: "vq-browse-name", text: f.name }),
        h("span", { class: "vq-muted", text: f.file_count == null ? "" : plural(f.file_count, "file") }))));
    }
    for (const f of l.files) {
      rows.push(h("li", {}, need === "one"
        ? h("button", { class: "vq-browse-item", type: "button", data: { sact: "pick-path", path: f.path, testid: "browse-file" } },
          h("i", { class: "pi pi-image", attrs: { "aria-hidden": "true" } }), h("span", { class: "vq-browse-name", text: f.name }))
        : h("span", { class: "vq-browse-item vq-browse-file" }, h("i", { class: "pi pi-file", attrs: { "aria-hidden": "true" } }), h("span", { class: "vq-browse-name", text: f.name }))));
    }
  }
  return h("div", { class: "vq-browser", data: { testid: "folder-browser" }, attrs: { role: "group", "aria-label": "Folder browser" } },
    h("div", { class: "vq-browser-head" },
      h("span", { class: "vq-mono vq-browser-path", text: l?.path || browser.path || "…", data: { testid: "browse-path" } }),
      h("button", { class: "vq-icon-btn", type: "button", title: "Close the browser", attrs: { "aria-label": "Close the folder browser" }, data: { sact: "browse-close" } },
        h("i", { class: "pi pi-times", attrs: { "aria-hidden": "true" } }))),
    browser.error && h("p", { class: "vq-field-error", text: browser.error }),
    browser.loading && h("p", { class: "vq-muted", text: "Loading…" }),
    l && h("p", { class: "vq-muted", text: `${plural(l.files.length, "matching file")} here${l.truncated ? " (list shortened)" : ""}` }),
    h("ul", { class: "vq-browse-list" }, rows),
    need !== "one" && l && h("button", { class: "vq-btn vq-btn-primary vq-btn-small", type: "button", data: { sact: "pick-path", path: l.path, testid: "browse-use" } },
      h("i", { class: "pi pi-check", attrs: { "aria-hidden": "true" } }), h("span", { text: "Use this folder" })));
}

export function createSubmitInputs(ctx) {
  const el = h("section", { class: "vq-form-group vq-inputs", attrs: { "aria-label": "Input" }, data: { testid: "submit-inputs" } });
  let key = null;
  let parts = null;

  function build(need, desc) {
    const kindWord = desc.input.kind === "video" ? "video" : "image";
    const exts = desc.input.extensions.join(",");
    const label = need === "one" ? `${kindWord[0].toUpperCase()}${kindWord.slice(1)} file` : "Folder";
    const folder = h("input", { class: "vq-input", id: "vq-input-path", type: "text", spellcheck: false, autocomplete: "off",
      placeholder: need === "one" ? "path of one image, or drop it below" : "folder path (Linux, Windows or \\\\wsl.localhost\\…)",
      attrs: { "aria-describedby": "vq-input-status vq-input-err" }, data: { sinput: "folder", testid: "folder-input" } });
    const status = h("p", { class: "vq-help", id: "vq-input-status", attrs: { "aria-live": "polite" }, data: { testid: "input-status" } });
    const error = h("p", { class: "vq-field-error", id: "vq-input-err", hidden: true, attrs: { role: "alert" }, data: { testid: "input-error" } });
    const picker = h("input", { type: "file", multiple: need !== "one", accept: exts, hidden: true, data: { sinput: "files", testid: "file-input" } });
    const zone = h("div", { class: "vq-dropzone", tabIndex: 0, data: { sact: "choose-files", testid: "dropzone" },
      attrs: { role: "button", "aria-label": need === "one" ? `Drop an ${kindWord} here or press Enter to choose one` : `Drop ${kindWord}s or folders here, or press Enter to choose files` } },
    h("i", { class: "pi pi-cloud-upload", attrs: { "aria-hidden": "true" } }),
    h("span", { text: need === "one" ? `Drop one ${kindWord} here, or click to choose` : `Drop ${kindWord}s (or folders) here, or click to choose` }));
    const uploads = h("ul", { class: "vq-uploads", attrs: { "aria-label": "Uploads" } });
    const thumbs = h("ul", { class: "vq-thumbs", attrs: { "aria-label": "Dropped files" }, data: { testid: "thumbs" } });
    const droppedHead = h("div", { class: "vq-dropped-head" },
      h("span", { data: { testid: "dropped-count" } }),
      h("button", { class: "vq-btn vq-btn-small", type: "button", data: { sact: "clear-dropped", testid: "clear-dropped" } },
        h("i", { class: "pi pi-times", attrs: { "aria-hidden": "true" } }), h("span", { text: "Clear all" })));
    const browser = h("div", { class: "vq-browser-slot" });
    el.replaceChildren(h("h3", { class: "vq-h3", text: "Input" }),
      h("div", { class: "vq-field vq-field-block" },
        h("label", { class: "vq-label", text: label, attrs: { for: folder.id } }),
        h("div", { class: "vq-path-row" }, folder,
          h("button", { class: "vq-btn", type: "button", data: { sact: "browse", testid: "browse" } },
            h("i", { class: "pi pi-folder-open", attrs: { "aria-hidden": "true" } }), h("span", { text: "Browse" }))),
        status, error),
      browser, zone, picker, uploads, droppedHead, thumbs);
    parts = { folder, status, error, uploads, thumbs, droppedHead, browser, kindWord, thumbViews: new Map(), uploadViews: new Map(), lastBrowser: undefined };
  }

  function renderThumbs(dropped) {
    const wanted = new Set(dropped.map((d) => d.path));
    for (const [path, li] of parts.thumbViews) if (!wanted.has(path)) {
      li.remove();
      parts.thumbViews.delete(path);
    }
    for (const d of dropped) {
      if (parts.thumbViews.has(d.path)) continue;
      const visual = d.kind === "video"
        ? h("span", { class: "vq-thumb-file" }, h("i", { class: "pi pi-video", attrs: { "aria-hidden": "true" } }))
        : h("img", { src: thumbUrl(ctx, d.path), alt: "", loading: "lazy", decoding: "async" });
      const li = h("li", { class: "vq-thumb-item", title: d.path, data: { testid: "thumb" } }, visual,
        h("span", { class: "vq-thumb-name", text: d.name }),
        h("button", { class: "vq-thumb-remove", type: "button", title: `Remove ${d.name}`, attrs: { "aria-label": `Remove ${d.name}` },
          data: { sact: "remove-dropped", path: d.path, testid: "thumb-remove" } }, h("i", { class: "pi pi-times", attrs: { "aria-hidden": "true" } })));
      parts.thumbViews.set(d.path, li);
      parts.thumbs.append(li);
    }
    setHidden(parts.droppedHead, !dropped.length);
    setText(parts.droppedHead.firstChild, dropped.length ? `${plural(dropped.length, `dropped ${parts.kindWord}`)}: the job's input` : "");
  }

  function renderUploads(uploads) {
    parts.uploads.replaceChildren(...uploads.map((u) => {
      const bar = progressBar(`Uploading ${u.name}`);
      updateProgress(bar, u.total ? (100 * u.loaded) / u.total : 0, `${u.name}`);
      return h("li", { class: `vq-upload${u.error ? " vq-upload-failed" : ""}`, data: { testid: "upload" } },
        h("span", { class: "vq-upload-name", text: u.error ? `${u.name}: ${u.error}` : u.name }),
        u.error ? h("button", { class: "vq-icon-btn", type: "button", attrs: { "aria-label": `Dismiss ${u.name}` }, data: { sact: "dismiss-upload", id: u.id } },
          h("i", { class: "pi pi-times", attrs: { "aria-hidden": "true" } })) : bar);
    }));
  }

  function update({ ws, modeId, ms, desc }, session, errors) {
    const need = desc ? inputNeed(modeId, desc) : "none";
    setHidden(el, need === "none");
    if (need === "none") {
      key = null;
      return;
    }
    // Rebuilt only when the field's shape changes, not with every workflow of the same input:
    // a user typing a folder while choosing another workflow keeps the field and the keys.
    const k = `${ws.id}|${modeId}|${need}|${desc.input.kind}|${desc.input.extensions.join(",")}`;
    if (k !== key) {
      key = k;
      build(need, desc);
    }
    if (parts.folder !== parts.folder.getRootNode().activeElement && parts.folder.value !== ms.folder) parts.folder.value = ms.folder;
    const status = pathStatus(session, desc, ms, need, parts.kindWord);
    setText(parts.status, status?.text || (need === "one" ? "Type a path, browse, or drop an image." : "Type a folder, browse, or drop files."));
    parts.status.className = `vq-help${status?.tone === "error" ? " vq-text-error" : status?.tone === "ok" ? " vq-text-ok" : ""}`;
    const err = errors.input;
    setText(parts.error, err || "");
    setHidden(parts.error, !err);
    renderThumbs(ms.dropped);
    if (session.uploads !== parts.lastUploads) {
      parts.lastUploads = session.uploads;
      renderUploads(session.uploads);
    }
    if (session.browser !== parts.lastBrowser) {
      parts.lastBrowser = session.browser;
      parts.browser.replaceChildren(...(session.browser ? [browserPanel(session.browser, need)] : []));
    }
  }

  return { el, update };
}

/** Files of a drop, folders walked (where the browser allows reading them). */
export async function droppedFiles(dataTransfer) {
  const items = [...(dataTransfer?.items || [])];
  const entries = items.map((i) => (typeof i.webkitGetAsEntry === "function" ? i.webkitGetAsEntry() : null));
  if (!entries.some((e) => e?.isDirectory)) return [...(dataTransfer?.files || [])];
  const out = [];
  async function walk(entry) {
    if (!entry) return;
    if (entry.isFile) {
      out.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  }
  for (const e of entries) await walk(e);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

