// Concurrency and rate limits: each limit the app declares with its capacity or rate
// (from the code, an operator's override, the one that applies), how many jobs hold a
// place and how many are parked, and its gates (one per key). Operators set or reset the
// override; the page reads the limits again every few seconds.

import { api, MISSING, optional } from "../api.js";
import { fill, h, table, uid } from "../dom.js";
import { count, plural, timeElement } from "../format.js";
import { actionButton } from "../ui.js";
import { heading, notAvailable, section, showFailure } from "./common.js";

const REFRESH_MS = 3000;
const KIND_NAMES = { concurrency: "Concurrency", rate: "Rate", unknown: "Not declared here" };

function limitPath(name) {
  return `/limits/${encodeURIComponent(name)}`;
}

function value(number) {
  return number === null || number === undefined ? "–" : String(number);
}

/** "1 / 2" for a concurrency limit (holders over what applies), the count otherwise. */
function holdingText(limit) {
  return limit.kind === "concurrency" ? `${limit.holding} / ${value(limit.effective)}` : String(limit.holding);
}

function parkedText(limit) {
  return count(limit.parked, limit.parked_more);
}

function windowText(seconds) {
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60}min` : `${seconds}s`;
}

function codeValue(limit) {
  if (limit.kind === "rate") return `${value(limit.rate)} per ${windowText(limit.per_seconds)}`;
  return value(limit.capacity);
}

function jobLink(id) {
  return h("a", { class: "mono", href: `#/jobs/${encodeURIComponent(id)}` }, id);
}

function stat(label, text, field) {
  return h("div", { class: "limit-stat" }, h("dt", {}, label), h("dd", { dataset: { field } }, text));
}

function stats(limit) {
  const paused = limit.paused ? h("span", { class: "badge status-cancelled" }, h("span", { class: "badge-mark", "aria-hidden": "true" }), "Paused") : null;
  return h("dl", { class: "limit-stats" },
    stat("Applies", [limit.description, " ", paused], "description"),
    stat("In the code", codeValue(limit), "code"),
    stat("Override", limit.override === null ? "none" : value(limit.override), "override"),
    stat("Effective", value(limit.effective), "effective"),
    limit.kind === "rate" ? null : stat("Holding", holdingText(limit), "holding"),
    stat("Waiting", parkedText(limit), "parked"));
}

function gateRows(limit) {
  const rate = limit.kind === "rate";
  return limit.gates.map((gate) => h("tr", { dataset: { gate: gate.key } },
    h("th", { scope: "row", class: "mono" }, gate.key || h("span", { class: "muted" }, "(every job)")),
    rate ? null : h("td", { class: "num" }, String(gate.holders.length)),
    h("td", { class: "num" }, gate.parked_text),
    rate ? h("td", { class: "num" }, gate.starts === null ? "–" : String(gate.starts)) : null,
    rate ? h("td", {}, gate.next_turn ? timeElement(gate.next_turn) : "–") : null,
    rate ? null : h("td", {}, gate.holders.length
      ? h("ul", { class: "holders" }, gate.holders.map((held) => h("li", {}, jobLink(held.job_id),
        h("span", { class: "muted small" }, " since ", timeElement(held.since), held.started ? "" : " (woken, not started)"))))
      : h("span", { class: "muted" }, "–"))));
}

function gatesPart(limit) {
  if (!limit.gates.length) return h("p", { class: "muted small" }, "No gate: no job of this limit is running or waiting.");
  const more = limit.truncated ? ` (the first ${limit.gates.length}; more are stored)` : "";
  const list = table({
    caption: { text: `Gates of ${limit.name}, by key`, hidden: true },
    columns: limit.kind === "rate"
      ? [{ label: "Key" }, { label: "Waiting", className: "num" }, { label: "Starts in window", className: "num" }, { label: "Next turn" }]
      : [{ label: "Key" }, { label: "Holding", className: "num" }, { label: "Waiting", className: "num" }, { label: "Holders" }],
    rows: gateRows(limit),
  }).region;
  return h("details", { class: "limit-gates", open: limit.gates.length <= 5 },
    h("summary", {}, `${plural(limit.gates.length, "gate")}${more}`), list);
}

function settingNote(limit) {
  const setting = limit.setting;
  if (!setting) return h("p", { class: "muted small" }, "No override: the code's value applies.");
  return h("p", { class: "muted small" }, "Set ", timeElement(setting.updated_at), setting.updated_by ? ` by ${setting.updated_by}` : "", ".");
}

