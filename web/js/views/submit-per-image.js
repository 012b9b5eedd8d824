// Per-image prompts: a table of the batch's files (thumbnail, name, the prompt or Clip 1..N
// fields) for the "per-image manual" prompt mode; filled rows become per_file_params.
// Empty fields fall back to the form's prompt. In "per-image auto" the auto-prompt panel
// (submit-autoprompt.js) takes the table's place and fills the same per-image prompts.

import { h, setAttr, setHidden, setText } from "../dom.js";
import { plural } from "../format.js";
import { promptFields } from "../submit/form-model.js";
import { inputNeed } from "../submit/modes.js";
import { isPerImage, PER_IMAGE_AUTO, PER_IMAGE_MANUAL } from "../submit/autoprompt-model.js";
import { createAutopromptPanel } from "./submit-autoprompt.js";

export function createPerImage(ctx) {
  const toggle = h("input", { class: "vq-check", id: "vq-per-image", type: "checkbox", data: { sinput: "prompt-mode", testid: "per-image-toggle" } });
  const note = h("p", { class: "vq-help" });
  const table = h("div", { class: "vq-per-image", data: { testid: "per-image" }, attrs: { role: "table", "aria-label": "Prompts per image" } });
  const how = h("div", { class: "vq-variants", attrs: { role: "group", "aria-label": "How the per-image prompts are written" } },
    [[PER_IMAGE_MANUAL, "Write them", "manual"], [PER_IMAGE_AUTO, "Auto-prompt (LM Studio)", "auto"]].map(([mode, label, id]) =>
      h("button", { class: "vq-chip", type: "button", data: { sact: "prompt-mode", promptMode: mode, testid: `prompt-mode-${id}` } }, h("span", { text: label }))));
  const auto = createAutopromptPanel(ctx);
  const el = h("section", { class: "vq-form-group", attrs: { "aria-label": "Prompts per image" } },
    h("div", { class: "vq-field-row" }, toggle, h("label", { class: "vq-label", text: "A prompt per image", attrs: { for: toggle.id } })),
    how, note, table, auto.el);
  let key = null;

  function row(file, fields, own) {
    const thumb = file.kind === "video" ? h("span", { class: "vq-thumb-file" }, h("i", { class: "pi pi-video", attrs: { "aria-hidden": "true" } }))
      : h("img", { class: "vq-thumb", src: ctx.apiUrl(`/vq/v1/thumbnail?${new URLSearchParams({ path: file.path, size: "96" })}`), alt: "", loading: "lazy", width: 48, height: 48 });
    return h("div", { class: "vq-per-image-row", attrs: { role: "row" }, data: { testid: "per-image-row", path: file.path } },
      h("div", { class: "vq-per-image-file", attrs: { role: "rowheader" } }, thumb, h("span", { class: "vq-thumb-name", text: file.name, title: file.path })),
      h("div", { class: "vq-per-image-prompts", attrs: { role: "cell" } }, fields.map((f) => h("textarea", {
        class: "vq-input vq-textarea", rows: 2, value: own?.[f.name] || "", placeholder: `${f.label} (empty: the form's)`,
        attrs: { "aria-label": `${f.label} for ${file.name}` }, data: { perImage: file.path, param: f.name, testid: `per-image-${f.name}` } }))));
  }

  /**
   * @param {Array<{path, name, kind?}>} files the batch's files (controller.batchFiles)
   * @param {object} autoState  session.auto (the auto-prompt panel's state)
   */
  function update({ ws, modeId, ms, desc, values }, files, autoState) {
    const fields = desc ? promptFields(desc, values) : [];
    const usable = desc && fields.length && inputNeed(modeId, desc) === "many"; // one image: the form's prompt is its own
    setHidden(el, !usable);
    if (!usable) return;
    const on = isPerImage(ms.promptMode);
    const isAuto = ms.promptMode === PER_IMAGE_AUTO;
    if (toggle !== toggle.getRootNode().activeElement) toggle.checked = on;
    setHidden(how, !on);
    for (const b of how.children) setAttr(b, "aria-pressed", b.dataset.promptMode === ms.promptMode ? "true" : "false");
    setHidden(table, !on || isAuto);
    setHidden(auto.el, !isAuto);
    setHidden(note, isAuto);
    if (isAuto) {
      auto.update(autoState, files, fields, ms.perImage, desc.input.kind);
      return;
    }
    setText(note, on
      ? files.length ? `${plural(files.length, "file")}: an empty field uses the form's ${fields.map((f) => f.label).join(", ")}.` : "The files appear here once the input is chosen."
      : "Off: every file uses the form's prompt.");
    if (!on) return;
    const k = `${ws.id}|${modeId}|${desc.name}|${fields.map((f) => f.name).join(",")}|${files.map((f) => f.path).join("\n")}`;
    if (k !== key) {
      key = k;
      table.replaceChildren(...files.map((f) => row({ ...f, kind: desc.input.kind }, fields, ms.perImage[f.path])));
      return;
    }
    for (const area of table.querySelectorAll("textarea[data-per-image]")) {
      const want = ms.perImage[area.dataset.perImage]?.[area.dataset.param] || "";
      if (area !== area.getRootNode().activeElement && area.value !== want) area.value = want;
    }
  }

  return { el, update };
}
