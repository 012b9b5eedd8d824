// The sidebar panel: view tabs (Queue | Submit), status bar, toolbar, job list, live region.
// mountPanel(container, deps) draws from the store's current state at once, then patches on
// every store change (at most once per animation frame). All DOM input goes through four
// delegated listeners on the root, so destroy() detaches everything in one place.

import { h, setAttr, setHidden, setText } from "../dom.js";
import { formatRelative } from "../format.js";
import { closeAllDialogs } from "./dialog.js";
import { createJobList } from "./job-list.js";
import { createStatusBar } from "./status-bar.js";
import { createSubmitView } from "./submit.js";
import { createToolbar } from "./toolbar.js";

const VIEWS = [
  { id: "queue", label: "Queue", icon: "pi pi-list" },
  { id: "submit", label: "Submit", icon: "pi pi-upload" },
];

/**
 * @param {HTMLElement} container the fresh element the frontend gives render()
 * @param {{store: object, actions: object, ctx: {fileUrl: Function, now: Function},
 *   styles?: {apply: (shadow: ShadowRoot) => void}}} deps
 * @returns {{destroy: () => void, root: HTMLElement}}
 */
export function mountPanel(container, { store, actions, ctx, styles }) {
  const tabs = VIEWS.map((v) => h("button", {
    class: "vq-tab", type: "button", id: `vq-tab-${v.id}`,
    attrs: { role: "tab", "aria-controls": `vq-view-${v.id}` }, data: { act: "view", view: v.id, testid: `tab-${v.id}` },
  }, h("i", { class: v.icon, attrs: { "aria-hidden": "true" } }), h("span", { text: v.label })));
  const status = createStatusBar();
  const toolbar = createToolbar();
  const list = createJobList(ctx);
  const submit = createSubmitView(ctx);
  const queueView = h("div", { class: "vq-view", id: "vq-view-queue", attrs: { role: "tabpanel", "aria-labelledby": "vq-tab-queue" } },
    toolbar.el, list.el);
  const submitView = h("div", { class: "vq-view", id: "vq-view-submit", attrs: { role: "tabpanel", "aria-labelledby": "vq-tab-submit" } },
    submit.el);
  const live = h("div", { class: "vq-sr-only", attrs: { role: "status", "aria-live": "polite", "aria-atomic": "true" }, data: { testid: "live" } });
  const root = h("div", { class: "vq-root", data: { testid: "vq-root" } },
    h("header", { class: "vq-header" },
      h("h2", { class: "vq-title", text: "Video Queue" }),
      h("div", { class: "vq-tabs", attrs: { role: "tablist", "aria-label": "Video Queue views" } }, tabs)),
    status.el, queueView, submitView, live);

  let last = null;
  let frame = null;

  function render() {
    frame = null;
    const state = store.getState();
    if (state === last) return;
    const active = root.getRootNode().activeElement;
    const focused = active && root.contains(active) ? active : null;
    if (!last || state.view !== last.view) {
      for (const [i, v] of VIEWS.entries()) {
        const on = state.view === v.id;
        setAttr(tabs[i], "aria-selected", on ? "true" : "false");
        tabs[i].tabIndex = on ? 0 : -1;
      }
      setHidden(queueView, state.view !== "queue");
      setHidden(submitView, state.view !== "submit");
    }
    status.update(state);
    if (state.view === "queue") {
      toolbar.update(state);
      list.update(state);
    } else {
      submit.update(state);
    }
    if (last && state.announce.seq !== last.announce.seq) setText(live, state.announce.text);
    // A keyed move can blur the element it moves; give focus back without scrolling.
    if (focused && focused.isConnected && root.getRootNode().activeElement !== focused) focused.focus({ preventScroll: true });
    last = state;
  }

  function schedule() {
    if (frame == null) frame = requestAnimationFrame(render);
  }

  // --- delegated input ------------------------------------------------------------------

  const findPrompt = (id) => {
    for (const d of Object.values(store.getState().details)) {
      const p = d?.job?.prompts?.find((x) => x.id === id);
      if (p) return p;
    }
    return null;
  };

  const clicks = {
    view: (t) => actions.setView(t.dataset.view),
    expand: (t) => actions.toggleExpand(Number(t.dataset.id)),
    chip: (t) => actions.toggleStatus(t.dataset.status),
    "chip-all": () => actions.allStatuses(),
    pause: () => (store.getState().queue?.paused ? actions.resume() : actions.pause()),
    "reload-workflows": () => actions.reloadWorkflows(),
    clear: () => actions.clearQueue(),
    "retry-now": () => actions.retryNow(),
    "cancel-job": (t) => actions.cancelJob(Number(t.dataset.id)),
    "retry-job": (t) => actions.retryJob(Number(t.dataset.id)),
    top: (t) => actions.moveToTop(Number(t.dataset.id)),
    "delete-job": (t) => actions.deleteJob(Number(t.dataset.id)),
    "interrupt-stuck": (t) => actions.interruptStuck(Number(t.dataset.id)),
    "more-rows": (t) => actions.showMoreRows(Number(t.dataset.id)),
    disclose: (t) => actions.toggleDisclosure(t.dataset.key),
    "page-prev": () => actions.page(store.getState().query.page - 1),
    "page-next": () => actions.page(store.getState().query.page + 1),
    "load-graph": (t) => {
      const p = findPrompt(Number(t.dataset.id));
      if (p) actions.loadGraph(p);
    },
    "copy-id": (t) => {
      const p = findPrompt(Number(t.dataset.id));
      if (p?.comfy_prompt_id) actions.copy(p.comfy_prompt_id, "ComfyUI prompt id");
    },
    "copy-json": (t) => {
      const g = store.getState().graphs[Number(t.dataset.id)];
      if (g?.text != null) actions.copy(g.text, "Prompt JSON");
    },
    "cancel-prompt": (t) => {
      const p = findPrompt(Number(t.dataset.id));
      if (p) actions.cancelPrompt(p);
    },
    "retry-prompt": (t) => {
      const p = findPrompt(Number(t.dataset.id));
      if (p) actions.retryPrompt(p);
    },
  };

  function onClick(event) {
    const target = event.target.closest("[data-act]");
    if (!target || !root.contains(target) || target.disabled || target.getAttribute("aria-disabled") === "true") return;
    const handler = clicks[target.dataset.act];
    if (handler) handler(target);
  }

  function onInput(event) {
    if (event.target.dataset?.input === "search") actions.search(event.target.value);
  }

  function onChange(event) {
    const which = event.target.dataset?.change;
    if (which === "sort") actions.sort(event.target.value);
    else if (which === "page-size") actions.pageSize(Number(event.target.value));
  }

  function onKeydown(event) {
    const tab = event.target.closest?.("[role=tab]");
    if (tab && (event.key === "ArrowRight" || event.key === "ArrowLeft" || event.key === "Home" || event.key === "End")) {
      event.preventDefault();
      const i = tabs.indexOf(tab);
      const n = tabs.length;
      const j = event.key === "Home" ? 0 : event.key === "End" ? n - 1 : (i + (event.key === "ArrowRight" ? 1 : n - 1)) % n;
      tabs[j].focus();
      actions.setView(VIEWS[j].id);
      return;
    }
    if (event.key === "Escape" && event.target.dataset?.input === "search" && event.target.value) {
      event.preventDefault();
      event.target.value = "";
      actions.search("");
    }
    // Typing in the panel must not trigger ComfyUI's canvas shortcuts.
    if (event.target.matches?.("input, select, textarea")) event.stopPropagation();
  }

  let scrollTimer = null;
  let restoring = false;
  function onScroll() {
    if (restoring || scrollTimer != null) return;
    scrollTimer = setTimeout(() => {
      scrollTimer = null;
      actions.scroll(root.scrollTop);
    }, 150);
  }

  root.addEventListener("click", onClick);
  root.addEventListener("input", onInput);
  root.addEventListener("change", onChange);
  root.addEventListener("keydown", onKeydown);
  root.addEventListener("scroll", onScroll, { passive: true });

  const timeTicker = setInterval(() => {
    const now = ctx.now();
    for (const t of root.querySelectorAll("time[data-time]")) setText(t, formatRelative(t.dataset.time, now));
  }, 30000);

  // Fill the sidebar's height, so the panel scrolls itself and its header stays in view.
  container.style.height = "100%";
  container.dataset.vqHost = "";
  // A shadow root keeps the frontend's stylesheet out of our live updates' style work
  // (see styles.js); the render callback may run twice on one container, so reuse it.
  const shadow = container.shadowRoot || container.attachShadow({ mode: "open" });
  shadow.replaceChildren(root);
  styles?.apply(shadow);
  render();
  const unsubscribe = store.subscribe(schedule);
  // Back where the reader was: the sidebar may still be sizing itself, and the list may still
  // be arriving, so keep trying for a few frames.
  const restore = store.getState().scrollTop;
  let restoreFrame = null;
  if (restore) {
    restoring = true;
    const until = performance.now() + 1000;
    const attempt = () => {
      root.scrollTop = restore;
      if (Math.abs(root.scrollTop - restore) <= 1 || performance.now() > until) {
        restoring = false;
        restoreFrame = null;
      } else {
        restoreFrame = requestAnimationFrame(attempt);
      }
    };
    attempt();
  }

  return {
    root,
    destroy() {
      unsubscribe();
      if (frame != null) cancelAnimationFrame(frame);
      if (restoreFrame != null) cancelAnimationFrame(restoreFrame);
      if (scrollTimer != null) {
        // Closed within the debounce: keep where the reader was all the same.
        clearTimeout(scrollTimer);
        actions.scroll(root.scrollTop);
      }
      clearInterval(timeTicker);
      root.removeEventListener("click", onClick);
      root.removeEventListener("input", onInput);
      root.removeEventListener("change", onChange);
      root.removeEventListener("keydown", onKeydown);
      root.removeEventListener("scroll", onScroll);
      closeAllDialogs();
      root.remove();
    },
  };
}
