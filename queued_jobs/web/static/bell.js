// <queued-jobs-bell>: the signed-in user's recent jobs under a bell, live.
//
// One script, no framework: load it as a module and put the element anywhere.
//
//   <script type="module" src="/jobs-api/assets/bell.js"></script>
//   <queued-jobs-bell></queued-jobs-bell>
//
// Attributes: api (the jobs API's root; default: where this script is served from),
// limit (jobs shown, default 10), transport ("sse", the default; "webpubsub" through the
// API's /negotiate; "poll"), poll-interval (seconds, default 5), lang (default: the page's).
// Properties: getHeaders (an async function returning headers for each call, such as
// {Authorization: "Bearer ..."}; by default only the browser's cookies go), texts (words
// to replace, see TEXTS), describe (job => the title shown for a job).
// Methods: refresh(), track(jobView). Events: "queued-jobs-bell:finished" (detail: the job).
// Theme with the CSS custom properties in STYLE (--qj-bell-*) and the parts button,
// badge, panel, item.

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const LINK_FIELDS = ["url", "download_url", "link", "href"];
const KEPT = 500; // seen and dismissed ids remembered per user
const MAX_BACKOFF = 30_000;

export const TEXTS = {
  button: "Jobs",
  unseen: "{n} new",
  title: "Your jobs",
  empty: "No jobs yet.",
  dismiss: "Dismiss",
  dismissAll: "Dismiss all finished",
  close: "Close",
  queued: "Waiting to start",
  scheduled: "Scheduled",
  running: "Running",
  succeeded: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
  cancelRequested: "Cancelling",
  download: "Download",
  expires: "Link expires {when}",
  expired: "The link has expired",
  took: "took {duration}",
  elapsed: "{duration} so far",
  finishedAnnouncement: "{title}: {status}",
  reconnecting: "Reconnecting…",
  signIn: "Sign in to see your jobs.",
  unavailable: "Jobs are unavailable right now.",
  attempt: "attempt {n}",
  waiting: "Waiting for limit {limit}: {reason}",
  waitingKey: "Waiting for limit {limit} (key {key}): {reason}",
};

