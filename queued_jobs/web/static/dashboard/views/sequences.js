// Multi-step sequences: every sequence with where it is, then one sequence with its steps
// (their exit rules and what each outcome leads to) and every run kept, each with its
// jobs (linked, with their statuses) and its outcome. Live: a sequence's own events read
// it again, its jobs' events change their statuses in place. Operators may cancel.

import { api, ApiError, MISSING, optional } from "../api.js";
import { details, fill, h, table } from "../dom.js";
import { moment, plural, timeElement } from "../format.js";
import { place } from "../router.js";
import { badge, TERMINAL } from "../status.js";
import { actionButton } from "../ui.js";
import { heading, notAvailable, section, showFailure, throttled } from "./common.js";

const LIMIT = 50;
/** Jobs of the current run whose status is read when the page opens (the rest follow live). */
const LOOKED_UP = 20;
const ID = /^[0-9a-f]{29}$/;

const EXITS = {
  wait_all: "Wait for all",
  wait_any: "Wait for the first success",
  fire_and_forget: "Wait for none",
};

const OUTCOMES = { success: "Success", failure: "Failure", mixed: "Mixed" };

export function sequencePath(id) {
  return `/sequences/${encodeURIComponent(id)}`;
}

export function isId(value) {
  return typeof value === "string" && ID.test(value);
}

/** "step 1 (steps 0-2) · iteration 2" (steps count from 0), or "–" once it ended. */
function where(sequence) {
  if (sequence.step === null || sequence.step === undefined) return h("span", { class: "muted" }, "–");
  const iteration = sequence.iterations?.[sequence.step] ?? 0;
  const last = sequence.steps.length - 1;
  return `step ${sequence.step} (steps 0-${last}) · iteration ${iteration}`;
}

function state(sequence) {
  return h("span", { class: "sequence-state" }, badge(sequence.status),
    sequence.cancel_pending ? h("span", { class: "badge-note muted" }, " · telling its jobs") : null);
}

/** An action as words: "next" → "next step" ("end succeeded" after the last step),
 * "goto:2" → "go to step 2", "end:failed" → "end failed". */
function action(value, last) {
  if (value === "next") return last ? "end succeeded (the last step)" : "next step";
  if (value.startsWith("goto:")) return `go to step ${value.slice(5)}`;
  if (value.startsWith("end:")) return `end ${value.slice(4)}`;
  return value;
}

function outcomeBadge(value) {
  if (!value) return h("span", { class: "muted" }, "Waiting");
  const tone = value === "success" ? "succeeded" : value === "failure" ? "failed" : "cancelled";
  return h("span", { class: `badge status-${tone}`, dataset: { outcome: value } },
    h("span", { class: "badge-mark", "aria-hidden": "true" }), OUTCOMES[value] ?? value);
}

function sequenceRow(sequence) {
  return h("tr", { dataset: { sequence: sequence.id } },
    h("th", { scope: "row" }, h("a", { href: `#${sequencePath(sequence.id)}` }, sequence.name)),
    h("td", {}, sequence.owner),
    h("td", { class: "cell-status" }, state(sequence)),
    h("td", { class: "cell-where" }, where(sequence)),
    h("td", {}, timeElement(sequence.created_at)),
    h("td", { class: "cell-updated" }, timeElement(sequence.updated_at)));
}

