// What the views share: their frame, loading and error states, and the note for a part
// of the API this server does not have.

import { isAbort } from "../api.js";
import { h, fill } from "../dom.js";

/** A section with a heading (h2) and a body to fill later. */
export function section(title, { id, actions = null, className = "" } = {}) {
  const headingId = id ?? `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  const body = h("div", { class: "section-body" }, h("p", { class: "muted" }, "Loading…"));
  const element = h("section", { class: `panel ${className}`.trim(), "aria-labelledby": headingId },
    h("div", { class: "panel-head" }, h("h2", { id: headingId }, title), actions), body);
  return { element, body };
}

export function notAvailable(what) {
  return h("p", { class: "muted not-available" }, `${what} is not available on this server.`);
}

export function failure(error, what) {
  return h("p", { class: "error-text", role: "alert" }, `Could not load ${what}: ${error.message}`);
}

/** Show `error` in `body` unless it is the abort of a view that was left. */
export function showFailure(body, error, what) {
  if (isAbort(error)) return;
  fill(body, failure(error, what));
}

/** The view's heading, focusable so that a change of view can move the focus to it. */
export function heading(text, ...rest) {
  return h("h1", { tabindex: "-1", class: "view-title" }, text, ...rest);
}

/** Run `work` at most once every `ms`, the last call winning (a trailing debounce). */
export function throttled(work, ms) {
  let timer = null;
  let last = 0;
  const run = () => {
    timer = null;
    last = Date.now();
    work();
  };
  const call = () => {
    if (timer) return;
    timer = setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  call.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  return call;
}
