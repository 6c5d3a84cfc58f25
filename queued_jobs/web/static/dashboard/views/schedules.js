// Recurring schedules: every schedule with its rule, its time zone and its next slot (in
// the schedule's own local time), then one schedule with its next slots and the slots it
// fired, each with its job. Operators may pause, resume, trigger now and delete.

import { api, ApiError, MISSING, optional } from "../api.js";
import { details, fill, h, table } from "../dom.js";
import { json, moment, plural } from "../format.js";
import { place } from "../router.js";
import { actionButton } from "../ui.js";
import { heading, notAvailable, section, showFailure } from "./common.js";

const LIMIT = 50;
const PREVIEW = 10;
const FIRED = 50;
const zoned = new Map();

/** A formatter of moments in `zone` (null if this browser does not know the zone). */
function formatter(zone) {
  if (!zoned.has(zone)) {
    let made = null;
    try {
      made = new Intl.DateTimeFormat(undefined, {
        weekday: "short", year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", timeZone: zone, timeZoneName: "short",
      });
    } catch {
      made = null;
    }
    zoned.set(zone, made);
  }
  return zoned.get(zone);
}

/** A <time> showing `iso` in the schedule's zone (its local wall time), UTC on hover. */
export function localTime(iso, zone, local = null) {
  if (!iso) return h("span", { class: "muted" }, "–");
  const date = new Date(iso);
  const made = formatter(zone);
  const text = made ? made.format(date) : `${(local ?? iso).replace("T", " ").slice(0, 16)} (${zone})`;
  return h("time", { datetime: iso, title: `${date.toISOString().replace(".000Z", "Z")} (UTC)` }, text);
}

function utcTime(iso) {
  return h("span", { class: "mono" }, iso ? new Date(iso).toISOString().slice(0, 16).replace("T", " ") : "–");
}

/** Active, paused or ended, as a badge (the word carries the meaning). */
function state(schedule) {
  const [tone, text] = schedule.paused ? ["cancelled", "Paused"]
    : schedule.next_slot ? ["succeeded", "Active"] : ["scheduled", "Ended"];
  return h("span", { class: `badge status-${tone}`, dataset: { state: text.toLowerCase() } },
    h("span", { class: "badge-mark", "aria-hidden": "true" }), text);
}

function jobLink(id) {
  return id ? h("a", { class: "mono", href: `#/jobs/${encodeURIComponent(id)}` }, id) : h("span", { class: "muted" }, "–");
}

function schedulePath(id) {
  return `/schedules/${encodeURIComponent(id)}`;
}

function scheduleRow(schedule) {
  return h("tr", { dataset: { schedule: schedule.id } },
    h("th", { scope: "row" }, h("a", { href: `#${schedulePath(schedule.id)}` }, schedule.name)),
    h("td", {}, schedule.owner),
    h("td", { class: "mono" }, schedule.type),
    h("td", { class: "mono cell-rule" }, schedule.rule),
    h("td", {}, schedule.time_zone),
    h("td", {}, localTime(schedule.next_slot, schedule.time_zone, schedule.next_slot_local)),
    h("td", {}, state(schedule)),
    h("td", {}, jobLink(schedule.last_job_id)));
}

export function schedulesView(context, params) {
  const { main, router } = context;
  const abort = new AbortController();
  const signal = abort.signal;
  const owner = params.get("owner") ?? "";
  const title = heading("Schedules");
  const form = h("form", { class: "filters inline", role: "search", "aria-label": "Filter schedules" },
    h("div", { class: "fields" }, h("div", { class: "field" }, h("label", { for: "schedule-owner" }, "Owner"),
      h("input", { id: "schedule-owner", name: "owner", type: "text", value: owner, maxlength: "256", autocomplete: "off" }))),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button primary" }, "Show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    router.go(place("/schedules", { owner: new FormData(form).get("owner") }));
  });
  const listing = section("Every schedule", { id: "schedules-list" });
  const pager = h("div", { class: "pager" });
  listing.element.append(pager);
  fill(main, title, h("p", { class: "lead" },
    "A schedule starts a job at each slot of its rule, in its own time zone. Times below are that zone's local time; hover one for UTC."),
  form, listing.element);
  context.titled("Schedules", title);

  const shown = [];
  async function load(cursor = null) {
    try {
      const page = await optional("/schedules", { query: { owner, limit: LIMIT, cursor }, signal });
      if (page === MISSING) {
        fill(listing.body, notAvailable("The list of schedules"));
        return;
      }
      shown.push(...page.items);
      if (!shown.length) {
        fill(listing.body, h("p", { class: "empty" }, owner ? `${owner} has no schedule.` : "No schedule is stored yet."));
      } else {
        fill(listing.body, table({
          caption: { text: `${plural(shown.length, "schedule")}, newest first`, hidden: false },
          columns: [{ label: "Name" }, { label: "Owner" }, { label: "Job type" }, { label: "Rule" },
            { label: "Time zone" }, { label: "Next slot (local)" }, { label: "State" }, { label: "Last job" }],
          rows: shown.map(scheduleRow),
          className: "schedules",
        }).region);
      }
      fill(pager, page.next_cursor
        ? h("button", { type: "button", class: "button", onclick: () => load(page.next_cursor) }, "Show more")
        : null);
    } catch (error) {
      showFailure(listing.body, error, "the schedules");
    }
  }

  load();
  return () => abort.abort();
}