export function sequencesView(context, params) {
  const { main, live, router } = context;
  const abort = new AbortController();
  const signal = abort.signal;
  const owner = params.get("owner") ?? "";
  const title = heading("Sequences");
  const form = h("form", { class: "filters inline", role: "search", "aria-label": "Filter sequences" },
    h("div", { class: "fields" }, h("div", { class: "field" }, h("label", { for: "sequence-owner" }, "Owner"),
      h("input", { id: "sequence-owner", name: "owner", type: "text", value: owner, maxlength: "256", autocomplete: "off" }))),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button primary" }, "Show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    router.go(place("/sequences", { owner: new FormData(form).get("owner") }));
  });
  const listing = section("Every sequence", { id: "sequences-list" });
  const liveNote = h("div", { class: "live-note", "aria-live": "polite" });
  const pager = h("div", { class: "pager" });
  listing.element.append(pager);
  fill(main, title, h("p", { class: "lead" },
    "A sequence runs jobs in steps: each step's exit rule and outcome lead to the next step, to another, or to the end."),
  form, liveNote, listing.element);
  context.titled("Sequences", title);

  const shown = [];
  const rows = new Map();
  const unseen = new Set();

  function render() {
    rows.clear();
    if (!shown.length) {
      fill(listing.body, h("p", { class: "empty" }, owner ? `${owner} has no sequence.` : "No sequence is stored yet."));
      return;
    }
    const made = shown.map((sequence) => {
      const row = sequenceRow(sequence);
      rows.set(sequence.id, row);
      return row;
    });
    fill(listing.body, table({
      caption: { text: `${plural(shown.length, "sequence")}, newest first`, hidden: false },
      columns: [{ label: "Name" }, { label: "Owner" }, { label: "Status" }, { label: "Current step" },
        { label: "Created" }, { label: "Updated" }],
      rows: made,
      className: "sequences",
    }).region);
  }

  async function load(cursor = null) {
    try {
      const page = await optional("/sequences", { query: { owner, limit: LIMIT, cursor }, signal });
      if (page === MISSING) {
        fill(listing.body, notAvailable("The list of sequences"));
        return;
      }
      if (!cursor) {
        shown.length = 0;
        unseen.clear();
        fill(liveNote);
      }
      shown.push(...page.items);
      render();
      fill(pager, page.next_cursor
        ? h("button", { type: "button", class: "button", onclick: () => load(page.next_cursor) }, "Show more")
        : null);
    } catch (error) {
      showFailure(listing.body, error, "the sequences");
    }
  }

  /** Read one shown sequence again and put its row in place. */
  async function refreshRow(id) {
    try {
      const fresh = await api(sequencePath(id), { signal });
      const index = shown.findIndex((s) => s.id === id);
      if (index < 0) return;
      shown[index] = fresh;
      const old = rows.get(id);
      const row = sequenceRow(fresh);
      rows.set(id, row);
      if (old?.isConnected) old.replaceWith(row);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) showFailure(liveNote, error, "a sequence");
    }
  }

  const pending = new Map();
  const stop = live.subscribe((event) => {
    if (event.type === "reset") {
      load();
      return;
    }
    if (event.type !== "sequence") return;
    const change = event.sequence;
    if (rows.has(change.job_id)) {
      if (!pending.has(change.job_id)) pending.set(change.job_id, throttled(() => refreshRow(change.job_id), 500));
      pending.get(change.job_id)();
    } else if ((!owner || change.owner === owner) && !unseen.has(change.job_id) && !shown.some((s) => s.id === change.job_id)) {
      unseen.add(change.job_id);
      fill(liveNote, h("p", { class: "live-more" }, `${plural(unseen.size, "more sequence")} changed or started. `,
        h("button", { type: "button", class: "button", onclick: () => load() }, "Show the latest")));
    }
  });

  load();
  return () => {
    abort.abort();
    stop();
    for (const call of pending.values()) call.cancel();
  };
}

function facts(sequence) {
  const kept = sequence.runs.length;
  return details([
    ["ID", h("span", { class: "mono" }, sequence.id)],
    ["Owner", h("a", { href: place("/sequences", { owner: sequence.owner }) }, sequence.owner)],
    ["Status", state(sequence)],
    ["Current step", where(sequence)],
    ["Reason", sequence.reason ? h("span", { class: sequence.status === "failed" ? "error-text" : null }, sequence.reason) : null],
    ["Loop guard", `each step starts at most ${plural(sequence.max_iterations, "time")}`],
    ["Runs", sequence.runs_dropped ? `${kept} kept, ${sequence.runs_dropped} older let go` : String(kept)],
    ["Created", moment(sequence.created_at)],
    ["Updated", moment(sequence.updated_at)],
    ["Ended", sequence.completed_at ? moment(sequence.completed_at) : null],
  ]);
}

function stepsTable(sequence) {
  const rows = sequence.steps.map((step, number) => h("tr", {
    dataset: { step: String(number) }, class: number === sequence.step ? "current" : null,
    "aria-current": number === sequence.step ? "step" : null,
  },
  h("th", { scope: "row", class: "num" }, String(number)),
  h("td", {}, h("ul", { class: "plain" }, step.jobs.map((job) => h("li", { class: "mono" }, job.job_type)))),
  h("td", {}, EXITS[step.exit] ?? step.exit, step.pass_results ? h("span", { class: "muted" }, " · results handed on") : null),
  h("td", {}, action(step.on_success, number === sequence.steps.length - 1)),
  h("td", {}, action(step.on_failure, number === sequence.steps.length - 1)),
  h("td", {}, action(step.on_mixed, number === sequence.steps.length - 1)),
  h("td", { class: "num" }, String(sequence.iterations?.[number] ?? 0))));
  return table({
    caption: { text: "Steps, in order", hidden: true },
    columns: [{ label: "Step", className: "num" }, { label: "Jobs" }, { label: "Exit rule" }, { label: "On success" },
      { label: "On failure" }, { label: "On mixed" }, { label: "Times started", className: "num" }],
    rows,
    className: "steps",
  }).region;
}

function jobStatus(status) {
  return status ? badge(status) : h("span", { class: "muted", dataset: { status: "" } }, "Not ended");
}

