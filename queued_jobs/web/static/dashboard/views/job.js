// One job: what it was asked, what it answered or why it failed, its progress, what it
// printed, every attempt and every change of status, and the sequence or schedule that
// started it; for operators, retry, cancel and delete. Live: a change of the job shows at
// once (what it prints too), and a change of status reads the job again.

import { act, allowed, VERBS } from "../actions.js";
import { api, ApiError, MISSING, optional } from "../api.js";
import { details, fill, h, table } from "../dom.js";
import { duration, jobDuration, json, moment, timeElement } from "../format.js";
import { place } from "../router.js";
import { badge, label, outcome, progressBar, waitingText } from "../status.js";
import { actionButton } from "../ui.js";
import { heading, notAvailable, section, showFailure, throttled } from "./common.js";
import { OutputPanel } from "./output.js";

function pre(value, labelText) {
  return h("pre", { class: "code", tabindex: "0", "aria-label": labelText }, value);
}

const ORIGIN_ID = /^[0-9a-f]{29}$/;

/** The sequence or schedule that started `job` (its custom data names it), as a link. */
function origin(job, key, path, words) {
  const data = job.custom_data?.[key];
  const id = data && typeof data === "object" ? data.id : null;
  if (typeof id !== "string" || !ORIGIN_ID.test(id)) return null;
  return [h("a", { href: `#/${path}/${id}`, class: "mono", dataset: { origin: key } }, id), words(data)];
}

function sequenceWords(data) {
  const step = Number.isInteger(data.step) ? ` (step ${data.step}` : null;
  if (!step) return null;
  return `${step}${Number.isInteger(data.iteration) ? `, iteration ${data.iteration}` : ""})`;
}

function scheduleWords(data) {
  return typeof data.name === "string" && data.name ? [" (", data.name, ")"] : null;
}

function facts(job) {
  const tags = job.tags.length
    ? h("ul", { class: "tags" }, job.tags.map((tag) => h("li", {}, h("a", { href: place("/jobs", { tag }) }, tag))))
    : null;
  return details([
    ["ID", h("span", { class: "mono" }, job.id)],
    ["Owner", h("a", { href: place("/jobs", { owner: job.owner }) }, job.owner)],
    ["Type", h("a", { class: "mono", href: place("/jobs", { type: job.type }) }, job.type)],
    ["Queue", h("span", { class: "mono" }, `${job.queue} (${job.priority})`)],
    ["Attempts", `${job.attempts} of ${job.max_attempts}`],
    ["Created", moment(job.created_at)],
    ["Runs at", job.run_at ? moment(job.run_at) : null],
    ["Started", job.started_at ? moment(job.started_at) : null],
    ["Finished", job.completed_at ? moment(job.completed_at) : null],
    ["Duration", job.started_at ? duration(jobDuration(job)) : null],
    ["Cancel requested", job.cancel_requested ? "Yes" : null],
    ["Unique key", job.unique_key ? h("span", { class: "mono" }, job.unique_key) : null],
    ["Correlation id", job.correlation_id ? h("span", { class: "mono" }, job.correlation_id) : null],
    ["Sequence", origin(job, "sequence", "sequences", sequenceWords)],
    ["Schedule", origin(job, "schedule", "schedules", scheduleWords)],
    ["Tags", tags],
  ]);
}

function errorBlock(error, what) {
  if (!error) return null;
  return h("div", { class: "error-block" },
    h("p", { class: "error-text" }, h("strong", {}, error.type), ": ", error.message),
    error.traceback ? pre(error.traceback, `Traceback of ${what}`) : null);
}

