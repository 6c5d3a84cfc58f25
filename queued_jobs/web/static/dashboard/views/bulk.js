// The operators' toolbar over the job list: act on the jobs selected on the page, or on
// every job the filter matches (asked first, then reported: how many done, how many refused).

import { actOnAll, actOnEach, allowed, report, VERBS } from "../actions.js";
import { h } from "../dom.js";
import { count } from "../format.js";
import { label } from "../status.js";
import { describe } from "./filters.js";

const ORDER = ["retry", "cancel", "delete"];

export function bulkBar({ context, filter, toolbar, selected, jobOf, after }) {
  const chosen = h("span", { class: "bulk-count", "aria-live": "polite" }, "No job selected");
  const onSelection = ORDER.map((verb) => {
    const button = h("button", { type: "button", class: `button${verb === "delete" ? " danger-outline" : ""}`, disabled: true },
      `${VERBS[verb].name} selected`);
    button.addEventListener("click", () => onSelected(verb, button));
    return button;
  });
  const onAll = ORDER.map((verb) => {
    const button = h("button", { type: "button", class: `button${verb === "delete" ? " danger-outline" : ""}` },
      `${VERBS[verb].name} all matching`);
    button.addEventListener("click", () => onMatching(verb, button));
    return button;
  });
  toolbar.addEventListener("selection", () => {
    const n = selected().length;
    chosen.textContent = n ? `${count(n)} selected` : "No job selected";
    for (const button of onSelection) button.disabled = n === 0;
  });

  async function busy(buttons, work) {
    for (const button of buttons) button.setAttribute("aria-disabled", "true");
    try {
      return await work();
    } finally {
      for (const button of buttons) button.removeAttribute("aria-disabled");
    }
  }

  async function onSelected(verb, button) {
    const ids = selected();
    if (!ids.length || button.getAttribute("aria-disabled") === "true") return;
    const words = VERBS[verb];
    const jobs = `${count(ids.length)} selected ${ids.length === 1 ? "job" : "jobs"}`;
    const sure = await context.confirm({
      title: `${words.name} ${jobs}?`,
      text: verb === "delete" ? `The ${jobs} and their attempts will be deleted for good. Jobs still queued or running are left alone.`
        : verb === "cancel" ? `Each of the ${jobs} that has not finished will be stopped.`
          : `Each failed or cancelled job among the ${jobs} will be queued again with one more attempt.`,
      action: `${words.name} ${count(ids.length)}`,
      danger: verb !== "retry",
    });
    if (!sure) return;
    await busy([...onSelection, ...onAll], async () => {
      // What the page already knows cannot be done is not sent (a finished job is not
      // cancelled again); the server decides about the rest.
      const skipped = {};
      const sent = ids.filter((id) => {
        const job = jobOf(id);
        if (!job || allowed(job)[verb]) return true;
        skipped[id] = `it is ${label(job.status).toLowerCase()}`;
        return false;
      });
      try {
        const { done, refused } = await actOnEach(verb, sent);
        Object.assign(refused, skipped);
        context.notify(report(verb, done.length, refused), Object.keys(refused).length ? "warning" : "success");
      } catch (error) {
        context.notify(`${words.doing} failed: ${error.message}`, "error");
      }
      after();
    });
  }

  async function onMatching(verb, button) {
    if (button.getAttribute("aria-disabled") === "true") return;
    const words = VERBS[verb];
    const what = describe(filter);
    const scope = what ? `every job with ${what}` : "every job, of every owner";
    const sure = await context.confirm({
      title: `${words.name} all matching jobs?`,
      text: `This applies to ${scope}, on every page, not only the one shown. `
        + (verb === "delete" ? "Finished jobs are deleted for good; jobs still queued or running are left alone."
          : verb === "cancel" ? "Jobs that have not finished are stopped."
            : "Failed and cancelled jobs are queued again; others are left as they are."),
      action: `${words.name} all matching`,
      danger: verb !== "retry",
    });
    if (!sure) return;
    const progress = context.notify(`${words.doing} matching jobs…`);
    await busy([...onSelection, ...onAll], async () => {
      try {
        const total = await actOnAll(verb, filter, {
          onPage: (sofar) => {
            progress.querySelector("p").textContent = `${words.doing} matching jobs… ${count(sofar.done)} so far`;
          },
        });
        progress.remove();
        const refused = Object.keys(total.refused).length;
        context.notify(`${count(total.matched)} matched: ${report(verb, total.done, total.refused)}`, refused ? "warning" : "success");
      } catch (error) {
        progress.remove();
        context.notify(`${words.doing} failed: ${error.message}`, "error");
      }
      after();
    });
  }

  return h("section", { class: "bulk", "aria-label": "Actions on jobs" },
    h("div", { class: "bulk-group" }, chosen, onSelection),
    h("div", { class: "bulk-group" }, h("span", { class: "bulk-count" }, "Matching this filter:"), onAll));
}