function runsTable(sequence, known, cells) {
  if (!sequence.runs.length) return h("p", { class: "muted" }, "No step has started yet.");
  cells.clear();
  const rows = [...sequence.runs].reverse().map((run) => h("tr", { dataset: { run: String(run.number) } },
    h("th", { scope: "row", class: "num" }, String(run.number)),
    h("td", { class: "num" }, String(run.step)),
    h("td", { class: "num" }, String(run.iteration)),
    h("td", { class: "cell-jobs" }, h("ul", { class: "run-jobs" }, run.jobs.map((job) => {
      const cell = h("span", { class: "run-job-status" }, jobStatus(job.status ?? known.get(job.job_id)));
      if (!job.status) cells.set(job.job_id, cell);
      return h("li", { dataset: { job: job.job_id } },
        h("a", { class: "mono", href: `#/jobs/${encodeURIComponent(job.job_id)}` }, job.job_id), " ",
        h("span", { class: "mono muted" }, job.job_type), " ", cell);
    }))),
    h("td", {}, outcomeBadge(run.outcome)),
    h("td", {}, timeElement(run.started_at)),
    h("td", {}, timeElement(run.ended_at))));
  return table({
    caption: { text: "Runs, newest first", hidden: true },
    columns: [{ label: "Run", className: "num" }, { label: "Step", className: "num" }, { label: "Iteration", className: "num" },
      { label: "Jobs" }, { label: "Outcome" }, { label: "Started" }, { label: "Ended" }],
    rows,
    className: "runs",
  }).region;
}

export function sequenceView(context, id) {
  const { main, live, notify, confirm } = context;
  const abort = new AbortController();
  const signal = abort.signal;
  const path = sequencePath(id);
  let sequence = null;
  let me = { acts_on_all: false };
  // Statuses of jobs not yet recorded as ended, as read or heard: job id → status.
  const known = new Map();
  const cells = new Map();

  const crumbs = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
    h("ol", {}, h("li", {}, h("a", { href: "#/sequences" }, "Sequences")), h("li", { "aria-current": "page" }, h("span", { class: "mono" }, id))));
  const title = heading("Sequence");
  const status = h("div", { class: "job-status" });
  const actions = h("div", { class: "job-actions" });
  const summary = section("Summary");
  const steps = section("Steps");
  const runs = section("Runs");
  fill(main, crumbs, h("div", { class: "job-head" }, h("div", {}, title, status), actions),
    summary.element, steps.element, runs.element);
  context.titled(`Sequence ${id}`, title);

  function showActions() {
    if (!me.acts_on_all || !sequence || sequence.status !== "running") {
      fill(actions);
      return;
    }
    fill(actions, actionButton("Cancel", async () => {
      const sure = await confirm({
        title: "Cancel this sequence?",
        text: "It starts no more steps, and its jobs not yet ended are cancelled (a waiting job at once, a running one as soon as its attempt sees the request).",
        action: "Cancel the sequence",
        danger: true,
      });
      if (!sure) return;
      try {
        sequence = await api(`${path}/cancel`, { method: "POST" });
        notify("The sequence was cancelled.", "success");
        render();
      } catch (error) {
        notify(`Cancel failed: ${error.message}`, "error");
      }
    }, { className: "button danger-outline" }));
  }

  function render() {
    fill(title, sequence.name);
    context.titled(`${sequence.name} · Sequences`, null);
    fill(status, state(sequence), sequence.reason ? h("span", { class: "progress-message" }, sequence.reason) : null);
    showActions();
    fill(summary.body, facts(sequence));
    fill(steps.body, stepsTable(sequence));
    fill(runs.body, runsTable(sequence, known, cells));
  }

  /** Read the statuses of the current run's jobs not yet recorded (a few; the rest follow live). */
  async function lookUp() {
    const ids = [...cells.keys()].filter((job) => !known.has(job)).slice(0, LOOKED_UP);
    await Promise.all(ids.map(async (job) => {
      try {
        const view = await api(`/jobs/${encodeURIComponent(job)}`, { signal });
        known.set(job, view.status);
        const cell = cells.get(job);
        if (cell) fill(cell, jobStatus(view.status));
      } catch {
        // a job not stored yet, or gone: its record says what it knows
      }
    }));
  }

  async function load() {
    try {
      sequence = await api(path, { signal });
      render();
      await lookUp();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        fill(main, crumbs, heading("No such sequence"), h("p", {}, `There is no sequence ${id}: it may have been purged. `,
          h("a", { href: "#/sequences" }, "Back to the sequences.")));
        return;
      }
      showFailure(summary.body, error, "the sequence");
    }
  }

  const reload = throttled(load, 500);
  const stop = live.subscribe((event) => {
    if (event.type === "reset") {
      reload();
    } else if (event.type === "sequence" && event.sequence.job_id === id) {
      reload();
    } else if (event.type === "job" && cells.has(event.job.job_id)) {
      known.set(event.job.job_id, event.job.status);
      fill(cells.get(event.job.job_id), jobStatus(event.job.status));
      if (TERMINAL.has(event.job.status)) reload(); // the record hears of it too
    }
  });

  context.me.then((who) => {
    me = who;
    showActions();
  }, () => {});
  load();
  return () => {
    abort.abort();
    stop();
    reload.cancel();
  };
}
