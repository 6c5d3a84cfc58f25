// What a job printed, on its page: read once from /jobs/{id}/output, then grown live from
// the `output` of its events; hidden while the job has printed nothing. Always text
// (textContent), never markup: a program's output is whatever it printed.

import { isAbort, MISSING, optional } from "../api.js";
import { count } from "../format.js";
import { fill, h } from "../dom.js";
import { failure } from "./common.js";

// The most characters the page keeps of a job's output (the end of it).
const MOST_SHOWN = 200_000;
// How close to the bottom a reader counts as following the output (it then stays there).
const FOLLOWING_PX = 24;

function marker(characters) {
  return `[… ${count(characters)} character${characters === 1 ? "" : "s"} not kept …]\n`;
}

/**
 * The output of job `path` (`/jobs/{id}`) in the `section` (element and body) it shows in:
 * `load()` reads what the page lacks, `heard(change)` adds what a job event says was
 * printed (reading again when it skips some).
 */
export class OutputPanel {
  constructor({ element, body }, path, signal) {
    this.element = element;
    this.body = body;
    this.path = path;
    this.signal = signal;
    this.text = "";
    this.length = 0; // characters of the job's output the page has seen
    this.gone = 0; // characters before `text` that the page no longer holds
    this.pre = h("pre", { class: "code output", tabindex: "0", "aria-label": "Output" });
    this.loading = null;
    this.missing = false;
  }

  /** Read the output after what the page has (all of it, the first time); never fails. */
  load() {
    if (this.missing) return Promise.resolve();
    if (!this.loading) {
      this.loading = optional(`${this.path}/output`, { query: { after: this.length }, signal: this.signal })
        .then((read) => {
          if (read === MISSING) { // a server from before output was kept
            this.missing = true;
            this.element.hidden = true;
            return;
          }
          this.add(read.text, read.length);
        })
        .catch((error) => {
          if (isAbort(error)) return;
          this.element.hidden = false;
          fill(this.body, failure(error, "the output"));
        })
        .finally(() => {
          this.loading = null;
        });
    }
    return this.loading;
  }

  /** A job event: its `output` ends at `output_length` characters of the job's output. */
  heard(change) {
    if (typeof change.output !== "string" || !Number.isInteger(change.output_length)) return;
    if (change.output_length - change.output.length > this.length) {
      this.load(); // the page missed some: read what follows what it has
      return;
    }
    this.add(change.output, change.output_length);
  }

  /** `text`, which ends at `end` characters of the job's output: what the page lacks of it. */
  add(text, end) {
    if (end <= this.length) {
      this.show();
      return;
    }
    const following = this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < FOLLOWING_PX;
    const gap = end - text.length - this.length; // before `text`, not held by the record
    if (gap > 0) {
      const lineStart = !this.text || this.text.endsWith("\n");
      this.text += `${lineStart ? "" : "\n"}${marker(gap)}`;
    }
    this.text += gap >= 0 ? text : text.slice(-gap);
    this.length = end;
    if (this.text.length > MOST_SHOWN) {
      this.gone += this.text.length - MOST_SHOWN;
      this.text = this.text.slice(-MOST_SHOWN);
    }
    this.show();
    if (following) this.pre.scrollTop = this.pre.scrollHeight;
  }

  show() {
    this.element.hidden = this.missing || !this.length;
    if (this.element.hidden) return;
    this.pre.textContent = (this.gone ? marker(this.gone) : "") + this.text;
    if (this.pre.parentNode !== this.body) fill(this.body, this.pre);
  }
}
