// The job list: a filter (in the hash), a page of jobs at a time (next by cursor, back by
// the cursors that led here), rows kept current by the live feed, and for operators the
// actions on a selection or on everything the filter matches.

import { api } from "../api.js";
import { h, fill, table } from "../dom.js";
import { duration, jobDuration, plural, timeElement } from "../format.js";
import { place } from "../router.js";
import { badge, label, progressBar, TERMINAL } from "../status.js";
import { describe, filterForm, filterOf, pageSizeOf } from "./filters.js";
import { heading, showFailure } from "./common.js";
import { bulkBar } from "./bulk.js";

/** The cursor each page's cursor came from ("" for the first page): back through pages. */
const previous = new Map();
const pageNumbers = new Map();

function titleOf(filter) {
  if (filter.status?.length === 1 && Object.keys(filter).length === 1) return `${label(filter.status[0])} jobs`;
  return "Jobs";
}

/** Whether a change of a job not on the page could belong to this (first) page. */
function mayMatch(filter, job) {
  if (filter.status && !filter.status.includes(job.status)) return false;
  if (filter.owner && filter.owner !== job.owner) return false;
  if (filter.type && filter.type !== job.type) return false;
  if (filter.created_before && Date.parse(filter.created_before) < Date.now()) return false;
  return true;
}

