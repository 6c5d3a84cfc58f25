// How numbers, times and durations read on the page.

const numbers = new Intl.NumberFormat(undefined);
const percents = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dayAndTime = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function count(value, more = false) {
  return more ? `${numbers.format(value)}+` : numbers.format(value);
}

export function percent(fraction) {
  return fraction === null || fraction === undefined ? "–" : percents.format(fraction);
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** A moment, short: the time of day if it is today, else the day and time. */
export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return sameDay(date, new Date()) ? timeOfDay.format(date) : dayAndTime.format(date);
}

/** A moment in full (for titles and detail pages). */
export function moment(iso) {
  return iso ? full.format(new Date(iso)) : "–";
}

/** A <time> element showing `iso` short, with its full form on hover. */
export function timeElement(iso, document = globalThis.document) {
  if (!iso) return document.createTextNode("–");
  const element = document.createElement("time");
  element.dateTime = iso;
  element.title = moment(iso);
  element.textContent = when(iso);
  return element;
}

/** Seconds as "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min", "3 d 4 h". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  if (seconds < 1) return `${Math.max(0, Math.round(seconds * 1000))} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, "0")} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** How long a job ran (or has run so far), from its view. */
export function jobDuration(job, now = Date.now()) {
  if (!job.started_at) return null;
  const end = job.completed_at ? Date.parse(job.completed_at) : job.status === "running" ? now : null;
  return end === null ? null : (end - Date.parse(job.started_at)) / 1000;
}

/** JSON for people: indented, or "–" for nothing. */
export function json(value) {
  return value === null || value === undefined ? "–" : JSON.stringify(value, null, 2);
}

/** "3 jobs", "1 job". */
export function plural(n, one, many = `${one}s`) {
  return `${numbers.format(n)} ${n === 1 ? one : many}`;
}

/** An ISO instant as the value of a datetime-local input (the viewer's local time). */
export function toLocalInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A datetime-local input's value (local time) as an ISO instant in UTC. */
export function fromLocalInput(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString().replace(".000Z", "Z");
}
