// Entry module of the Video Queue sidebar (the only module with side effects, and the only
// one that imports ComfyUI's app/api shims). It builds the store, the API client and the
// controller, listens to vq's socket events at load time (before any can arrive), and
// registers the "Video Queue" sidebar tab in setup().

import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { createApiClient } from "./api-client.js";
import * as compat from "./compat.js";
import { createController } from "./controller.js";
import { badgeCount, initialState, reducer } from "./reducers.js";
import { createStore } from "./store.js";
import { createSubmitController } from "./submit/controller.js";
import { loadForms } from "./submit/persistence.js";
import { initialSubmitState, submitReducer } from "./submit/state.js";
import { uploadFile } from "./submit/uploader.js";
import { createPanelStyles } from "./styles.js";
import { confirmDialog } from "./views/dialog.js";
import { mountPanel } from "./views/panel.js";

const TAB_ID = "vq.queue";
const PREFS_KEY = "vq.queue.view";

function loadPrefs() {
  try {
    return JSON.parse(localStorage.getItem(PREFS_KEY) || "{}") || {};
  } catch (err) {
    console.warn("[vq] ignoring unreadable saved view preferences", err);
    return {};
  }
}

function savePrefs(prefs) {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch (err) {
    console.warn("[vq] could not save view preferences", err);
  }
}

function addStylesheet(url) {
  const href = String(url);
  if (document.querySelector(`link[data-vq-css][href="${href}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  link.dataset.vqCss = "";
  document.head.appendChild(link);
}

// The install folder name is not ours: derive asset URLs from this module's own URL.
const CSS_URL = new URL("../css/vq.css", import.meta.url);
addStylesheet(CSS_URL); // the confirm dialog lives in the page, outside the panel's shadow root
const panelStyles = createPanelStyles(CSS_URL);

const store = createStore(reducer, initialState(loadPrefs()));
const client = createApiClient((route, init) => api.fetchApi(route, init));
const controller = createController({
  store,
  client,
  env: {
    toast: (severity, summary, detail) => compat.toast(app, { severity, summary, detail }),
    confirm: (opts) => confirmDialog(opts),
    canLoadGraph: () => compat.canLoadApiGraph(app),
    loadGraph: (graph, name) => compat.loadApiGraph(app, graph, name),
    copy: (text) => compat.copyText(text),
    setBadge: (text) => compat.setSidebarBadge(app, TAB_ID, text),
    save: savePrefs,
    now: () => Date.now(),
  },
});

const saved = loadForms(localStorage);
const submitStore = createStore(submitReducer, initialSubmitState(saved.forms, saved.notice));
const submitController = createSubmitController({
  store: submitStore,
  client,
  env: {
    toast: (severity, summary, detail) => compat.toast(app, { severity, summary, detail }),
    confirm: (opts) => confirmDialog(opts),
    storage: localStorage,
    upload: (file, onProgress) => uploadFile(compat.apiUrl(api, "/vq/v1/uploads"), file, onProgress),
    openJob: (id) => controller.actions.openJob(id),
  },
});

// Custom socket events are dispatched only to types registered before they arrive.
compat.onApiEvent(api, "vq.job", controller.events.job);
compat.onApiEvent(api, "vq.prompts", controller.events.prompts);
compat.onApiEvent(api, "vq.queue", controller.events.queue);
compat.onApiEvent(api, "vq.jobs_deleted", controller.events.jobsDeleted);
compat.onApiEvent(api, "vq.autoprompt", submitController.autopromptEvent);
compat.onApiEvent(api, "status", controller.events.status);
compat.onApiEvent(api, "reconnecting", controller.events.reconnecting);
compat.onApiEvent(api, "reconnected", controller.events.reconnected);

const ctx = {
  fileUrl: (path) => compat.fileUrl(api, path),
  apiUrl: (path) => compat.apiUrl(api, path),
  now: () => Date.now(),
};

let panel = null;

app.registerExtension({
  name: "vq.Sidebar",
  setup() {
    compat.registerSidebarTab(app, {
      id: TAB_ID,
      icon: "pi pi-video",
      title: "Video Queue",
      tooltip: "Video Queue: batch jobs, progress, outputs",
      label: "Video Queue",
      type: "custom",
      iconBadge: () => {
        const n = badgeCount(store.getState().queue);
        return n == null ? null : String(n);
      },
      // The frontend calls render on every open (and may call it twice): start clean each time.
      render(container) {
        panel?.destroy();
        panel = mountPanel(container, { store, actions: controller.actions, ctx, styles: panelStyles,
          submit: { store: submitStore, controller: submitController } });
        controller.mount();
      },
      destroy() {
        panel?.destroy();
        panel = null;
        controller.unmount();
      },
    });
    controller.start();
    panelStyles.load(); // after the frontend's own stylesheets are in
  },
});