function facts(schedule) {
  const zone = schedule.time_zone;
  return details([
    ["ID", h("span", { class: "mono" }, schedule.id)],
    ["Owner", h("a", { href: place("/schedules", { owner: schedule.owner }) }, schedule.owner)],
    ["Job type", h("a", { class: "mono", href: place("/jobs", { type: schedule.type }) }, schedule.type)],
    ["Rule", h("span", { class: "mono cell-rule" }, schedule.rule)],
    ["Time zone", zone],
    ["Next slot", schedule.next_slot
      ? [localTime(schedule.next_slot, zone, schedule.next_slot_local), " · ", utcTime(schedule.next_slot), " UTC"]
      : (schedule.paused ? "None while paused" : "None: the rule has ended")],
    ["Last slot", schedule.last_slot ? localTime(schedule.last_slot, zone) : null],
    ["Last job", schedule.last_job_id ? jobLink(schedule.last_job_id) : null],
    ["Missed slots", `${schedule.catch_up}${schedule.catch_up === "all" ? ` (at most ${schedule.catch_up_limit})` : ""}`],
    ["If the last job runs on", schedule.overlap],
    ["Priority", schedule.priority],
    ["Attempts per job", String(schedule.max_attempts)],
    ["Tags", schedule.tags.length ? schedule.tags.join(", ") : null],
    ["Created", moment(schedule.created_at)],
    ["Changed", moment(schedule.updated_at)],
  ]);
}

function previewTable(preview) {
  if (!preview.slots.length) return h("p", { class: "muted" }, "No slot to come: the rule has ended.");
  return table({
    caption: { text: `The next ${plural(preview.slots.length, "slot")} in ${preview.time_zone}`, hidden: true },
    columns: [{ label: "Local time" }, { label: "UTC" }],
    rows: preview.slots.map((slot) => h("tr", {},
      h("td", {}, localTime(slot.utc, preview.time_zone, slot.local)), h("td", {}, utcTime(slot.utc)))),
  }).region;
}

function firedTable(slots, zone) {
  if (!slots.length) return h("p", { class: "muted" }, "No slot has fired yet.");
  return table({
    caption: { text: "Fired slots, newest first", hidden: true },
    columns: [{ label: "Slot (local)" }, { label: "Job" }, { label: "Fired" }, { label: "By" }],
    rows: slots.map((slot) => h("tr", {},
      h("td", {}, localTime(slot.slot, zone)),
      h("td", {}, jobLink(slot.job_id)),
      h("td", {}, moment(slot.fired_at)),
      h("td", { class: "mono" }, slot.fired_by))),
  }).region;
}

export function scheduleView(context, id) {
  const { main, router, notify, confirm } = context;
  const abort = new AbortController();
  const signal = abort.signal;
  const path = schedulePath(id);
  let schedule = null;
  let me = { acts_on_all: false };

  const crumbs = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
    h("ol", {}, h("li", {}, h("a", { href: "#/schedules" }, "Schedules")), h("li", { "aria-current": "page" }, h("span", { class: "mono" }, id))));
  const title = heading("Schedule");
  const status = h("div", { class: "job-status" });
  const actions = h("div", { class: "job-actions" });
  const summary = section("Summary");
  const request = section("Request");
  const upcoming = section("Next slots");
  const fired = section("Fired slots");
  fill(main, crumbs, h("div", { class: "job-head" }, h("div", {}, title, status), actions),
    h("div", { class: "job-grid" }, summary.element, h("div", { class: "job-payloads" }, request.element, upcoming.element)),
    fired.element);
  context.titled(`Schedule ${id}`, title);

  async function run(verb, done) {
    try {
      if (verb === "delete") {
        await api(path, { method: "DELETE" });
        notify("The schedule was deleted.", "success");
        router.go("#/schedules");
        return;
      }
      const answer = await api(`${path}:${verb}`, { method: "POST" });
      notify(done(answer), "success");
      load();
    } catch (error) {
      notify(`That failed: ${error.message}`, "error");
    }
  }

  function showActions() {
    if (!me.acts_on_all || !schedule) {
      fill(actions);
      return;
    }
    const toggle = schedule.paused
      ? actionButton("Resume", () => run("resume", () => "The schedule is running again from now."), { className: "button primary" })
      : actionButton("Pause", () => run("pause", () => "The schedule is paused."), { className: "button" });
    const trigger = actionButton("Trigger now", () => run("trigger", (job) => `Job ${job.id} started.`), { className: "button" });
    const remove = actionButton("Delete", async () => {
      const sure = await confirm({
        title: "Delete this schedule?",
        text: "It fires no more, and the record of its fired slots goes with it. The jobs it started stay.",
        action: "Delete the schedule",
        danger: true,
      });
      if (sure) await run("delete");
    }, { className: "button danger-outline" });
    fill(actions, toggle, trigger, remove);
  }

  function render(preview, slots) {
    fill(title, schedule.name);
    context.titled(`${schedule.name} · Schedules`, null);
    fill(status, state(schedule));
    showActions();
    fill(summary.body, facts(schedule));
    fill(request.body, h("pre", { class: "code", tabindex: "0", "aria-label": "Request" }, json(schedule.request)));
    fill(upcoming.body, previewTable(preview));
    fill(fired.body, firedTable(slots, schedule.time_zone));
  }

  async function load() {
    try {
      const [view, preview, slots] = await Promise.all([
        api(path, { signal }),
        api(`${path}/preview`, { query: { count: PREVIEW }, signal }),
        api(`${path}/slots`, { query: { limit: FIRED }, signal }),
      ]);
      schedule = view;
      render(preview, slots);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        fill(main, crumbs, heading("No such schedule"), h("p", {}, `There is no schedule ${id}: it may have been deleted. `,
          h("a", { href: "#/schedules" }, "Back to the schedules.")));
        return;
      }
      showFailure(summary.body, error, "the schedule");
    }
  }

  context.me.then((who) => {
    me = who;
    showActions();
  }, () => {});
  load();
  return () => abort.abort();
}
