// The page's places live in the URL's hash: "#/", "#/jobs?status=failed&owner=ada",
// "#/jobs/<id>", "#/schedules", "#/schedules/<id>", "#/sequences", "#/sequences/<id>",
// "#/dead-letters". Each place is a view: render(root, context) → cleanup.

/** The place a hash names: {path, params} ("#/jobs?status=a&status=b" → "/jobs", URLSearchParams). */
export function parse(hash = location.hash) {
  const text = hash.replace(/^#/, "") || "/";
  const [path, query = ""] = text.split("?", 2);
  return { path: path || "/", params: new URLSearchParams(query) };
}

/** The hash of a place: place("/jobs", {status: ["failed"], owner: ""}) → "#/jobs?status=failed". */
export function place(path, params = {}) {
  const query = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? [...params] : Object.entries(params);
  for (const [name, value] of entries) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined && item !== "") query.append(name, String(item));
    }
  }
  // Colons and commas may stand as they are in a fragment: times read as times.
  const text = query.toString().replace(/%3A/gi, ":").replace(/%2C/gi, ",");
  return `#${path}${text ? `?${text}` : ""}`;
}

export class Router {
  /** routes: [[pattern (RegExp on the path), view (match, params) => {title, render}]] */
  constructor(routes, fallback) {
    this.routes = routes;
    this.fallback = fallback;
    this.cleanup = null;
    this.current = null;
    this.listeners = new Set();
  }

  start() {
    window.addEventListener("hashchange", () => this.show());
    this.show();
  }

  /** `listener(path)` after each change of place (to mark the current link). */
  onChange(listener) {
    this.listeners.add(listener);
  }

  go(hash) {
    if (location.hash === hash) this.show();
    else location.hash = hash;
  }

  /** Show the place again (a new render of the same view). */
  refresh() {
    this.show();
  }

  show() {
    if (location.hash && !location.hash.startsWith("#/")) return; // an in-page link (#main)
    const { path, params } = parse();
    let chosen = null;
    for (const [pattern, view] of this.routes) {
      const match = pattern.exec(path);
      if (match) {
        chosen = { view, match };
        break;
      }
    }
    if (this.cleanup) {
      try {
        this.cleanup();
      } catch (error) {
        console.error("leaving a view failed", error);
      }
    }
    this.cleanup = null;
    const { view, match } = chosen ?? { view: this.fallback, match: [path] };
    this.current = { path, params };
    for (const listener of this.listeners) listener(path, params);
    this.cleanup = view(match, params) ?? null;
  }
}
