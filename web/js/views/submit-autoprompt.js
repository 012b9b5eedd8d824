// The auto-prompt panel of the per-image table ("per-image auto"): Generate captions,
// Generate motion prompts, Regenerate motion, Apply all, Clear all; per-stage progress and
// errors; a row per image with its thumbnail, its caption (read-only, expandable) and its
// editable prompt(s), "Clip 1..N" for split workflows. Draws from session.auto
// (submit/autoprompt-model.js); input goes through submit-events.js's delegated listeners.

import { h, setAttr, setHidden, setText } from "../dom.js";
import { plural } from "../format.js";
import { progressText, STAGE_LABELS, unappliedCount, unavailableReason } from "../submit/autoprompt-model.js";

const icon = (name) => h("i", { class: `pi ${name}`, attrs: { "aria-hidden": "true" } });

function button(act, label, iconName, extra = {}) {
  return h("button", { class: `vq-btn vq-btn-small${extra.primary ? " vq-btn-primary" : ""}`, type: "button", title: extra.title || "",
    data: { sact: act, testid: act } }, icon(iconName), h("span", { text: label }));
}

export function createAutopromptPanel(ctx) {
  const hintText = h("span", { data: { testid: "autoprompt-hint" } });
  const unavailable = h("div", { class: "vq-notice vq-notice-warn vq-ap-unavailable", hidden: true, attrs: { role: "status" } },
    icon("pi-exclamation-triangle"), hintText,
    h("button", { class: "vq-link", type: "button", data: { sact: "ap-check", testid: "ap-check" } }, "Check again"));
  const buttons = {
    captions: button("ap-captions", "Generate captions", "pi-image", { title: "Stage 1: a vision model describes each image" }),
    motion: button("ap-motion", "Generate motion prompts", "pi-bolt", { title: "Stage 2: a text model writes the prompts from the captions (captions first where missing)" }),
    regenerate: button("ap-regenerate", "Regenerate motion", "pi-refresh", { title: "Stage 2 only, ignoring cached answers; captions are kept" }),
    apply: button("ap-apply", "Apply all", "pi-check", { primary: true, title: "Use the prompts below for the submit" }),
    clear: button("ap-clear", "Clear all", "pi-trash", { title: "Forget the captions and prompts of these files" }),
  };
  const cancel = h("button", { class: "vq-link", type: "button", hidden: true, data: { sact: "ap-cancel", testid: "ap-cancel" } }, "Cancel");
  const progress = h("span", { class: "vq-progress-text", data: { testid: "autoprompt-progress" } });
  const bar = h("progress", { class: "vq-ap-bar", max: 1, value: 0, attrs: { "aria-label": "Auto-prompt progress" } });
  const progressLine = h("div", { class: "vq-ap-progress", hidden: true, attrs: { "aria-live": "polite" } }, progress, bar, cancel);
  const error = h("p", { class: "vq-ap-error", hidden: true, attrs: { role: "alert" }, data: { testid: "autoprompt-error" } });
  const applied = h("p", { class: "vq-help", data: { testid: "autoprompt-applied" } });
  const rows = h("div", { class: "vq-ap-rows", attrs: { role: "list", "aria-label": "Images and their prompts" } });
  const body = h("fieldset", { class: "vq-ap-body" },
    h("legend", { class: "vq-sr-only", text: "Auto-prompt" }),
    h("div", { class: "vq-ap-actions", attrs: { role: "toolbar", "aria-label": "Auto-prompt actions" } }, Object.values(buttons)),
    progressLine, error, applied, rows);
  const el = h("div", { class: "vq-ap", data: { testid: "autoprompt-panel" }, attrs: { role: "region", "aria-label": "Auto-prompt" } },
    unavailable, body);
  let key = null;
  const rowParts = new Map(); // path -> {caption, captionText, error, areas}

  function row(file, fields, kind) {
    const thumb = kind === "video" ? h("span", { class: "vq-thumb-file" }, icon("pi-video"))
      : h("img", { class: "vq-thumb", src: ctx.apiUrl(`/vq/v1/thumbnail?${new URLSearchParams({ path: file.path, size: "96" })}`), alt: "", loading: "lazy", width: 48, height: 48 });
    const captionText = h("p", { class: "vq-ap-caption-text", data: { testid: "autoprompt-caption" } });
    const caption = h("details", { class: "vq-ap-caption" },
      h("summary", { class: "vq-ap-caption-summary", data: { testid: "autoprompt-caption-toggle" } }, h("span", { class: "vq-ap-caption-label", text: "Caption" }),
        h("span", { class: "vq-ap-caption-peek" })), captionText);
    const err = h("p", { class: "vq-ap-row-error", hidden: true, data: { testid: "autoprompt-row-error" } });
    const areas = fields.map((f) => h("label", { class: "vq-ap-prompt" }, h("span", { class: "vq-ap-prompt-label", text: f.label }),
      h("textarea", { class: "vq-input vq-textarea", rows: 2, placeholder: `${f.label}: generate, or write it`,
        attrs: { "aria-label": `${f.label} for ${file.name}` }, data: { apPath: file.path, apField: f.name, testid: `autoprompt-${f.name}` } })));
    rowParts.set(file.path, { caption, captionText, err, areas: areas.map((l) => l.lastChild) });
    return h("div", { class: "vq-ap-row", attrs: { role: "listitem" }, data: { testid: "autoprompt-row", path: file.path } },
      h("div", { class: "vq-per-image-file" }, thumb, h("span", { class: "vq-thumb-name", text: file.name, title: file.path })),
      h("div", { class: "vq-ap-texts" }, caption, err, areas));
  }

  /**
   * @param {object} auto  session.auto
   * @param {Array<{path, name}>} files  the batch's files
   * @param {Array<{name, label}>} fields  prompt fields (Clip 1..N for split workflows)
   * @param {object} perImage  the applied prompts (ms.perImage)
   * @param {string} kind  the workflow's input kind
   */
  function update(auto, files, fields, perImage, kind) {
    const reason = unavailableReason(auto.status, auto.statusError);
    const probing = !auto.status && !auto.statusError;
    setHidden(unavailable, !reason);
    if (reason) setText(hintText, reason.hint ? `${reason.message}. ${reason.hint}.`.replace(/\.\./g, ".") : reason.message);
    body.disabled = !!reason || probing;
    setAttr(el, "aria-disabled", reason ? "true" : null);
    const busy = !!auto.busy;
    const paths = files.map((f) => f.path);
    const hasCaptions = paths.some((p) => auto.drafts[p]?.caption);
    for (const b of [buttons.captions, buttons.motion, buttons.regenerate]) setAttr(b, "aria-disabled", busy || !files.length ? "true" : null);
    setAttr(buttons.regenerate, "aria-disabled", busy || !hasCaptions ? "true" : null);
    setAttr(buttons.captions, "aria-busy", auto.busy === "caption" ? "true" : null);
    setAttr(buttons.motion, "aria-busy", auto.busy && auto.busy !== "caption" ? "true" : null);
    setAttr(buttons.apply, "aria-disabled", busy || !files.length ? "true" : null);
    setAttr(buttons.clear, "aria-disabled", busy ? "true" : null);

    const text = progressText(auto.progress);
    setHidden(progressLine, !text || !!reason); // an old run's progress says nothing while unavailable
    setText(progress, busy ? `${text}…` : text);
    const stages = Object.values(auto.progress);
    const done = stages.reduce((n, s) => n + s.done, 0);
    const total = stages.reduce((n, s) => n + s.total, 0);
    bar.value = total ? done / total : 0;
    setHidden(cancel, !busy || !auto.run);

    setHidden(error, !auto.runError);
    if (auto.runError) {
      const e = auto.runError;
      const where = e.stage ? `${STAGE_LABELS[e.stage] || e.stage}: ` : "";
      setText(error, `${where}${e.message}${e.hint ? ` ${e.hint}.` : ""}`);
      error.className = `vq-ap-error${e.code === "canceled" ? " vq-ap-error-quiet" : ""}`;
    }
    const pending = unappliedCount(auto.drafts, perImage, paths, fields);
    const any = paths.some((p) => auto.drafts[p]);
    setText(applied, !files.length ? "The files appear here once the input is chosen."
      : pending && any ? `${plural(pending, "file")} with prompts not applied yet: Apply all to submit them.`
        : any ? "Applied: the submit uses these prompts." : `${plural(files.length, "file")}: generate captions, then motion prompts; edit, then Apply all.`);

    const k = `${fields.map((f) => f.name).join(",")}|${kind}|${paths.join("\n")}`;
    if (k !== key) {
      key = k;
      rowParts.clear();
      rows.replaceChildren(...files.map((f) => row(f, fields, kind)));
    }
    for (const path of paths) {
      const parts = rowParts.get(path);
      const draft = auto.drafts[path];
      const cap = draft?.caption || "";
      setText(parts.captionText, cap || "No caption yet.");
      setText(parts.caption.querySelector(".vq-ap-caption-peek"), cap || "none yet");
      const e = auto.errors[path];
      setHidden(parts.err, !e);
      if (e) setText(parts.err, `${STAGE_LABELS[e.stage] || e.stage} failed: ${e.message}`);
      parts.areas.forEach((area, i) => {
        const want = draft?.prompts?.[fields[i].name] ?? "";
        if (area !== area.getRootNode().activeElement && area.value !== want) area.value = want;
      });
    }
  }

  return { el, update };
}