const STYLE = `
:host { position: relative; display: inline-block; font: var(--qj-bell-font, inherit);
  color: var(--qj-bell-text, #1f2937); }
* { box-sizing: border-box; }
button { font: inherit; cursor: pointer; }
.bell { position: relative; display: inline-flex; align-items: center; justify-content: center;
  width: var(--qj-bell-size, 2.5rem); height: var(--qj-bell-size, 2.5rem); padding: 0;
  border: 1px solid transparent; border-radius: 999px; background: transparent;
  color: var(--qj-bell-color, currentColor); }
.bell:hover { background: var(--qj-bell-hover, rgba(0,0,0,.06)); }
.bell:focus-visible, .panel button:focus-visible, .panel a:focus-visible {
  outline: 2px solid var(--qj-bell-accent, #1d4ed8); outline-offset: 2px; }
.bell svg { width: 60%; height: 60%; }
.badge { position: absolute; top: -2px; right: -2px; min-width: 1.25rem; height: 1.25rem;
  padding: 0 .3rem; border-radius: 999px; background: var(--qj-bell-badge, #b91c1c);
  color: var(--qj-bell-badge-text, #fff); font-size: .75rem; font-weight: 600;
  line-height: 1.25rem; text-align: center; font-variant-numeric: tabular-nums; }
.badge[hidden], [hidden] { display: none !important; }
.panel { position: absolute; right: 0; top: calc(100% + .5rem); z-index: 1000;
  width: var(--qj-bell-width, 24rem); max-width: calc(100vw - 1rem);
  max-height: var(--qj-bell-max-height, 70vh); overflow: auto;
  background: var(--qj-bell-surface, #fff); color: var(--qj-bell-text, #1f2937);
  border: 1px solid var(--qj-bell-border, #d1d5db); border-radius: var(--qj-bell-radius, .5rem);
  box-shadow: var(--qj-bell-shadow, 0 10px 30px rgba(0,0,0,.15)); text-align: left; }
@media (max-width: 480px) {
  .panel { position: fixed; left: .5rem; right: .5rem; top: 4rem; width: auto; max-width: none; }
}
header { display: flex; align-items: center; gap: .5rem; padding: .75rem 1rem;
  border-bottom: 1px solid var(--qj-bell-border, #d1d5db); }
h2 { flex: 1; margin: 0; font-size: 1rem; }
.link-button { border: 0; background: none; padding: .25rem; color: var(--qj-bell-accent, #1d4ed8);
  text-decoration: underline; font-size: .875rem; }
.note { margin: 0; padding: .5rem 1rem; font-size: .875rem; color: var(--qj-bell-muted, #4b5563); }
ul { list-style: none; margin: 0; padding: 0; }
li { display: grid; grid-template-columns: 1.5rem 1fr auto; gap: .25rem .75rem;
  padding: .75rem 1rem; border-bottom: 1px solid var(--qj-bell-border, #e5e7eb); }
li:last-child { border-bottom: 0; }
li.unseen { background: var(--qj-bell-unseen, #eff6ff); }
.icon { grid-row: span 3; width: 1.25rem; height: 1.25rem; margin-top: .1rem; }
.title { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.status { margin: 0; font-size: .875rem; color: var(--qj-bell-muted, #4b5563); overflow-wrap: anywhere; }
.status.failed { color: var(--qj-bell-danger, #b91c1c); }
.status.succeeded { color: var(--qj-bell-success, #166534); }
.dismiss { grid-row: 1; grid-column: 3; width: 1.75rem; height: 1.75rem; border: 0;
  border-radius: 999px; background: none; color: var(--qj-bell-muted, #4b5563); font-size: 1.1rem; }
.dismiss:hover { background: var(--qj-bell-hover, rgba(0,0,0,.06)); }
.detail { grid-column: 2 / span 2; margin: 0; font-size: .875rem; overflow-wrap: anywhere; }
.detail a { color: var(--qj-bell-accent, #1d4ed8); font-weight: 600; }
.detail.waiting { font-size: .8rem; color: var(--qj-bell-muted, #4b5563); }
.bar { grid-column: 2 / span 2; height: .375rem; border-radius: 999px;
  background: var(--qj-bell-track, #e5e7eb); overflow: hidden; }
.bar > span { display: block; height: 100%; width: 0; background: var(--qj-bell-accent, #1d4ed8);
  transition: width .3s; }
.spinner { border: 2px solid var(--qj-bell-track, #d1d5db); border-top-color: var(--qj-bell-accent, #1d4ed8);
  border-radius: 50%; animation: spin .8s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .spinner { animation-duration: 3s; } .bar > span { transition: none; } }
.mark { display: flex; align-items: center; justify-content: center; border-radius: 50%;
  color: #fff; font-size: .8rem; font-weight: 700; }
.mark.succeeded { background: var(--qj-bell-success, #166534); }
.mark.failed { background: var(--qj-bell-danger, #b91c1c); }
.mark.cancelled { background: var(--qj-bell-muted, #4b5563); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
`;

const BELL_ICON = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2"
  stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">
  <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.7 21a2 2 0 0 1-3.4 0"/></svg>`;

function fill(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (_, name) => (name in values ? values[name] : `{${name}}`));
}

function element(tag, attributes = {}, text) {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  if (text !== undefined) made.textContent = text;
  return made;
}

function defaultApi() {
  const here = new URL(import.meta.url);
  const at = here.pathname.lastIndexOf("/assets/");
  return here.origin + (at >= 0 ? here.pathname.slice(0, at) : "");
}

