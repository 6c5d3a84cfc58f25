// The overview: jobs per status, throughput and failure rate over time, queue depths,
// and the hosts seen lately. Kept fresh by the live feed (at most every 2 s).

import { api, MISSING, optional } from "../api.js";
import { line, stackedBars } from "../charts.js";
import { h, fill, table } from "../dom.js";
import { count, percent, plural, timeElement, when } from "../format.js";
import { place } from "../router.js";
import { badge, STATUSES } from "../status.js";
import { heading, notAvailable, section, showFailure, throttled } from "./common.js";

const BANDS = { high: "High", normal: "Normal", low: "Low", overflow: "Overflow" };
const REFRESH_MS = 2000;
const PERIODIC_MS = 30000;
const WORKERS_WITHIN = 600;
let marked = false;

function statusCards(stats) {
  return h("ul", { class: "status-cards" }, STATUSES.map((status) => {
    const { count: n = 0, more = false } = stats.counts[status] ?? {};
    return h("li", {}, h("a", { class: `status-card status-${status}`, href: place("/jobs", { status }) },
      badge(status),
      h("span", { class: "status-count num" }, count(n, more)),
      h("span", { class: "visually-hidden" }, ` ${n === 1 && !more ? "job" : "jobs"}`)));
  }));
}

function windowFacts(title, window) {
  return h("div", { class: "window" }, h("h3", {}, title), h("dl", { class: "window-facts" },
    h("div", {}, h("dt", {}, "Succeeded"), h("dd", { class: "num" }, count(window.succeeded.count, window.succeeded.more))),
    h("div", {}, h("dt", {}, "Failed"), h("dd", { class: "num" }, count(window.failed.count, window.failed.more))),
    h("div", {}, h("dt", {}, "Failure rate"), h("dd", { class: "num" }, percent(window.failure_rate)))));
}

function showCounts(body, stats) {
  fill(body, statusCards(stats),
    h("div", { class: "windows" }, windowFacts("Created in the last hour", stats.last_hour),
      windowFacts("Created in the last day", stats.last_day)),
    h("p", { class: "muted small" }, "Counted at ", timeElement(stats.generated_at), "."));
}

function depth(value, link) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "no answer");
  if (!link || value === 0) return count(value);
  return h("a", { href: link }, count(value));
}

// The overflow queue's dead letters are kept with the normal band's: no page of its own.
function sideLink(queue, side) {
  return queue.band === "overflow" ? null : place("/dead-letters", { band: queue.band, side });
}

function showQueues(body, stats) {
  const rows = stats.queues.map((queue) => h("tr", {},
    h("th", { scope: "row" }, BANDS[queue.band] ?? queue.band),
    h("td", { class: "mono" }, queue.queue),
    h("td", { class: "num" }, depth(queue.messages)),
    h("td", { class: "num" }, depth(queue.poison, sideLink(queue, "poison"))),
    h("td", { class: "num" }, depth(queue.dead_letters, sideLink(queue, "deadletter")))));
  const { region } = table({
    caption: { text: "Messages waiting per priority band", hidden: true },
    columns: [{ label: "Band" }, { label: "Queue" }, { label: "Messages", className: "num" },
      { label: "Poison", className: "num" }, { label: "Dead letters", className: "num" }],
    rows,
  });
  fill(body, region, h("p", { class: "small" }, h("a", { href: "#/dead-letters" }, "See every dead letter and poison message")));
}

function bucketLabels(timeline) {
  const seconds = timeline.bucket_seconds;
  const short = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  return timeline.buckets.map((bucket) => {
    const start = new Date(bucket.start);
    const end = new Date(start.getTime() + seconds * 1000);
    return { short: short.format(start), long: `${when(start.toISOString())}–${short.format(end)}` };
  });
}

function showTimeline(body, timeline) {
  if (timeline === MISSING) {
    fill(body, notAvailable("Throughput over time"));
    return;
  }
  const labels = bucketLabels(timeline);
  const values = (key) => timeline.buckets.map((bucket) => bucket[key]?.count ?? 0);
  const created = values("created");
  const succeeded = values("succeeded");
  const failed = values("failed");
  const other = created.map((n, i) => Math.max(0, n - succeeded[i] - failed[i]));
  const span = timeline.span === "day" ? "the last day" : "the last hour";
  const total = created.reduce((a, b) => a + b, 0);
  const failedTotal = failed.reduce((a, b) => a + b, 0);
  fill(body, h("div", { class: "charts" },
    stackedBars({
      title: `Jobs created per ${timeline.bucket_seconds >= 3600 ? "hour" : `${Math.round(timeline.bucket_seconds / 60)} minutes`}`,
      description: `${plural(total, "job")} created in ${span}, ${plural(failedTotal, "job")} of them failed.`,
      labels,
      series: [
        { name: "Succeeded", className: "series-succeeded", values: succeeded },
        { name: "Failed", className: "series-failed", values: failed },
        { name: "Not finished or cancelled", className: "series-other", values: other },
      ],
      format: (v) => count(v),
    }),
    line({
      title: "Failure rate",
      description: `The share of finished jobs that failed, per bucket of ${span}, by the time they were created.`,
      labels,
      series: [{ name: "Failure rate", className: "series-rate", values: timeline.buckets.map((b) => b.failure_rate ?? null) }],
      format: (v) => percent(v),
      least: 0.1,
    })));
}

const KINDS = { worker: "Worker", functions: "Functions", api: "API" };

