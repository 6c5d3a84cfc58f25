// Job statuses as the page shows them: always a word, with a colour and a mark beside it.

import { h } from "./dom.js";

export const STATUSES = ["scheduled", "queued", "running", "succeeded", "failed", "cancelled"];
export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

const LABELS = {
  scheduled: "Scheduled",
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
};

const OUTCOMES = {
  succeeded: "Succeeded",
  failed: "Failed",
  timed_out: "Timed out",
  cancelled: "Cancelled",
  abandoned: "Abandoned",
  released: "Released",
};

export function label(status) {
  return LABELS[status] ?? status;
}

/** A badge: the status's word, coloured by it (the word carries the meaning). */
export function badge(status, { cancelRequested = false } = {}) {
  return h("span", { class: `badge status-${status}`, dataset: { status } },
    h("span", { class: "badge-mark", "aria-hidden": "true" }), label(status),
    cancelRequested && !TERMINAL.has(status) ? h("span", { class: "badge-note" }, " · cancelling") : null);
}

/** An attempt's outcome as a badge. */
export function outcome(value) {
  const tone = value === "succeeded" ? "succeeded" : value === "failed" || value === "timed_out" ? "failed" : "cancelled";
  return h("span", { class: `badge status-${tone}` },
    h("span", { class: "badge-mark", "aria-hidden": "true" }), OUTCOMES[value] ?? value);
}

/** A progress bar with its percentage in words (and message, if any). */
export function progressBar(progress, status) {
  if (!progress && status !== "running" && status !== "succeeded") {
    return h("span", { class: "progress-none muted" }, h("span", { "aria-hidden": "true" }, "–"),
      h("span", { class: "visually-hidden" }, "No progress reported"));
  }
  // A job that succeeded is done, whatever it last reported.
  const percent = status === "succeeded" ? 100 : progress ? Math.max(0, Math.min(100, progress.percent)) : 0;
  const text = progress || status === "succeeded" ? `${Math.round(percent)} %` : "–";
  const fill = h("span", { class: "progress-fill" });
  fill.style.width = `${percent}%`;
  const bar = h("span", {
    class: `progress status-${status}`,
    role: "progressbar",
    "aria-valuemin": "0",
    "aria-valuemax": "100",
    "aria-valuenow": String(Math.round(percent)),
    "aria-valuetext": progress?.message ? `${text}: ${progress.message}` : text,
    "aria-label": "Progress",
  }, fill);
  return h("span", { class: "progress-wrap" }, bar, h("span", { class: "progress-text" }, text));
}

/** What a queued job waits on, in a line: "Waiting for limit exports (key acme): 2 of 2 running (at most 2 at once)". */
export function waitingText(job) {
  const waiting = job && job.status === "queued" ? job.waiting : null;
  if (!waiting || typeof waiting.limit !== "string") return null;
  const key = waiting.key ? ` (key ${waiting.key})` : "";
  return `Waiting for limit ${waiting.limit}${key}: ${waiting.reason}`;
}
