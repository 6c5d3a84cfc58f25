// Calls to the web API of the server that served the page, as the signed-in caller.

const root = document.documentElement.dataset.base ?? "";

/** An answer that was not a success, with the server's own words for why. */
export class ApiError extends Error {
  constructor(status, code, message, fields = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
  }

  /** The route is not on this server (an older version): not a failure of the call. */
  get notAvailable() {
    return this.status === 404 && (this.code === "not_found" || this.code === "not_configured");
  }
}

/** The API's address of `path` with `query` (arrays repeat the parameter; empty values are left out). */
export function url(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined && item !== "") params.append(name, String(item));
    }
  }
  const text = params.toString();
  return `${root}${path}${text ? `?${text}` : ""}`;
}

function explain(status, body) {
  if (body && typeof body.message === "string") {
    const fields = Array.isArray(body.fields) && body.fields.length
      ? ` (${body.fields.map((f) => `${f.field}: ${f.message}`).join("; ")})`
      : "";
    return `${body.message}${fields}`;
  }
  if (status === 401) return "You are signed out: reload the page to sign in again.";
  if (status === 403) return "Your roles do not allow this.";
  if (status >= 500) return `The server failed (${status}); try again in a moment.`;
  return `The server answered ${status}.`;
}

/**
 * Call the API: `api("/jobs", {query: {status: ["failed"]}})`, `api(path, {method: "POST", body})`.
 * Resolves to the answer's JSON (null for an empty one); rejects with an ApiError whose
 * message can be shown as it is. `signal` aborts the call (an AbortError, not an ApiError).
 */
export async function api(path, { method = "GET", query = {}, body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "unreachable", "The server could not be reached; check the connection and try again.");
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    throw new ApiError(response.status, parsed?.code ?? `http_${response.status}`, explain(response.status, parsed), parsed?.fields ?? null);
  }
  return parsed;
}

/** What optional() resolves to for a route this server does not have. */
export const MISSING = Symbol("not available on this server");

/** Like api(), but a route this server lacks resolves to MISSING instead of failing. */
export async function optional(path, options = {}) {
  try {
    return await api(path, options);
  } catch (error) {
    if (error instanceof ApiError && error.notAvailable) return MISSING;
    throw error;
  }
}

export function isAbort(error) {
  return error?.name === "AbortError";
}