function workerState(item) {
  if (item.details?.stopped) return ["status-cancelled", "Stopped"];
  if (item.stale) return ["status-cancelled", "Not seen lately"];
  return ["status-succeeded", "Active"];
}

function detailNumber(value) {
  return typeof value === "number" ? count(value) : "–";
}

function showWorkers(body, workers) {
  if (workers === MISSING) {
    fill(body, notAvailable("The list of workers"));
    return;
  }
  if (!workers.items.length) {
    fill(body, h("p", { class: "muted" }, "No worker, Functions instance or API server has reported in the last 10 minutes."));
    return;
  }
  const rows = workers.items.map((item) => {
    const details = item.details ?? {};
    const [tone, state] = workerState(item);
    const running = typeof details.concurrency === "number"
      ? `${detailNumber(details.running)} of ${count(details.concurrency)}` : detailNumber(details.running);
    const queues = typeof details.queues === "string" && details.queues ? details.queues.split(",").join(", ") : "–";
    return h("tr", {},
      h("th", { scope: "row", class: "mono" }, item.host),
      h("td", {}, KINDS[item.kind] ?? item.kind),
      h("td", {}, h("span", { class: `badge ${tone}` }, h("span", { class: "badge-mark", "aria-hidden": "true" }), state)),
      h("td", { class: "num" }, item.kind === "api" ? "–" : running),
      h("td", { class: "num" }, item.kind === "api" ? "–" : detailNumber(details.finished)),
      h("td", { class: "mono small" }, queues),
      h("td", {}, item.version ?? "–"),
      h("td", {}, timeElement(item.started_at)),
      h("td", {}, timeElement(item.seen_at)));
  });
  const { region } = table({
    caption: { text: "Hosts seen in the last 10 minutes", hidden: true },
    columns: [{ label: "Host" }, { label: "Kind" }, { label: "State" }, { label: "Running", className: "num" },
      { label: "Finished", className: "num" }, { label: "Queues" }, { label: "Version" }, { label: "Started" }, { label: "Last seen" }],
    rows,
  });
  fill(body, region);
}

function spanToggle(chosen, choose) {
  const buttons = [["hour", "Last hour"], ["day", "Last day"]].map(([span, text]) => {
    const button = h("button", { type: "button", class: "segment", "aria-pressed": String(span === chosen) }, text);
    button.addEventListener("click", () => {
      for (const other of buttons) other.setAttribute("aria-pressed", String(other === button));
      choose(span);
    });
    return button;
  });
  return h("div", { class: "segments", role: "group", "aria-label": "Time span" }, buttons);
}

export function overviewView(context, params) {
  const { main, live } = context;
  const abort = new AbortController();
  const signal = abort.signal;
  let span = params.get("span") === "day" ? "day" : "hour";
  const title = heading("Overview");
  const counts = section("Jobs by status");
  const throughput = section("Throughput", { actions: spanToggle(span, (chosen) => {
    span = chosen;
    history.replaceState(null, "", place("/", span === "hour" ? {} : { span }));
    loadTimeline();
  }) });
  const queues = section("Queues");
  const workers = section("Workers and instances");
  fill(main, title, h("div", { class: "overview" }, counts.element, throughput.element, queues.element, workers.element));
  context.titled("Overview", title);

  let latestChange = 0;
  let followUps = 0;
  let followUp = null;

  async function loadStats() {
    try {
      const stats = await api("/stats", { signal });
      showCounts(counts.body, stats);
      showQueues(queues.body, stats);
      // Counts are reused by the server for a few seconds: if they predate the last
      // change heard, look again shortly (a few times at most).
      clearTimeout(followUp);
      if (latestChange && Date.parse(stats.generated_at) < latestChange && followUps < 5) {
        followUps += 1;
        followUp = setTimeout(refresh, 3000);
      } else {
        followUps = 0;
      }
    } catch (error) {
      showFailure(counts.body, error, "the counts");
      showFailure(queues.body, error, "the queues");
    }
  }

  async function loadTimeline() {
    try {
      showTimeline(throughput.body, await optional("/stats/timeline", { query: { span }, signal }));
    } catch (error) {
      showFailure(throughput.body, error, "the throughput");
    }
  }

  async function loadWorkers() {
    try {
      showWorkers(workers.body, await optional("/workers", { query: { seen_within: WORKERS_WITHIN }, signal }));
    } catch (error) {
      showFailure(workers.body, error, "the workers");
    }
  }

  function refresh() {
    if (signal.aborted) return;
    loadStats();
    loadTimeline();
  }

  const soon = throttled(refresh, REFRESH_MS);
  const stop = live.subscribe((event) => {
    if (event.type === "sequence") return; // no count of the overview is a sequence's
    if (event.type === "job") latestChange = Math.max(latestChange, Date.parse(event.job.changed_at) || 0);
    soon();
  });
  const periodic = setInterval(() => {
    refresh();
    loadWorkers();
  }, PERIODIC_MS);
  // The overview is painted once its counts, charts and workers all are (a benchmark
  // measures the time to this mark).
  Promise.allSettled([loadStats(), loadTimeline(), loadWorkers()]).then(() => {
    if (signal.aborted || marked) return;
    marked = true;
    performance.mark("qj-overview-ready");
  });

  return () => {
    abort.abort();
    stop();
    soon.cancel();
    clearInterval(periodic);
    clearTimeout(followUp);
  };
}
