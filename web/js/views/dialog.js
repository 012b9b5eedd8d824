// A modal confirm dialog in plain DOM: role=dialog, aria-modal, focus trap, Escape and the
// backdrop cancel, focus goes back to where it was. ComfyUI's own dialog service needs Vue
// components for anything richer than a string, so vq draws its own.

import { h } from "../dom.js";

let counter = 0;
const open = new Set();

/**
 * @param {{title: string, lines?: string[], confirmLabel?: string, cancelLabel?: string, danger?: boolean}} opts
 * @returns {Promise<boolean>} true when confirmed
 */
export function confirmDialog(opts, doc = document) {
  const id = `vq-dialog-${++counter}`;
  const previous = deepActiveElement(doc);
  return new Promise((resolve) => {
    const cancelBtn = h("button", { class: "vq-btn", type: "button", text: opts.cancelLabel || "Cancel", data: { dialog: "cancel" } });
    const okBtn = h("button", {
      class: `vq-btn ${opts.danger ? "vq-btn-danger" : "vq-btn-primary"}`,
      type: "button",
      text: opts.confirmLabel || "OK",
      data: { dialog: "ok" },
    });
    const box = h("div", {
      class: "vq-dialog",
      attrs: { role: opts.danger ? "alertdialog" : "dialog", "aria-modal": "true", "aria-labelledby": `${id}-title`,
        "aria-describedby": `${id}-body` },
    },
    h("h2", { class: "vq-dialog-title", id: `${id}-title`, text: opts.title }),
    h("div", { class: "vq-dialog-body", id: `${id}-body` }, (opts.lines || []).map((line) => h("p", { text: line }))),
    h("div", { class: "vq-dialog-actions" }, cancelBtn, okBtn));
    const backdrop = h("div", { class: "vq-root vq-dialog-backdrop" }, box);

    function close(result) {
      doc.removeEventListener("keydown", onKey, true);
      backdrop.remove();
      open.delete(closeApi);
      if (previous && typeof previous.focus === "function" && previous.isConnected) previous.focus();
      resolve(result);
    }
    const closeApi = { close };

    function onKey(event) {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close(false);
      } else if (event.key === "Tab") {
        const items = [...box.querySelectorAll("button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])")]
          .filter((el) => !el.disabled);
        const first = items[0];
        const last = items[items.length - 1];
        if (!box.contains(doc.activeElement)) {
          event.preventDefault();
          first.focus();
        } else if (event.shiftKey && doc.activeElement === first) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && doc.activeElement === last) {
          event.preventDefault();
          first.focus();
        }
      } else {
        // keep ComfyUI's global shortcuts (e.g. Delete, Ctrl+Enter) away while the dialog is open
        event.stopPropagation();
      }
    }

    backdrop.addEventListener("mousedown", (event) => {
      if (event.target === backdrop) close(false);
    });
    box.addEventListener("click", (event) => {
      const which = event.target.closest("[data-dialog]")?.dataset.dialog;
      if (which) close(which === "ok");
    });
    doc.addEventListener("keydown", onKey, true);
    doc.body.appendChild(backdrop);
    open.add(closeApi);
    // The safe choice has focus, so a stray Enter never confirms something destructive.
    (opts.danger ? cancelBtn : okBtn).focus();
  });
}

/** The focused element, looking inside shadow roots (the panel lives in one). */
function deepActiveElement(doc) {
  let el = doc.activeElement;
  while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
  return el;
}

/** Close every open dialog as canceled (the panel is being destroyed). */
export function closeAllDialogs() {
  for (const d of [...open]) d.close(false);
}
