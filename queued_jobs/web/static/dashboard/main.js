// The operators' dashboard: a shell (navigation, the live feed's state, who is signed
// in) around one view at a time, chosen by the URL's hash.

import { api } from "./api.js";
import { h, fill } from "./dom.js";
import { LiveFeed } from "./live.js";
import { Router } from "./router.js";
import { confirmAction, notify } from "./ui.js";
import { deadLettersView } from "./views/dead_letters.js";
import { jobView } from "./views/job.js";
import { jobsView } from "./views/jobs.js";
import { limitsView } from "./views/limits.js";
import { overviewView } from "./views/overview.js";
import { scheduleView, schedulesView } from "./views/schedules.js";
import { sequenceView, sequencesView } from "./views/sequences.js";

const main = document.getElementById("main");

function showCaller(me) {
  const role = me.acts_on_all ? "operator" : "reader";
  fill(document.getElementById("caller"),
    h("span", { class: "visually-hidden" }, "Signed in as "), me.id,
    h("span", { class: `role role-${role}` }, role));
}

const CONNECTION = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Connection lost, reconnecting…",
};

function showConnection(live) {
  const element = document.getElementById("connection");
  live.watch((state) => {
    element.dataset.state = state;
    element.textContent = CONNECTION[state] ?? state;
  });
}

function navigation(router) {
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("nav");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
  router.onChange((path, params) => {
    toggle.setAttribute("aria-expanded", "false");
    nav.classList.remove("open");
    const statuses = params.getAll("status");
    const current = path === "/" ? "overview"
      : path === "/jobs" && statuses.length === 1 && statuses[0] === "failed" && [...params.keys()].length === 1 ? "failed"
        : path.startsWith("/jobs") ? "jobs"
          : path.startsWith("/schedules") ? "schedules"
            : path.startsWith("/sequences") ? "sequences"
            : path.startsWith("/limits") ? "limits"
            : path.startsWith("/dead-letters") ? "dead-letters" : null;
    for (const link of nav.querySelectorAll("a[data-nav]")) {
      if (link.dataset.nav === current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  });
  document.querySelector("[data-skip]").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
}

function notFound() {
  fill(main, h("h1", { tabindex: "-1" }, "Nothing here"),
    h("p", {}, "This address names no page of the dashboard. ", h("a", { href: "#/" }, "Go to the overview.")));
  document.title = "Not found · queued-jobs";
}

function start() {
  const live = new LiveFeed().start();
  showConnection(live);
  let shown = 0; // views shown so far: focus follows a change of view, not the first
  const context = {
    main,
    live,
    me: api("/me"),
    notify,
    confirm: confirmAction,
    router: null,
    /** Set the page's title; after a change of view, move the focus to its heading. */
    titled(title, heading) {
      document.title = `${title} · queued-jobs`;
      if (shown > 1 && heading) heading.focus();
    },
  };
  context.router = new Router([
    [/^\/$/, (_, params) => overviewView(context, params)],
    [/^\/jobs$/, (_, params) => jobsView(context, params)],
    [/^\/jobs\/([^/]+)$/, (match) => jobView(context, decodeURIComponent(match[1]))],
    [/^\/schedules$/, (_, params) => schedulesView(context, params)],
    [/^\/schedules\/([^/]+)$/, (match) => scheduleView(context, decodeURIComponent(match[1]))],
    [/^\/sequences$/, (_, params) => sequencesView(context, params)],
    [/^\/sequences\/([^/]+)$/, (match) => sequenceView(context, decodeURIComponent(match[1]))],
    [/^\/limits$/, () => limitsView(context)],
    [/^\/dead-letters$/, (_, params) => deadLettersView(context, params)],
  ], notFound);
  context.router.onChange(() => {
    shown += 1;
  });
  navigation(context.router);
  context.router.start();
  context.me.then(showCaller, (error) => notify(`Could not tell who you are: ${error.message}`, "error"));
}

start();