function sheet() {
  const made = new CSSStyleSheet();
  made.replaceSync(STYLE);
  return made;
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Reads a text/event-stream body: yields {event, data, id, retry} as each event ends.
async function* serverEvents(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const abort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", abort, { once: true });
  let buffer = "";
  let event = { event: "message", data: [], id: undefined, retry: undefined };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
        if (line === "") {
          if (event.data.length || event.id !== undefined) yield { ...event, data: event.data.join("\n") };
          event = { event: "message", data: [], id: undefined, retry: undefined };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const field = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (name === "event") event.event = field;
        else if (name === "data") event.data.push(field);
        else if (name === "id" && !field.includes("\0")) event.id = field;
        else if (name === "retry" && /^\d+$/.test(field)) event.retry = Number(field);
      }
    }
  } finally {
    signal.removeEventListener("abort", abort);
  }
}

export class QueuedJobsBell extends HTMLElement {
  static observedAttributes = ["api", "limit", "transport", "poll-interval", "lang"];

  constructor() {
    super();
    this.getHeaders = async () => ({});
    this.describe = null;
    this._texts = { ...TEXTS };
    this._jobs = new Map();
    this._me = null;
    this._store = { seen: [], dismissed: [] };
    this._connected = false;
    this._stopped = true;
    this._lastEventId = null;
    this._failures = 0;
    this._root = this.attachShadow({ mode: "open" });
    this._root.adoptedStyleSheets = [sheet()];
    this._build();
  }

  get texts() {
    return this._texts;
  }

  set texts(words) {
    this._texts = { ...TEXTS, ...(words || {}) };
    this._render();
  }

  get api() {
    return (this.getAttribute("api") || defaultApi()).replace(/\/+$/, "");
  }

  get limit() {
    const asked = Number(this.getAttribute("limit"));
    return Number.isInteger(asked) && asked > 0 ? Math.min(asked, 100) : 10;
  }

  get pollInterval() {
    const asked = Number(this.getAttribute("poll-interval"));
    return (Number.isFinite(asked) && asked >= 1 ? asked : 5) * 1000;
  }

  get _lang() {
    return this.getAttribute("lang") || document.documentElement.lang || navigator.language || "en";
  }

  connectedCallback() {
    this._stopped = false;
    this._start();
  }

  disconnectedCallback() {
    this._stop();
  }

  attributeChangedCallback(name, before, after) {
    if (before === after || this._stopped) return;
    if (name === "lang") this._render();
    else this._restart();
  }

  /** Read the jobs again (after the page changed who is signed in, say). */
  refresh() {
    this._restart();
  }

  /** Show a job the page just queued (a JobView from POST /jobs) before its first event. */
  track(job) {
    if (job && job.id) this._put(job);
  }

  // --- building ---------------------------------------------------------------------

