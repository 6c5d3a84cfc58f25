// The live feed: one EventSource on the API's /events for the whole page, fanned out to
// whichever view listens. The browser reconnects by itself and resumes with Last-Event-ID;
// when it gives up (the server answered with an error), we open a new one after a pause,
// resuming from the last event seen.

import { url } from "./api.js";

const RETRY_FIRST_MS = 1000;
const RETRY_MOST_MS = 15000;
// A stream the server ends on purpose (hosts that answer in windows) is back within
// this long: only a longer break is shown as lost.
const LOST_AFTER_MS = 1500;

export class LiveFeed {
  constructor(path = "/events") {
    this.path = path;
    this.source = null;
    this.lastEventId = null;
    this.listeners = new Set();
    this.stateListeners = new Set();
    this.state = "connecting";
    this.retryMs = RETRY_FIRST_MS;
    this.timer = null;
    this.lostTimer = null;
    this.opened = false;
  }

  /** Start listening (once). */
  start() {
    if (!this.source && !this.timer) this.open();
    return this;
  }

  /**
   * `listener({type: "job", job})`, `listener({type: "sequence", sequence})` or
   * `listener({type: "reset"})`; returns the way to stop.
   */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `listener(state)` for "connecting", "live", "reconnecting"; called at once too. */
  watch(listener) {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  open() {
    this.timer = null;
    const query = this.lastEventId ? { resume_from: this.lastEventId } : {};
    const source = new EventSource(url(this.path, query), { withCredentials: true });
    this.source = source;
    source.addEventListener("open", () => {
      this.retryMs = RETRY_FIRST_MS;
      clearTimeout(this.lostTimer);
      this.lostTimer = null;
      this.setState("live");
      // Back after a break without a place to resume from (no event came before it):
      // what changed meanwhile is not in the stream, so the views read their data again.
      if (this.opened && !this.lastEventId) this.emit({ type: "reset" });
      this.opened = true;
    });
    // A job's change is {type: "job", job}; a sequence's {type: "sequence", sequence}.
    for (const kind of ["job", "sequence"]) {
      source.addEventListener(kind, (message) => {
        if (message.lastEventId) this.lastEventId = message.lastEventId;
        let change;
        try {
          change = JSON.parse(message.data);
        } catch {
          return;
        }
        this.emit({ type: kind, [kind]: change });
      });
    }
    source.addEventListener("reset", () => this.emit({ type: "reset" }));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser will not try again (an error answer): we do, a little later each time.
        source.close();
        this.source = null;
        this.timer = setTimeout(() => this.open(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MOST_MS);
      }
      this.lost();
    });
  }

  /** Say the stream is lost unless it is back soon. */
  lost() {
    if (this.lostTimer) return;
    this.lostTimer = setTimeout(() => {
      this.lostTimer = null;
      const open = this.source && this.source.readyState === EventSource.OPEN;
      if (!open) this.setState("reconnecting");
    }, LOST_AFTER_MS);
  }

  emit(event) {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        console.error("a live update failed to show", error);
      }
    }
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }
}
