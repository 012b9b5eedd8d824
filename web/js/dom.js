// Small DOM helpers for the views: element creation and write-only-if-changed setters,
// so patching a card on every websocket event touches only what changed.

/**
 * h("button", {class: "x", text: "Go", attrs: {"aria-pressed": "true"}, data: {act: "go"}}, ...children)
 * Children may be nodes, strings, arrays, null or false.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "attrs") for (const [name, v] of Object.entries(value)) v != null && v !== false && el.setAttribute(name, v === true ? "" : String(v));
    else if (key === "data") for (const [name, v] of Object.entries(value)) v != null && (el.dataset[name] = String(v));
    else if (key === "style") Object.assign(el.style, value);
    else el[key] = value;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Set an element's text. A lone text child is changed in place (a character-data change),
 *  not replaced: node insertions make Chrome re-check the frontend's `:root:has(...)` rules
 *  against the whole document, which costs tens of milliseconds per frame. */
export function setText(el, text) {
  const value = text == null ? "" : String(text);
  const first = el.firstChild;
  if (first && first === el.lastChild && first.nodeType === 3) {
    if (first.data !== value) first.data = value;
  } else if (el.textContent !== value) {
    el.textContent = value;
  }
}

export function setAttr(el, name, value) {
  if (value == null || value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
    return;
  }
  const v = value === true ? "" : String(value);
  if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}

export function setHidden(el, hidden) {
  if (el.hidden !== !!hidden) el.hidden = !!hidden;
}

export function setClass(el, name, on) {
  if (el.classList.contains(name) !== !!on) el.classList.toggle(name, !!on);
}

/** Mark a control busy without disabling it: a disabled button loses focus, and focus must
 *  come back to it when a confirm dialog closes. The panel ignores clicks on it meanwhile. */
export function setBusy(el, busy) {
  setAttr(el, "aria-disabled", busy ? "true" : null);
  setAttr(el, "aria-busy", busy ? "true" : null);
}

/** Replace the element's tone class (vq-tone-*) only when it differs. */
export function setTone(el, tone) {
  const want = `vq-tone-${tone}`;
  if (el.classList.contains(want)) return;
  for (const c of [...el.classList]) if (c.startsWith("vq-tone-")) el.classList.remove(c);
  el.classList.add(want);
}

/** A status badge: icon + text, so status is never conveyed by colour alone. */
export function statusBadge(meta) {
  const badge = h("span", { class: `vq-badge vq-tone-${meta.tone}` },
    h("i", { class: meta.icon, attrs: { "aria-hidden": "true" } }),
    h("span", { class: "vq-badge-text", text: meta.label }));
  return badge;
}

export function updateBadge(badge, meta) {
  setTone(badge, meta.tone);
  const icon = badge.firstChild;
  if (icon.className !== meta.icon) icon.className = meta.icon;
  setText(badge.lastChild, meta.label);
}

/** A progress bar (role=progressbar) with a text label beside it. */
export function progressBar(label) {
  const fill = h("span", { class: "vq-bar-fill" });
  const bar = h("span", { class: "vq-bar", attrs: { role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-label": label } }, fill);
  return bar;
}

export function updateProgress(bar, pct, text) {
  const value = pct == null ? null : Math.round(pct);
  setAttr(bar, "aria-valuenow", value);
  setAttr(bar, "aria-valuetext", text || null);
  const width = `${value ?? 0}%`;
  if (bar.firstChild.style.width !== width) bar.firstChild.style.width = width;
}

/** Keyed reconciliation of a parent's children: reuses views by key, keeps DOM moves minimal. */
export function reconcile(parent, keys, views, create, anchor = null) {
  const wanted = new Set(keys);
  for (const [key, view] of views) {
    if (!wanted.has(key)) {
      view.el.remove();
      view.dispose?.();
      views.delete(key);
    }
  }
  let next = anchor ? anchor.nextSibling : parent.firstChild;
  for (const key of keys) {
    let view = views.get(key);
    if (!view) {
      view = create(key);
      views.set(key, view);
    }
    if (view.el !== next) parent.insertBefore(view.el, next);
    else next = next.nextSibling;
  }
  return views;
}
