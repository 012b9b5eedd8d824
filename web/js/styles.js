// Styles of the panel's shadow root. The panel lives in a shadow root so the frontend's
// large stylesheet (and its `:root:has(...)` rules, re-checked against the whole document on
// every DOM change) stays out of each live update's style recalculation; ComfyUI's theme
// variables still inherit through the host. Icons come from the page's PrimeIcons rules.

import { pageIconRules } from "./compat.js";

/**
 * @param {URL|string} cssUrl  the panel stylesheet (derived from import.meta.url by main.js)
 * @param {Document} doc
 * @returns {{load: () => Promise<void>, apply: (shadow: ShadowRoot) => void}}
 */
export function createPanelStyles(cssUrl, doc = document) {
  const href = String(cssUrl);
  let sheet = null;
  let icons = null;
  let loading = null;
  const canConstruct = typeof CSSStyleSheet === "function" && "adoptedStyleSheets" in Document.prototype;

  function iconSheet() {
    if (!icons && canConstruct) {
      icons = new CSSStyleSheet();
      icons.replaceSync(pageIconRules(doc).join("\n"));
    }
    return icons;
  }

  return {
    /** Fetch the stylesheet and collect the icon rules ahead of the first open (both cost
     *  tens of milliseconds), so mounting the panel applies them synchronously. */
    load() {
      if (!loading && canConstruct) {
        loading = fetch(href)
          .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status}`))))
          .then((text) => {
            const s = new CSSStyleSheet();
            s.replaceSync(text);
            sheet = s;
          })
          .catch((err) => console.warn("[vq] could not preload the panel stylesheet; using a <link>", err))
          .then(() => new Promise((resolve) => {
            const idle = globalThis.requestIdleCallback || ((fn) => setTimeout(fn, 200));
            idle(() => {
              iconSheet();
              resolve();
            });
          }));
      }
      return loading || Promise.resolve();
    },

    apply(shadow) {
      const extra = iconSheet();
      if (sheet) {
        shadow.adoptedStyleSheets = extra ? [sheet, extra] : [sheet];
        return;
      }
      if (extra) shadow.adoptedStyleSheets = [extra];
      if (!shadow.querySelector("link[data-vq-css]")) {
        const link = doc.createElement("link");
        link.rel = "stylesheet";
        link.href = href;
        link.dataset.vqCss = "";
        shadow.prepend(link);
      }
    },
  };
}