function attemptsTable(attempts) {
  if (!attempts.length) return h("p", { class: "muted" }, "No attempt has started yet.");
  const rows = attempts.map((attempt) => h("tr", {},
    h("th", { scope: "row", class: "num" }, String(attempt.number)),
    h("td", { class: "mono" }, attempt.host),
    h("td", {}, timeElement(attempt.started_at)),
    h("td", {}, timeElement(attempt.ended_at)),
    h("td", { class: "num" }, attempt.ended_at ? duration((Date.parse(attempt.ended_at) - Date.parse(attempt.started_at)) / 1000) : "–"),
    h("td", {}, attempt.ended_at ? outcome(attempt.outcome) : h("span", { class: "muted" }, "Running")),
    h("td", { class: "cell-error" }, attempt.error
      ? h("details", {}, h("summary", {}, `${attempt.error.type}: ${attempt.error.message}`),
        attempt.error.traceback ? pre(attempt.error.traceback, `Traceback of attempt ${attempt.number}`) : null)
      : "–")));
  return table({
    caption: { text: "Attempts, oldest first", hidden: true },
    columns: [{ label: "#", className: "num" }, { label: "Host" }, { label: "Started" }, { label: "Ended" },
      { label: "Took", className: "num" }, { label: "Outcome" }, { label: "Error" }],
    rows,
  }).region;
}

const NO_RESULT = {
  succeeded: "The job returned nothing.",
  failed: "None: the job failed.",
  cancelled: "None: the job was cancelled.",
};

const HISTORY = {
  timed_out: ["failed", "Timed out"],
  abandoned: ["cancelled", "Abandoned"],
  released: ["queued", "Released"],
  cancel_requested: ["cancelled", "Cancel requested"],
};

/** A history entry's status: a job's status, or how an attempt ended, or a cancel request. */
function historyBadge(status) {
  const [tone, text] = HISTORY[status] ?? [status, label(status)];
  return h("span", { class: `badge status-${tone}` }, h("span", { class: "badge-mark", "aria-hidden": "true" }), text);
}

function historyTable(history) {
  if (history === MISSING) return notAvailable("The history of status changes");
  if (!history.length) return h("p", { class: "muted" }, "No change of status is recorded.");
  const rows = history.map((change) => h("tr", {},
    h("td", {}, historyBadge(change.status)),
    h("td", {}, timeElement(change.at)),
    h("td", { class: "mono" }, change.host ?? "–"),
    h("td", { class: "num" }, change.attempt === null || change.attempt === undefined ? "–" : String(change.attempt)),
    h("td", {}, change.detail ?? "")));
  return table({
    caption: { text: "Changes of status, in time order", hidden: true },
    columns: [{ label: "Status" }, { label: "At" }, { label: "Host" }, { label: "Attempt", className: "num" }, { label: "Detail" }],
    rows,
  }).region;
}