  _build() {
    const root = this._root;
    this._button = element("button", {
      type: "button", class: "bell", part: "button", "aria-haspopup": "true",
      "aria-expanded": "false", "aria-controls": "panel",
    });
    this._button.innerHTML = BELL_ICON; // a constant: no data
    this._label = element("span", { class: "sr-only" });
    this._badge = element("span", { class: "badge", part: "badge", "aria-hidden": "true" });
    this._badge.hidden = true;
    this._button.append(this._label, this._badge);
    this._panel = element("section", { id: "panel", class: "panel", part: "panel", role: "region" });
    this._panel.hidden = true;
    const header = element("header");
    this._heading = element("h2", { id: "heading" });
    this._panel.setAttribute("aria-labelledby", "heading");
    this._dismissAll = element("button", { type: "button", class: "link-button" });
    this._close = element("button", { type: "button", class: "dismiss" }, "×");
    header.append(this._heading, this._dismissAll, this._close);
    this._note = element("p", { class: "note", role: "status" });
    this._list = element("ul");
    this._panel.append(header, this._note, this._list);
    this._announcer = element("div", { class: "sr-only", "aria-live": "polite" });
    root.append(this._button, this._panel, this._announcer);

    this._button.addEventListener("click", () => this._toggle());
    this._close.addEventListener("click", () => this._toggle(false));
    this._dismissAll.addEventListener("click", () => this._dismissFinished());
    this._panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this._toggle(false);
    });
    this._button.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this._toggle(false);
    });
    this._outside = (event) => {
      if (!event.composedPath().includes(this)) this._toggle(false, false);
    };
    this._render();
  }

  _toggle(open = this._panel.hidden, focusButton = true) {
    if (open === !this._panel.hidden) return;
    this._panel.hidden = !open;
    this._button.setAttribute("aria-expanded", String(open));
    if (open) {
      document.addEventListener("click", this._outside, true);
      this._markSeen();
      (this._list.querySelector("a, button") || this._close).focus();
    } else {
      document.removeEventListener("click", this._outside, true);
      if (focusButton) this._button.focus();
    }
    this._render();
  }

  // --- remembered per user: seen and dismissed jobs ----------------------------------

  _storageKey() {
    return this._me ? `queued-jobs-bell:${this.api}:${this._me.id}` : null;
  }

  _load() {
    const key = this._storageKey();
    try {
      const kept = key && JSON.parse(localStorage.getItem(key) || "null");
      if (kept && Array.isArray(kept.seen) && Array.isArray(kept.dismissed)) {
        this._store = { seen: kept.seen.slice(-KEPT), dismissed: kept.dismissed.slice(-KEPT) };
        return;
      }
    } catch {
      // storage blocked or unreadable: start afresh
    }
    this._store = { seen: [], dismissed: [] };
  }

  _save() {
    const key = this._storageKey();
    if (!key) return;
    this._store.seen = this._store.seen.slice(-KEPT);
    this._store.dismissed = this._store.dismissed.slice(-KEPT);
    try {
      localStorage.setItem(key, JSON.stringify(this._store));
    } catch {
      // storage full or blocked: remembered for this page only
    }
  }

  _markSeen() {
    let changed = false;
    for (const job of this._jobs.values()) {
      if (TERMINAL.has(job.status) && !this._store.seen.includes(job.id)) {
        this._store.seen.push(job.id);
        changed = true;
      }
    }
    if (changed) this._save();
  }

  _dismiss(id) {
    this._jobs.delete(id);
    if (!this._store.dismissed.includes(id)) this._store.dismissed.push(id);
    this._save();
    this._render();
    (this._list.querySelector("a, button") || this._close).focus();
  }

  _dismissFinished() {
    for (const job of [...this._jobs.values()]) {
      if (TERMINAL.has(job.status)) {
        this._jobs.delete(job.id);
        this._store.dismissed.push(job.id);
      }
    }
    this._save();
    this._render();
    this._close.focus();
  }

  // --- talking to the API -------------------------------------------------------------

  async _headers(extra = {}) {
    let given = {};
    try {
      given = (await this.getHeaders()) || {};
    } catch (error) {
      console.warn("queued-jobs-bell: getHeaders failed", error);
    }
    return { Accept: "application/json", ...given, ...extra };
  }

  async _get(path, signal) {
    const response = await fetch(this.api + path, {
      headers: await this._headers(), credentials: "same-origin", signal,
    });
    if (!response.ok) throw new HttpError(response.status, `${response.status} for ${path}`);
    return response.json();
  }

  _start() {
    this._abort = new AbortController();
    const { signal } = this._abort;
    this._run(signal).catch((error) => {
      if (!signal.aborted) console.warn("queued-jobs-bell stopped:", error);
    });
  }

  _stop() {
    this._stopped = true;
    this._abort?.abort();
    clearTimeout(this._pollTimer);
    clearInterval(this._ticker);
    this._ticker = null;
    document.removeEventListener("click", this._outside, true);
  }

  _restart() {
    this._stop();
    this._stopped = false;
    this._jobs.clear();
    this._me = null;
    this._lastEventId = null;
    this._start();
  }

  async _run(signal) {
    // Who am I, then my jobs, then their changes as they happen; every step retried
    // with backoff while the API is away, so that the bell comes back by itself.
    while (!signal.aborted && !(await this._loadList(signal))) await this._pause(signal);
    if (signal.aborted) return;
    const transport = this.getAttribute("transport") || "sse";
    if (transport === "poll") return this._pollLoop(signal);
    for (;;) {
      if (signal.aborted) return;
      try {
        if (transport === "webpubsub") await this._pubsub(signal);
        else await this._stream(signal);
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
          this._setNote(this._texts.signIn);
          return;
        }
        this._failed();
      }
      if (signal.aborted) return;
      await this._pause(signal);
    }
  }

  _failed() {
    this._failures += 1;
    this._connected = false;
    this._setNote(this._texts.reconnecting);
    // While the stream is away, the list is read now and then so nothing is missed.
    if (this._failures >= 2 && !this._pollTimer) this._schedulePoll();
  }

  _schedulePoll() {
    this._pollTimer = setTimeout(async () => {
      this._pollTimer = null;
      if (this._stopped || this._connected) return;
      await this._loadList(this._abort.signal);
      if (!this._connected) this._schedulePoll();
    }, this.pollInterval);
  }

  _pause(signal) {
    const wait = this._failures === 0
      ? this._retry ?? 250
      : Math.min(MAX_BACKOFF, 1000 * 2 ** Math.min(this._failures - 1, 5)) * (0.75 + Math.random() / 2);
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, wait);
      signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }

  async _loadList(signal) {
    try {
      this._me = this._me || (await this._get("/me", signal));
      if (!this._storageLoaded) {
        this._load();
        this._storageLoaded = true;
      }
      const owner = encodeURIComponent(this._me.id);
      const page = await this._get(`/jobs?owner=${owner}&limit=${this.limit}`, signal);
      const fresh = new Map();
      for (const job of page.items) {
        if (!this._store.dismissed.includes(job.id)) fresh.set(job.id, job);
      }
      // Jobs still running that the list no longer reaches stay until they end.
      for (const [id, job] of this._jobs) {
        if (!fresh.has(id) && !TERMINAL.has(job.status)) fresh.set(id, job);
      }
      const before = this._jobs;
      this._jobs = fresh;
      this._trim();
      for (const job of fresh.values()) {
        const was = before.get(job.id);
        if (was && !TERMINAL.has(was.status) && TERMINAL.has(job.status)) this._finished(job);
      }
      if (this._failures === 0 || this._connected) this._setNote("");
      this._render();
      return true;
    } catch (error) {
      if (signal.aborted) return false;
      if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
        this._setNote(this._texts.signIn);
      } else {
        this._failures += 1;
        this._setNote(this._texts.unavailable);
      }
      return false;
    }
  }

  async _pollLoop(signal) {
    while (!signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, this.pollInterval));
      if (!signal.aborted) await this._loadList(signal);
    }
  }

  _opened() {
    this._connected = true;
    if (this._failures > 0) this._setNote("");
    this._failures = 0;
    clearTimeout(this._pollTimer);
    this._pollTimer = null;
  }

  async _stream(signal) {
    const extra = { Accept: "text/event-stream" };
    if (this._lastEventId) extra["Last-Event-ID"] = this._lastEventId;
    const owner = encodeURIComponent(this._me.id);
    const response = await fetch(`${this.api}/events?owner=${owner}`, {
      headers: await this._headers(extra), credentials: "same-origin", signal, cache: "no-store",
    });
    if (!response.ok || !response.body) throw new HttpError(response.status, "no event stream");
    const failuresBefore = this._failures;
    this._opened();
    if (failuresBefore > 0) await this._loadList(signal);
    for await (const event of serverEvents(response.body, signal)) {
      if (event.retry !== undefined) this._retry = Math.min(event.retry, MAX_BACKOFF);
      if (event.id !== undefined) this._lastEventId = event.id;
      if (event.event === "reset") await this._loadList(signal);
      else if (event.event === "job") this._changed(JSON.parse(event.data));
    }
    this._connected = false; // the server ended the stream (a window, a restart): resume
  }

  async _pubsub(signal) {
    const access = await this._get("/negotiate", signal);
    const socket = new WebSocket(access.url);
    await new Promise((resolve, reject) => {
      const stop = () => socket.close();
      signal.addEventListener("abort", stop, { once: true });
      socket.addEventListener("open", () => {
        const failuresBefore = this._failures;
        this._opened();
        if (failuresBefore > 0) this._loadList(signal);
      });
      socket.addEventListener("message", (message) => {
        try {
          this._changed(JSON.parse(message.data));
        } catch {
          // not a change of ours
        }
      });
      socket.addEventListener("close", () => {
        signal.removeEventListener("abort", stop);
        if (this._connected) { this._connected = false; resolve(); } else reject(new Error("closed"));
      });
    });
  }

  // --- changes ------------------------------------------------------------------------

  _changed(change) {
    if (!change || typeof change.job_id !== "string") return;
    if (this._me && change.owner !== this._me.id) return;
    if (this._store.dismissed.includes(change.job_id)) return;
    const known = this._jobs.get(change.job_id);
    if (!known || TERMINAL.has(change.status)) {
      // A new job, or an end: its record has what the change does not (result, times).
      this._want(change.job_id, known, change);
      return;
    }
    this._put({
      ...known,
      status: change.status,
      progress: change.progress,
      attempts: change.attempts,
      cancel_requested: change.cancel_requested,
      waiting: change.waiting ?? null,
      updated_at: change.changed_at,
      started_at: known.started_at || (change.status === "running" ? change.changed_at : null),
    });
  }

  // Records wanted are read together a moment later: a few one by one, a burst (a batch
  // of jobs queued at once) as one read of the list.
  _want(id, known, change) {
    this._wanted = this._wanted || new Map();
    this._wanted.set(id, { known, change });
    if (this._wantTimer) return;
    this._wantTimer = setTimeout(() => {
      const wanted = this._wanted;
      this._wanted = new Map();
      this._wantTimer = null;
      if (this._stopped) return;
      if (wanted.size > 3) this._loadList(this._abort.signal);
      else for (const [wantedId, seen] of wanted) this._fetchJob(wantedId, seen.known, seen.change);
    }, 100);
  }

  async _fetchJob(id, known, change) {
    try {
      const job = await this._get(`/jobs/${encodeURIComponent(id)}`, this._abort.signal);
      const was = this._jobs.get(id) || known;
      this._put(job);
      if ((!was || !TERMINAL.has(was.status)) && TERMINAL.has(job.status)) this._finished(job);
    } catch (error) {
      if (known && change) this._put({ ...known, status: change.status, progress: change.progress });
    }
  }

  _put(job) {
    if (this._store.dismissed.includes(job.id)) return;
    this._jobs.set(job.id, job);
    this._trim();
    this._render();
  }

  // At most `limit` jobs are kept: the oldest finished ones go first.
  _trim() {
    const extra = this._jobs.size - this.limit;
    if (extra <= 0) return;
    const finished = [...this._jobs.values()]
      .filter((job) => TERMINAL.has(job.status))
      .sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
    for (const job of finished.slice(0, extra)) this._jobs.delete(job.id);
  }

  _finished(job) {
    const status = this._texts[job.status] || job.status;
    this._announcer.textContent = fill(this._texts.finishedAnnouncement, { title: this._title(job), status });
    if (!this._panel.hidden && !this._store.seen.includes(job.id)) {
      this._store.seen.push(job.id);
      this._save();
      this._render();
    }
    this.dispatchEvent(new CustomEvent("queued-jobs-bell:finished", { detail: job, bubbles: true, composed: true }));
  }

  _setNote(text) {
    this._note.textContent = text;
    this._note.hidden = !text;
  }

  // --- drawing ------------------------------------------------------------------------

  _title(job) {
    if (typeof this.describe === "function") {
      try {
        const title = this.describe(job);
        if (title) return String(title);
      } catch {
        // fall back to the job's own name
      }
    }
    const named = job.custom_data && typeof job.custom_data.title === "string" ? job.custom_data.title : null;
    return named || job.type;
  }

  _duration(ms) {
    const seconds = Math.max(0, Math.round(ms / 1000));
    const unit = (value, name) =>
      new Intl.NumberFormat(this._lang, { style: "unit", unit: name, unitDisplay: "narrow" }).format(value);
    if (seconds < 60) return unit(seconds, "second");
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${unit(minutes, "minute")} ${unit(seconds % 60, "second")}`;
    return `${unit(Math.floor(minutes / 60), "hour")} ${unit(minutes % 60, "minute")}`;
  }

  _relative(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    const format = new Intl.RelativeTimeFormat(this._lang, { numeric: "auto" });
    const steps = [[60, "second"], [3600, "minute"], [86400, "hour"], [Infinity, "day"]];
    let size = 1;
    for (const [limit, name] of steps) {
      if (Math.abs(seconds) < limit) return format.format(Math.round(seconds / size), name);
      size = limit;
    }
    return format.format(Math.round(seconds / 86400), "day");
  }

  _link(job) {
    const result = job.result;
    if (!result || typeof result !== "object" || Array.isArray(result)) return null;
    for (const field of LINK_FIELDS) {
      const value = result[field];
      if (typeof value !== "string") continue;
      let url;
      try {
        url = new URL(value, this.api + "/");
      } catch {
        continue;
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") continue;
      const expires = typeof result.expires_at === "string" ? new Date(result.expires_at) : null;
      const name = typeof result.name === "string" ? result.name.split("/").pop() : null;
      return { url: url.href, expires: expires && !Number.isNaN(expires.getTime()) ? expires : null, name };
    }
    return null;
  }

  _render() {
    const texts = this._texts;
    const unseen = [...this._jobs.values()].filter(
      (job) => TERMINAL.has(job.status) && !this._store.seen.includes(job.id),
    ).length;
    this._badge.hidden = unseen === 0;
    this._badge.textContent = unseen > 99 ? "99+" : String(unseen);
    this._label.textContent = unseen ? `${texts.button} (${fill(texts.unseen, { n: unseen })})` : texts.button;
    this._heading.textContent = texts.title;
    this._dismissAll.textContent = texts.dismissAll;
    this._close.setAttribute("aria-label", texts.close);
    const jobs = [...this._jobs.values()].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    this._dismissAll.hidden = !jobs.some((job) => TERMINAL.has(job.status));
    // Redrawn whole; the control that had the focus gets it back in its new row.
    const focused = this._root.activeElement;
    const row = focused && focused.closest("li");
    const again = row ? { job: row.dataset.job, tag: focused.tagName } : null;
    this._list.replaceChildren(...jobs.map((job) => this._item(job)));
    if (again) {
      const moved = this._list.querySelector(`li[data-job="${CSS.escape(again.job)}"] ${again.tag}`);
      if (moved) moved.focus();
    }
    if (!jobs.length) this._list.append(element("li", { class: "empty" }, texts.empty));
    const active = jobs.some((job) => !TERMINAL.has(job.status));
    if (active && !this._ticker) this._ticker = setInterval(() => this._tick(), 1000);
    if (!active && this._ticker) {
      clearInterval(this._ticker);
      this._ticker = null;
    }
  }

  _tick() {
    for (const item of this._list.querySelectorAll("[data-since]")) {
      const since = new Date(item.dataset.since);
      item.textContent = fill(this._texts.elapsed, { duration: this._duration(Date.now() - since) });
    }
  }

  _item(job) {
    const texts = this._texts;
    const title = this._title(job);
    const finished = TERMINAL.has(job.status);
    const item = element("li", { part: "item", "data-job": job.id, "data-status": job.status });
    if (finished && !this._store.seen.includes(job.id)) item.classList.add("unseen");
    const icon = finished
      ? element("span", { class: `icon mark ${job.status}`, "aria-hidden": "true" },
        job.status === "succeeded" ? "✓" : job.status === "failed" ? "!" : "–")
      : element("span", { class: "icon spinner", "aria-hidden": "true" });
    item.append(icon, element("p", { class: "title" }, title));
    const dismiss = element("button", { type: "button", class: "dismiss", "aria-label": `${texts.dismiss}: ${title}` }, "×");
    dismiss.addEventListener("click", (event) => {
      event.stopPropagation();
      this._dismiss(job.id);
    });
    item.append(dismiss);
    let status = job.cancel_requested && !finished ? texts.cancelRequested : texts[job.status] || job.status;
    if (!finished && job.progress && job.progress.message) status = `${status}: ${job.progress.message}`;
    if (!finished && job.attempts > 1) status = `${status} (${fill(texts.attempt, { n: job.attempts })})`;
    if (finished && job.started_at && job.completed_at) {
      const took = new Date(job.completed_at) - new Date(job.started_at);
      status = `${status}, ${fill(texts.took, { duration: this._duration(took) })}`;
    }
    item.append(element("p", { class: `status ${job.status}` }, status));
    const waiting = !finished && job.status === "queued" ? job.waiting : null;
    if (waiting && typeof waiting.limit === "string") {
      const said = fill(waiting.key ? texts.waitingKey : texts.waiting, {
        limit: waiting.limit, key: String(waiting.key ?? "").slice(0, 80), reason: String(waiting.reason ?? "").slice(0, 200),
      });
      item.append(element("p", { class: "detail waiting", "data-waiting": waiting.limit }, said));
    }
    if (!finished) {
      const percent = job.progress && Number.isFinite(job.progress.percent) ? job.progress.percent : null;
      if (percent !== null) {
        const bar = element("div", {
          class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
          "aria-valuenow": String(Math.round(percent)), "aria-label": title,
        });
        const fillBar = element("span");
        fillBar.style.width = `${Math.max(0, Math.min(100, percent))}%`;
        bar.append(fillBar);
        item.append(bar);
      }
      const since = job.started_at || job.created_at;
      if (since) {
        const elapsed = element("p", { class: "detail", "data-since": since });
        elapsed.textContent = fill(texts.elapsed, { duration: this._duration(Date.now() - new Date(since)) });
        item.append(elapsed);
      }
    } else if (job.status === "succeeded") {
      const link = this._link(job);
      if (link) {
        const expired = link.expires && link.expires.getTime() <= Date.now();
        const detail = element("p", { class: "detail" });
        if (expired) detail.textContent = texts.expired;
        else {
          const anchor = element("a", { href: link.url, download: link.name || "" }, link.name || texts.download);
          anchor.setAttribute("rel", "noopener");
          detail.append(anchor);
          if (link.expires) detail.append(` · ${fill(texts.expires, { when: this._relative(link.expires) })}`);
        }
        item.append(detail);
      } else if (typeof job.result === "string" || typeof job.result === "number") {
        item.append(element("p", { class: "detail" }, String(job.result).slice(0, 300)));
      }
    } else if (job.status === "failed" && job.error && job.error.message) {
      item.append(element("p", { class: "detail" }, String(job.error.message).slice(0, 500)));
    }
    return item;
  }
}

if (!customElements.get("queued-jobs-bell")) customElements.define("queued-jobs-bell", QueuedJobsBell);