function jobRow(job, selection) {
  const cells = {
    status: h("td", { class: "cell-status" }, badge(job.status, { cancelRequested: job.cancel_requested })),
    progress: h("td", { class: "cell-progress" }, progressBar(job.progress, job.status)),
    duration: h("td", { class: "num cell-duration", dataset: { label: "Duration" } }, duration(jobDuration(job))),
  };
  const select = selection ? h("td", { class: "cell-select" }, h("input", {
    type: "checkbox", class: "row-select", value: job.id, "aria-label": `Select job ${job.id}`,
    checked: selection.has(job.id),
  })) : null;
  const row = h("tr", { dataset: { job: job.id } }, select,
    h("th", { scope: "row", class: "mono cell-id" }, h("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.id)),
    h("td", { class: "mono cell-type", dataset: { label: "Type" } }, job.type),
    h("td", { class: "cell-owner", dataset: { label: "Owner" } }, job.owner),
    cells.status, cells.progress,
    h("td", { class: "cell-created", dataset: { label: "Created" } }, timeElement(job.created_at)),
    cells.duration);
  return { row, cells, job };
}

/** Bring a row up to date with a change from the live feed. */
function applyChange(entry, change) {
  const job = entry.job;
  const was = job.status;
  job.status = change.status;
  job.progress = change.progress;
  job.attempts = change.attempts;
  job.cancel_requested = change.cancel_requested;
  if (change.status === "running" && was !== "running") {
    job.started_at = change.changed_at;
    job.completed_at = null;
  }
  if (TERMINAL.has(change.status)) job.completed_at ??= change.changed_at;
  else job.completed_at = null;
  fill(entry.cells.status, badge(job.status, { cancelRequested: job.cancel_requested }));
  fill(entry.cells.progress, progressBar(job.progress, job.status));
  entry.cells.duration.textContent = duration(jobDuration(job));
  if (was !== job.status) {
    entry.row.classList.remove("changed");
    void entry.row.offsetWidth; // start the highlight again
    entry.row.classList.add("changed");
  }
}

export function jobsView(context, params) {
  const { main, live, router } = context;
  const abort = new AbortController();
  const signal = abort.signal;
  const filter = filterOf(params);
  const limit = pageSizeOf(params);
  const cursor = params.get("cursor") || "";
  const filterKey = JSON.stringify([filter, limit]);
  const rows = new Map();
  let selection = null;

  const title = heading(titleOf(filter));
  const form = filterForm(params, (next) => router.go(place("/jobs", next)));
  const liveNote = h("div", { class: "live-note", "aria-live": "polite" });
  const toolbar = h("div", { class: "toolbar-slot" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages of jobs" });
  const results = { body: h("div", { class: "results-body" }, h("p", { class: "muted" }, "Loading…")) };
  fill(main, title, form, h("div", { class: "panel results" }, toolbar, liveNote, results.body, pager));
  context.titled(titleOf(filter), title);

  const go = (nextCursor) => {
    const next = new URLSearchParams(params);
    if (nextCursor) next.set("cursor", nextCursor);
    else next.delete("cursor");
    router.go(place("/jobs", next));
  };

  function showPager(page) {
    const number = pageNumbers.get(`${filterKey}|${cursor}`) ?? (cursor ? null : 1);
    const back = previous.get(`${filterKey}|${cursor}`);
    const items = [];
    if (cursor && back !== "") {
      items.push(h("button", { type: "button", class: "button", onclick: () => go("") }, "First page"));
    }
    if (cursor && back !== undefined) {
      items.push(h("button", { type: "button", class: "button", onclick: () => go(back) }, "Previous page"));
    }
    items.push(h("span", { class: "pager-where" }, number ? `Page ${number}` : "A later page"));
    if (page.next_cursor) {
      items.push(h("button", {
        type: "button", class: "button", onclick: () => {
          previous.set(`${filterKey}|${page.next_cursor}`, cursor);
          if (number) pageNumbers.set(`${filterKey}|${page.next_cursor}`, number + 1);
          go(page.next_cursor);
        },
      }, "Next page"));
    }
    fill(pager, items);
  }

  function refreshToolbar() {
    toolbar.dispatchEvent(new CustomEvent("selection"));
  }

  function showPage(page) {
    rows.clear();
    if (!page.items.length) {
      fill(results.body, h("p", { class: "empty" }, cursor ? "No more jobs match this filter." : "No jobs match this filter."));
    } else {
      const entries = page.items.map((job) => jobRow(job, selection));
      for (const entry of entries) rows.set(entry.job.id, entry);
      const selectAll = selection ? h("input", { type: "checkbox", class: "select-all", "aria-label": "Select every job on this page" }) : null;
      const selectHead = selection
        ? h("label", { class: "select-all-label" }, selectAll, h("span", { class: "narrow-only", "aria-hidden": "true" }, "Select all"))
        : null;
      const columns = [
        ...(selection ? [{ label: selectHead, className: "cell-select" }] : []),
        { label: "ID" }, { label: "Type" }, { label: "Owner" }, { label: "Status" },
        { label: "Progress" }, { label: "Created" }, { label: "Duration", className: "num" },
      ];
      const { region, body } = table({
        caption: { text: `${plural(page.items.length, "job")} on this page${describe(filter) ? ` (${describe(filter)})` : ""}`, hidden: false },
        columns,
        rows: entries.map((entry) => entry.row),
        className: "jobs",
      });
      if (selection) {
        body.addEventListener("change", (event) => {
          const box = event.target;
          if (!box.classList.contains("row-select")) return;
          if (box.checked) selection.add(box.value);
          else selection.delete(box.value);
          selectAll.checked = rows.size > 0 && [...rows.keys()].every((id) => selection.has(id));
          refreshToolbar();
        });
        selectAll.addEventListener("change", () => {
          for (const box of body.querySelectorAll(".row-select")) {
            box.checked = selectAll.checked;
            if (selectAll.checked) selection.add(box.value);
            else selection.delete(box.value);
          }
          refreshToolbar();
        });
      }
      const skipped = page.skipped?.length
        ? h("p", { class: "error-text" }, `${plural(page.skipped.length, "job")} of this page could not be read: `,
          page.skipped.map((id, i) => [i ? ", " : "", h("a", { href: `#/jobs/${id}` }, id)]))
        : null;
      fill(results.body, region, skipped);
    }
    showPager(page);
    refreshToolbar();
  }

  async function load() {
    try {
      const page = await api("/jobs", { query: { ...filter, limit, cursor }, signal });
      fill(liveNote);
      unseen.clear();
      showPage(page);
    } catch (error) {
      showFailure(results.body, error, "the jobs");
    }
  }

  const unseen = new Set();
  function noteUnseen() {
    fill(liveNote, h("p", { class: "live-more" }, `${plural(unseen.size, "more job")} may match this filter now. `,
      h("button", { type: "button", class: "link-button", onclick: load }, "Show the latest")));
  }

  const stop = live.subscribe((event) => {
    if (event.type === "reset") {
      load();
      return;
    }
    if (event.type !== "job") return;
    const entry = rows.get(event.job.job_id);
    if (entry) applyChange(entry, event.job);
    else if (!cursor && mayMatch(filter, event.job) && !unseen.has(event.job.job_id)) {
      unseen.add(event.job.job_id);
      noteUnseen();
    }
  });
  const ticking = setInterval(() => {
    for (const entry of rows.values()) {
      if (entry.job.status === "running") entry.cells.duration.textContent = duration(jobDuration(entry.job));
    }
  }, 1000);

  context.me.then((me) => {
    if (signal.aborted) return;
    if (me.acts_on_all) {
      selection = new Set();
      const selected = () => [...selection].filter((id) => rows.has(id));
      fill(toolbar, bulkBar({
        context, filter, toolbar, selected,
        jobOf: (id) => rows.get(id)?.job,
        after: () => {
          selection.clear();
          load();
        },
      }));
    }
    load();
  }, () => load());

  return () => {
    abort.abort();
    stop();
    clearInterval(ticking);
  };
}
