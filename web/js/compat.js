// The one module that touches ComfyUI frontend APIs whose shape changes between versions.
// Everything is feature-detected (`typeof x?.fn === "function"`), never version-compared,
// and never wrapped in a blanket try/catch that would hide real errors of the new API.
// Notes on each API: shared reference "comfyui-integration.md" §9.

/** Register a sidebar tab; returns false when this frontend has no sidebar API. */
export function registerSidebarTab(app, tab) {
  const em = app?.extensionManager;
  if (typeof em?.registerSidebarTab !== "function") {
    console.warn("[vq] this ComfyUI frontend has no extensionManager.registerSidebarTab; the Video Queue tab is unavailable");
    return false;
  }
  em.registerSidebarTab(tab);
  return true;
}

/**
 * Set the number on the tab's icon. The frontend reads `iconBadge` in a Vue computed, so a
 * plain function is only called on mount; writing a string through the store's reactive tab
 * object (getSidebarTabs() returns the reactive list in 1.35.x) re-renders the icon.
 */
export function setSidebarBadge(app, tabId, text) {
  const em = app?.extensionManager;
  const tabs = typeof em?.getSidebarTabs === "function" ? em.getSidebarTabs() : em?.sidebarTab?.sidebarTabs;
  const tab = Array.isArray(tabs) ? tabs.find((t) => t?.id === tabId) : null;
  if (tab && tab.iconBadge !== text) tab.iconBadge = text;
}

const NEW_TOAST = { success: "success", info: "info", warn: "warning", error: "error" };

/**
 * Show a toast. Newest frontends: toast.success|info|warning|error(title, {description, duration});
 * 1.35.x: toast.add({severity, summary, detail, life}); else the console.
 */
export function toast(app, { severity = "info", summary, detail = "", life = 5000 }) {
  const t = app?.extensionManager?.toast;
  const method = NEW_TOAST[severity] || "info";
  if (typeof t?.[method] === "function") {
    t[method](summary, { description: detail, duration: life });
  } else if (typeof t?.add === "function") {
    t.add({ severity, summary, detail, life });
  } else {
    (severity === "error" ? console.error : console.info)(`[vq] ${summary}${detail ? `: ${detail}` : ""}`);
  }
}

/**
 * Load an API-format graph ({id: {class_type, inputs}}) into the canvas. 1.x has
 * app.loadApiJson(graph, fileName); without it there is no API-format loader, so say no.
 */
export function canLoadApiGraph(app) {
  return typeof app?.loadApiJson === "function";
}

export async function loadApiGraph(app, graph, name) {
  if (typeof app?.loadApiJson === "function") {
    await app.loadApiJson(graph, name);
    return true;
  }
  return false;
}

/** URL of a ComfyUI file route such as "/view?filename=...": no /api prefix when fileURL exists. */
export function fileUrl(api, path) {
  if (typeof api?.fileURL === "function") return api.fileURL(path);
  if (typeof api?.apiURL === "function") return api.apiURL(path);
  return path;
}

/** Listen to a ComfyUI socket event; returns the unsubscribe function. */
export function onApiEvent(api, type, handler) {
  const listener = (event) => handler(event?.detail, event);
  api.addEventListener(type, listener);
  return () => api.removeEventListener(type, listener);
}

/** Copy text to the clipboard: the async API where it is allowed, else a hidden textarea
 *  (then focus goes back to where it was, which may be inside the panel's shadow root). */
export async function copyText(text, doc = globalThis.document) {
  const clipboard = globalThis.navigator?.clipboard;
  if (typeof clipboard?.writeText === "function" && globalThis.isSecureContext) {
    try {
      await clipboard.writeText(text);
      return true;
    } catch (err) {
      console.warn("[vq] clipboard.writeText refused; trying the fallback", err);
    }
  }
  let previous = doc.activeElement;
  while (previous?.shadowRoot?.activeElement) previous = previous.shadowRoot.activeElement;
  const area = doc.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  doc.body.appendChild(area);
  area.select();
  const ok = typeof doc.execCommand === "function" && doc.execCommand("copy");
  area.remove();
  if (typeof previous?.focus === "function") previous.focus({ preventScroll: true });
  return !!ok;
}

/** URL of a route under ComfyUI's /api prefix (vq's own routes, e.g. the thumbnail route). */
export function apiUrl(api, path) {
  return typeof api?.apiURL === "function" ? api.apiURL(path) : `/api${path}`;
}

const ICON_SELECTOR = /(^|[\s,>+~(])\.pi([\s,.:>+~)[]|-|$)/;
const iconCache = new WeakMap();

/**
 * The page's PrimeIcons rules (`.pi`, `.pi-*:before`, the spin keyframes) as CSS text, for
 * a shadow root: class rules do not cross the shadow boundary, the icon font itself does.
 * How the frontend bundles PrimeIcons is its business, so this reads whatever the page has.
 */
export function pageIconRules(doc = globalThis.document) {
  if (iconCache.has(doc)) return iconCache.get(doc);
  const found = [];
  for (const sheet of doc?.styleSheets || []) {
    let rules;
    try {
      rules = sheet.cssRules;
    } catch {
      continue; // a cross-origin stylesheet cannot be read; it holds no PrimeIcons rules of ours
    }
    for (const rule of rules || []) {
      if (rule.selectorText && ICON_SELECTOR.test(rule.selectorText)) found.push(rule.cssText);
      else if (typeof rule.name === "string" && rule.cssRules && /spin/i.test(rule.name)) found.push(rule.cssText);
    }
  }
  if (!found.length) console.warn("[vq] no PrimeIcons rules found on the page; the panel shows text labels only");
  iconCache.set(doc, found);
  return found;
}
