// The job list's filter form. Its state is the URL's hash: submitting it changes the hash,
// and the form is filled from the hash each time the list is shown.

import { h, uid } from "../dom.js";
import { fromLocalInput, toLocalInput } from "../format.js";
import { label, STATUSES } from "../status.js";

export const PAGE_SIZES = [25, 50, 100, 200];
export const DEFAULT_PAGE_SIZE = 50;
const TEXT_FIELDS = [
  ["owner", "Owner", "e.g. alice"],
  ["type", "Job type", "e.g. invoices.send"],
  ["tag", "Tag", "e.g. nightly"],
];

/** The filter a hash's parameters name (what the listing and bulk routes take). */
export function filterOf(params) {
  const statuses = params.getAll("status").filter((s) => STATUSES.includes(s));
  const filter = {};
  if (statuses.length) filter.status = statuses;
  for (const name of ["owner", "type", "tag", "created_from", "created_before"]) {
    const value = params.get(name);
    if (value) filter[name] = value;
  }
  return filter;
}

export function pageSizeOf(params) {
  const size = Number(params.get("limit"));
  return PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE;
}

/** The filter in words, for a confirmation ("status failed, tag nightly"). */
export function describe(filter) {
  const parts = [];
  if (filter.status) parts.push(`status ${filter.status.map(label).join(" or ")}`);
  if (filter.owner) parts.push(`owner ${filter.owner}`);
  if (filter.type) parts.push(`type ${filter.type}`);
  if (filter.tag) parts.push(`tag ${filter.tag}`);
  if (filter.created_from) parts.push(`created from ${new Date(filter.created_from).toLocaleString()}`);
  if (filter.created_before) parts.push(`created before ${new Date(filter.created_before).toLocaleString()}`);
  return parts.join(", ");
}

function field(name, text, input) {
  return h("div", { class: "field" }, h("label", { for: input.id }, text), input);
}

/** The form, filled from `params`; `submit(params)` gets the new hash's parameters. */
export function filterForm(params, submit) {
  const filter = filterOf(params);
  const chosen = new Set(filter.status ?? []);
  const statusBoxes = STATUSES.map((status) => {
    const id = uid("status");
    return h("label", { class: "check", for: id },
      h("input", { type: "checkbox", id, name: "status", value: status, checked: chosen.has(status) }),
      label(status));
  });
  const texts = TEXT_FIELDS.map(([name, text, hint]) => field(name, text,
    h("input", { type: "search", id: uid(name), name, value: filter[name] ?? "", placeholder: hint, autocomplete: "off", spellcheck: "false" })));
  const from = h("input", { type: "datetime-local", id: uid("from"), name: "created_from", value: toLocalInput(filter.created_from) });
  const before = h("input", { type: "datetime-local", id: uid("before"), name: "created_before", value: toLocalInput(filter.created_before) });
  const size = h("select", { id: uid("limit"), name: "limit" }, PAGE_SIZES.map((n) =>
    h("option", { value: String(n), selected: n === pageSizeOf(params) }, `${n} per page`)));
  const active = Object.keys(filter).length;
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter jobs" },
    h("div", { class: "filters-top" },
      h("fieldset", { class: "status-filter" }, h("legend", {}, "Status"), h("div", { class: "checks" }, statusBoxes)),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "button primary" }, "Apply filters"),
        h("a", { class: "button", href: "#/jobs" }, "Clear"))),
    h("div", { class: "fields" }, texts,
      field("created_from", "Created from", from),
      field("created_before", "Created before", before),
      field("limit", "Page size", size)));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const status of data.getAll("status")) next.append("status", status);
    for (const [name] of TEXT_FIELDS) {
      const value = String(data.get(name) ?? "").trim();
      if (value) next.set(name, value);
    }
    for (const name of ["created_from", "created_before"]) {
      const value = fromLocalInput(String(data.get(name) ?? ""));
      if (value) next.set(name, value);
    }
    if (Number(data.get("limit")) !== DEFAULT_PAGE_SIZE) next.set("limit", String(data.get("limit")));
    submit(next);
  });
  const panel = h("details", { class: "filter-panel" },
    h("summary", {}, "Filters", active ? h("span", { class: "count-pill" }, `${active} active`) : null), form);
  // Open where there is room; on a phone the summary says how many filters are on.
  panel.open = window.matchMedia("(min-width: 48rem)").matches;
  return panel;
}
