// Messages no worker could settle: poison messages (the host gave up on them) and dead
// letters (bodies that name no job of this store), per priority band, each with its body;
// operators may send one back to its queue or delete it.

import { api, MISSING, optional } from "../api.js";
import { fill, h, table, uid } from "../dom.js";
import { count, plural, timeElement } from "../format.js";
import { place } from "../router.js";
import { actionButton } from "../ui.js";
import { heading, notAvailable, section, showFailure } from "./common.js";

const BANDS = [["", "Every band"], ["high", "High"], ["normal", "Normal"], ["low", "Low"]];
const SIDES = [["", "Both"], ["deadletter", "Dead letters"], ["poison", "Poison messages"]];
const SIDE_NAMES = { poison: "Poison", deadletter: "Dead letter" };
const SIDE_PLURALS = { poison: "poison messages", deadletter: "dead letters" };
const BAND_NAMES = { high: "High", normal: "Normal", low: "Low" };
const LIMIT = 100;

function choice(name, text, options, value) {
  const id = uid(name);
  return h("div", { class: "field" }, h("label", { for: id }, text),
    h("select", { id, name }, options.map(([v, t]) => h("option", { value: v, selected: v === value }, t))));
}

function messagePath(item) {
  return `/dead-letters/${encodeURIComponent(item.band)}/${encodeURIComponent(item.side)}/${encodeURIComponent(item.id)}`;
}

export function deadLettersView(context, params) {
  const { main, router, notify, confirm } = context;
  const abort = new AbortController();
  const signal = abort.signal;
  const band = params.get("band") ?? "";
  const side = params.get("side") ?? "";

  const title = heading("Dead letters and poison messages");
  const form = h("form", { class: "filters inline", "aria-label": "Which messages" },
    h("div", { class: "fields" }, choice("band", "Band", BANDS, band), choice("side", "Kind", SIDES, side)),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button primary" }, "Show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    router.go(place("/dead-letters", { band: data.get("band"), side: data.get("side") }));
  });
  const held = section("Queues");
  const summary = held.body;
  const messages = section("Oldest messages");
  fill(main, title, h("p", { class: "lead" },
    "A dead letter is a message a host gave up on (a body that names no job of this store, or one it could not settle); a poison message is one the Functions host moved aside after too many deliveries. Requeueing sends the body back to its band's queue as it is."),
  form, held.element, messages.element);
  context.titled("Dead letters", title);

  function showCounts(counts) {
    const rows = (counts ?? []).map((entry) => h("tr", {},
      h("th", { scope: "row" }, BAND_NAMES[entry.band] ?? entry.band),
      h("td", {}, SIDE_PLURALS[entry.side] ?? entry.side),
      h("td", { class: "mono" }, entry.queue),
      h("td", { class: "num" }, entry.messages === null ? h("span", { class: "muted" }, "no answer") : count(entry.messages))));
    fill(summary, rows.length ? table({
      caption: { text: "Messages held per queue (about)", hidden: false },
      columns: [{ label: "Band" }, { label: "Kind" }, { label: "Queue" }, { label: "Messages", className: "num" }],
      rows,
    }).region : null);
  }

  function row(item, me) {
    const actions = me.acts_on_all ? h("td", { class: "cell-actions" },
      actionButton("Requeue", async () => {
        try {
          await api(`${messagePath(item)}:requeue`, { method: "POST" });
          notify("The message is back on its queue.", "success");
          load();
        } catch (error) {
          notify(`Requeue failed: ${error.message}`, "error");
        }
      }, { className: "button small", label: `Requeue message ${item.id}` }),
      actionButton("Delete", async () => {
        const sure = await confirm({
          title: "Delete this message?", text: "Its body will be gone for good.", action: "Delete the message", danger: true,
        });
        if (!sure) return;
        try {
          await api(messagePath(item), { method: "DELETE" });
          notify("The message was deleted.", "success");
          load();
        } catch (error) {
          notify(`Delete failed: ${error.message}`, "error");
        }
      }, { className: "button small danger-outline", label: `Delete message ${item.id}` })) : null;
    const body = h("details", { class: "message-body" },
      h("summary", {}, `${count(item.size ?? String(item.body ?? "").length)} bytes${item.truncated ? " (the first 4 KiB shown)" : ""}`),
      h("pre", { class: "code", tabindex: "0", "aria-label": `Body of message ${item.id}` }, String(item.body ?? "")));
    return h("tr", {},
      h("th", { scope: "row", class: "mono" }, item.id),
      h("td", {}, SIDE_NAMES[item.side] ?? item.side),
      h("td", { class: "mono" }, item.queue),
      h("td", {}, item.inserted_at ? timeElement(item.inserted_at) : "–"),
      h("td", { class: "num" }, item.dequeue_count ?? "–"),
      h("td", {}, item.job_id ? h("a", { class: "mono", href: `#/jobs/${encodeURIComponent(item.job_id)}` }, item.job_id) : "–"),
      h("td", { class: "cell-body" }, body),
      actions);
  }

  async function load() {
    try {
      const [answer, me] = await Promise.all([
        optional("/dead-letters", { query: { band, side, limit: LIMIT }, signal }),
        context.me.catch(() => ({ acts_on_all: false })),
      ]);
      if (answer === MISSING) {
        fill(summary, notAvailable("The list of dead letters"));
        held.element.hidden = false;
        messages.element.hidden = true;
        return;
      }
      showCounts(answer.counts);
      const items = answer.items ?? [];
      if (!items.length) {
        fill(messages.body, h("p", { class: "empty" }, "No message is waiting here."));
        return;
      }
      const columns = [{ label: "Message" }, { label: "Kind" }, { label: "Queue" }, { label: "Arrived" },
        { label: "Tries", className: "num" }, { label: "Job" }, { label: "Body" }];
      if (me.acts_on_all) columns.push({ label: "Actions" });
      fill(messages.body, table({
        caption: { text: `${plural(items.length, "message")} shown`, hidden: false },
        columns,
        rows: items.map((item) => row(item, me)),
      }).region);
    } catch (error) {
      showFailure(messages.body, error, "the messages");
    }
  }

  load();
  return () => abort.abort();
}