export function jobView(context, id) {
  const { main, live, router, notify, confirm } = context;
  const abort = new AbortController();
  const signal = abort.signal;
  const path = `/jobs/${encodeURIComponent(id)}`;
  let job = null;

  const crumbs = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
    h("ol", {}, h("li", {}, h("a", { href: "#/jobs" }, "Jobs")), h("li", { "aria-current": "page" }, h("span", { class: "mono" }, id))));
  const title = heading("Job");
  const status = h("div", { class: "job-status" });
  const actions = h("div", { class: "job-actions" });
  const summary = section("Summary");
  const failure = section("Error", { className: "error-panel" });
  const request = section("Request");
  const result = section("Result");
  const extra = section("Custom data");
  const output = section("Output");
  const printed = new OutputPanel(output, path, signal);
  const attempts = section("Attempts");
  const history = section("History");
  failure.element.hidden = true;
  output.element.hidden = true;
  fill(main, crumbs, h("div", { class: "job-head" }, h("div", {}, title, status), actions), failure.element,
    h("div", { class: "job-grid" }, summary.element, h("div", { class: "job-payloads" }, request.element, result.element, extra.element)),
    output.element, attempts.element, history.element);
  context.titled(`Job ${id}`, title);

  function showStatus() {
    const moving = job.progress || job.status === "running" || job.status === "succeeded";
    fill(status, badge(job.status, { cancelRequested: job.cancel_requested }), moving ? progressBar(job.progress, job.status) : null,
      job.progress?.message ? h("span", { class: "progress-message" }, job.progress.message) : null);
    const waiting = waitingText(job);
    if (waiting) {
      status.append(h("p", { class: "waiting-text small", dataset: { waiting: job.waiting.limit } }, waiting,
        job.waiting.since ? h("span", { class: "muted" }, ", since ", timeElement(job.waiting.since)) : null,
        " · ", h("a", { href: "#/limits" }, "Limits")));
    }
  }

  function showActions(me) {
    if (!me.acts_on_all) {
      fill(actions);
      return;
    }
    const can = allowed(job);
    const buttons = ["retry", "cancel", "delete"].filter((verb) => can[verb]).map((verb) => actionButton(
      VERBS[verb].name,
      async () => {
        if (verb !== "retry") {
          const sure = await confirm({
            title: `${VERBS[verb].name} this job?`,
            text: verb === "delete" ? "The job, its attempts and its payloads will be deleted for good."
              : "A waiting job stops at once; a running one as soon as its attempt sees the request.",
            action: verb === "delete" ? "Delete the job" : "Cancel the job",
            danger: true,
          });
          if (!sure) return;
        }
        try {
          const view = await act(verb, id);
          if (verb === "delete") {
            notify("The job was deleted.", "success");
            router.go("#/jobs");
            return;
          }
          notify(verb === "retry" ? "The job is queued again." : "Cancellation requested.", "success");
          job = view;
          render();
        } catch (error) {
          notify(`${VERBS[verb].name} failed: ${error.message}`, "error");
        }
      },
      { className: `button${verb === "retry" ? " primary" : verb === "delete" ? " danger-outline" : ""}` },
    ));
    fill(actions, buttons);
  }

  let me = { acts_on_all: false };
  function render() {
    fill(title, job.type);
    context.titled(`${job.type} ${label(job.status).toLowerCase()}`, null);
    showStatus();
    showActions(me);
    fill(summary.body, facts(job));
    failure.element.hidden = !job.error;
    fill(failure.body, errorBlock(job.error, "the job"));
    fill(request.body, pre(json(job.request), "Request"));
    fill(result.body, job.result === null || job.result === undefined
      ? h("p", { class: "muted" }, NO_RESULT[job.status] ?? "No result yet.")
      : pre(json(job.result), "Result"));
    const custom = job.custom_data && Object.keys(job.custom_data).length ? job.custom_data : null;
    extra.element.hidden = !custom;
    fill(extra.body, custom ? pre(json(custom), "Custom data") : null);
  }

  async function load() {
    printed.load();
    try {
      const [view, tries, changes] = await Promise.all([
        api(path, { signal }),
        api(`${path}/attempts`, { signal }),
        optional(`${path}/history`, { signal }),
      ]);
      job = view;
      render();
      fill(attempts.body, attemptsTable(tries));
      fill(history.body, historyTable(changes));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        fill(main, crumbs, heading("No such job"), h("p", {}, `There is no job ${id}: it may have been deleted. `,
          h("a", { href: "#/jobs" }, "Back to the jobs.")));
        return;
      }
      showFailure(summary.body, error, "the job");
    }
  }

  const reload = throttled(load, 500);
  const stop = live.subscribe((event) => {
    if (event.type === "reset") {
      reload();
      return;
    }
    if (event.type !== "job") return;
    const change = event.job;
    if (change.job_id !== id) return;
    printed.heard(change);
    if (!job) return;
    const moved = change.status !== job.status || change.attempts !== job.attempts;
    job = {
      ...job, status: change.status, progress: change.progress, attempts: change.attempts,
      cancel_requested: change.cancel_requested, waiting: change.waiting ?? null,
    };
    showStatus();
    if (moved) {
      showActions(me);
      reload();
    }
  });

  context.me.then((who) => {
    me = who;
    if (job) showActions(me);
  }, () => {});
  load();

  return () => {
    abort.abort();
    stop();
    reload.cancel();
  };
}