/** The operators' form: a capacity or rate (0 pauses), saved with PUT, reset with DELETE. */
function settingForm(limit, context, reload) {
  const { notify } = context;
  const what = limit.kind === "rate" ? "rate" : "capacity";
  const id = uid("limit-value");
  const input = h("input", {
    id, name: what, type: "number", min: "0", max: "1000", step: "1", required: true, inputmode: "numeric",
    value: value(limit.effective) === "–" ? "" : String(limit.effective),
  });
  const form = h("form", { class: "limit-form", "aria-label": `Override of ${limit.name}` },
    h("div", { class: "field" }, h("label", { for: id }, limit.kind === "rate" ? "Starts per window" : "Jobs at once"), input),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "button primary small" }, "Set"),
      actionButton("Reset", async () => {
        try {
          await api(`${limitPath(limit.name)}/setting`, { method: "DELETE" });
          notify(`${limit.name}: the code's value applies again.`, "success");
          input.dataset.touched = "";
          reload();
        } catch (error) {
          notify(`Reset failed: ${error.message}`, "error");
        }
      }, { className: "button small", label: `Reset the override of ${limit.name}` })));
  input.addEventListener("input", () => {
    input.dataset.touched = "yes";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = Number(input.value);
    if (!Number.isInteger(number)) {
      notify("Give a whole number from 0 (paused) to 1000.", "error");
      return;
    }
    try {
      await api(`${limitPath(limit.name)}/setting`, { method: "PUT", body: { [what]: number } });
      notify(`${limit.name}: ${what} ${number}${number === 0 ? " (paused)" : ""}. Hosts apply it within 5 seconds.`, "success");
      input.dataset.touched = "";
      reload();
    } catch (error) {
      notify(`That failed: ${error.message}`, "error");
    }
  });
  return { form, input };
}

/** One limit's panel, made once; `update(limit)` refreshes what it shows (not the form being typed in). */
function limitPanel(limit, context, me, reload) {
  const part = section(limit.name, { id: `limit-${limit.name}`, className: "limit" });
  part.element.dataset.limit = limit.name;
  const head = part.element.querySelector(".panel-head");
  head.append(h("span", { class: "badge kind-badge" }, KIND_NAMES[limit.kind] ?? limit.kind));
  const numbers = h("div", {});
  const note = h("div", {});
  const gates = h("div", {});
  const editing = me.acts_on_all && limit.kind !== "unknown" ? settingForm(limit, context, reload) : null;
  const resetOnly = me.acts_on_all && limit.kind === "unknown" && limit.setting ? actionButton("Reset", async () => {
    try {
      await api(`${limitPath(limit.name)}/setting`, { method: "DELETE" });
      reload();
    } catch (error) {
      context.notify(`Reset failed: ${error.message}`, "error");
    }
  }, { className: "button small", label: `Reset the override of ${limit.name}` }) : null;
  const keyed = !limit.keyed_by ? null
    : limit.keyed_by === "one gate" ? h("p", { class: "muted small" }, "One gate for every job.")
      : h("p", { class: "muted small" }, "One gate per ", h("span", { class: "mono" }, limit.keyed_by), ".");
  fill(part.body, numbers, h("div", { class: "limit-setting" }, note, editing?.form, resetOnly), keyed, gates);

  function update(fresh) {
    fill(numbers, stats(fresh));
    fill(note, settingNote(fresh));
    fill(gates, gatesPart(fresh));
    if (editing && editing.input.dataset.touched !== "yes" && document.activeElement !== editing.input) {
      editing.input.value = fresh.effective === null ? "" : String(fresh.effective);
    }
  }
  update(limit);
  return { element: part.element, update };
}

export function limitsView(context) {
  const { main } = context;
  const abort = new AbortController();
  const signal = abort.signal;
  const title = heading("Limits");
  const listing = h("div", { class: "limits" }, h("p", { class: "muted" }, "Loading…"));
  fill(main, title, h("p", { class: "lead" },
    "How many jobs of each limit run at once, or start per window, and how many wait for a place. An operator's override replaces the code's value on every host within 5 seconds; 0 pauses the limit."),
  listing);
  context.titled("Limits", title);

  const panels = new Map();
  let timer = null;
  let me = { acts_on_all: false };

  async function load() {
    if (timer) clearTimeout(timer);
    timer = null;
    try {
      const answer = await optional("/limits", { signal });
      if (answer === MISSING) {
        fill(listing, notAvailable("The list of limits"));
        return;
      }
      const items = answer.items ?? [];
      if (!items.length) {
        fill(listing, h("p", { class: "empty" }, "No job type of this app passes a limit."));
      } else {
        if (!panels.size) fill(listing);
        for (const limit of items) {
          const known = panels.get(limit.name);
          if (known) known.update(limit);
          else {
            const made = limitPanel(limit, context, me, load);
            panels.set(limit.name, made);
            listing.append(made.element);
          }
        }
      }
    } catch (error) {
      if (!panels.size) showFailure(listing, error, "the limits");
    }
    if (!signal.aborted) timer = setTimeout(load, REFRESH_MS);
  }

  context.me.catch(() => ({ acts_on_all: false })).then((who) => {
    me = who;
    if (!signal.aborted) load();
  });
  return () => {
    abort.abort();
    if (timer) clearTimeout(timer);
  };
}
