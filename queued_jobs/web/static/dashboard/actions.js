// What an operator can do to jobs: one at a time (the job's own routes), a selection (the
// same routes, a few at once), or every job a filter matches (the bulk routes, page by page).

import { api, ApiError } from "./api.js";
import { TERMINAL } from "./status.js";

export const VERBS = {
  retry: { name: "Retry", doing: "Retrying", done: "retried" },
  cancel: { name: "Cancel", doing: "Cancelling", done: "cancelled" },
  delete: { name: "Delete", doing: "Deleting", done: "deleted" },
};

/** Which actions a job's status allows (the server decides in the end). */
export function allowed(job) {
  return {
    retry: job.status === "failed" || job.status === "cancelled",
    cancel: !TERMINAL.has(job.status) && !job.cancel_requested,
    delete: TERMINAL.has(job.status),
  };
}

/** Do `verb` to one job; resolves to the job's view (null after a delete). */
export async function act(verb, jobId) {
  const path = `/jobs/${encodeURIComponent(jobId)}`;
  if (verb === "delete") {
    await api(path, { method: "DELETE" });
    return null;
  }
  return api(`${path}/${verb}`, { method: "POST" });
}

/** Do `verb` to each of `ids`, `at_once` at a time: {done: [id], refused: {id: why}}. */
export async function actOnEach(verb, ids, atOnce = 4) {
  const done = [];
  const refused = {};
  const waiting = [...ids];
  async function next() {
    while (waiting.length) {
      const id = waiting.shift();
      try {
        await act(verb, id);
        done.push(id);
      } catch (error) {
        if (!(error instanceof ApiError) || error.status === 401) throw error;
        refused[id] = error.message;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(atOnce, ids.length) }, next));
  return { done, refused };
}

/**
 * Do `verb` to every job `filter` matches, through the bulk route, a page of `limit` at a
 * time until the last: {matched, done, refused: {id: why}}. `onPage(sofar)` after each.
 */
export async function actOnAll(verb, filter, { limit = 500, onPage = () => {} } = {}) {
  const total = { matched: 0, done: 0, refused: {} };
  let cursor = null;
  do {
    const page = await api(`/jobs:${verb}`, { method: "POST", body: { ...filter, limit, cursor } });
    total.matched += page.matched;
    total.done += page.done.length;
    Object.assign(total.refused, page.refused);
    cursor = page.next_cursor;
    onPage(total);
  } while (cursor);
  return total;
}

/** "3 jobs retried; 1 refused: the job is running" */
export function report(verb, done, refused) {
  const words = VERBS[verb];
  const reasons = Object.values(refused);
  const jobs = (n) => `${n} ${n === 1 ? "job" : "jobs"}`;
  let text = `${jobs(done)} ${words.done}`;
  if (reasons.length) {
    const first = reasons[0];
    const same = reasons.every((reason) => reason === first);
    text += `; ${reasons.length} refused${same ? `: ${first}` : ` (first: ${first})`}`;
  }
  return `${text}.`;
}
