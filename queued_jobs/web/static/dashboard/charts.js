// Small SVG charts drawn at the width they are shown at, each with a title and
// description for screen readers and the same numbers as a table beside it.

import { h, svg, table, uid } from "./dom.js";

const HEIGHT = 180;
const MARGIN = { top: 10, right: 12, bottom: 26, left: 44 };
const LABEL_SPACE = 64;

/** Round steps for an axis up to `value`: {top, step} with 2 to 5 steps of 1, 2 or 5 × 10^n. */
function scale(value, whole = false) {
  const most = value > 0 ? value : 1;
  const rough = most / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  let step = [1, 2, 5, 10].map((n) => n * power).find((n) => n >= rough) ?? 10 * power;
  if (whole) step = Math.max(1, Math.round(step));
  return { top: step * Math.ceil(most / step), step };
}

function frame(width, axis, format, titleId, descId, title, description) {
  const max = axis.top;
  const plotWidth = Math.max(40, width - MARGIN.left - MARGIN.right);
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const root = svg("svg", {
    width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`,
    role: "img", "aria-labelledby": `${titleId} ${descId}`, class: "chart-svg",
  }, svg("title", { id: titleId }, title), svg("desc", { id: descId }, description));
  const y = (value) => MARGIN.top + plotHeight - (value / max) * plotHeight;
  for (let i = 0; i * axis.step <= max + axis.step / 1000; i += 1) {
    const value = i * axis.step;
    root.append(
      svg("line", { class: "chart-grid", x1: MARGIN.left, x2: MARGIN.left + plotWidth, y1: y(value), y2: y(value) }),
      svg("text", { class: "chart-tick", x: MARGIN.left - 6, y: y(value) + 4, "text-anchor": "end" }, format(value)),
    );
  }
  return { root, plotWidth, plotHeight, y };
}

function xLabels(root, labels, plotWidth, center) {
  const every = Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor(plotWidth / LABEL_SPACE))));
  labels.forEach((item, index) => {
    if (index % every !== 0) return;
    root.append(svg("text", {
      class: "chart-tick", x: center(index), y: HEIGHT - 8, "text-anchor": "middle",
    }, item.short));
  });
}

function dataTable(caption, labels, series, format) {
  const rows = labels.map((item, index) => h("tr", {},
    h("th", { scope: "row" }, item.long),
    series.map((one) => h("td", { class: "num" }, one.values[index] === null ? "–" : format(one.values[index])))));
  const { region } = table({
    caption: { text: caption, hidden: true },
    columns: [{ label: "Time" }, ...series.map((one) => ({ label: one.name, className: "num" }))],
    rows,
  });
  return h("details", { class: "chart-table" }, h("summary", {}, "Show the numbers as a table"), region);
}

function legend(series) {
  return h("ul", { class: "chart-legend" }, series.map((one) =>
    h("li", {}, h("span", { class: `chart-swatch ${one.className}`, "aria-hidden": "true" }), one.name)));
}

/** Redraw `draw(width)` into `holder` whenever its width changes. */
function responsive(holder, draw) {
  let drawn = 0;
  const redraw = () => {
    const width = Math.floor(holder.clientWidth) || 600;
    if (Math.abs(width - drawn) < 4) return;
    drawn = width;
    holder.replaceChildren(draw(width));
  };
  new ResizeObserver(redraw).observe(holder);
  requestAnimationFrame(redraw);
  holder.append(draw(600));
}

/**
 * Stacked bars: labels [{short, long}], series [{name, className, values: [number]}].
 * Returns a <figure> with the chart, its legend and its table.
 */
export function stackedBars({ title, description, labels, series, format = String }) {
  const totals = labels.map((_, index) => series.reduce((sum, one) => sum + (one.values[index] ?? 0), 0));
  const axis = scale(Math.max(1, ...totals), true);
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  const holder = h("div", { class: "chart-holder" });
  responsive(holder, (width) => {
    const { root, plotWidth, y } = frame(width, axis, (v) => format(Math.round(v)), titleId, descId, title, description);
    const step = plotWidth / Math.max(1, labels.length);
    const barWidth = Math.max(1, step * 0.72);
    const left = (index) => MARGIN.left + index * step + (step - barWidth) / 2;
    labels.forEach((item, index) => {
      let base = 0;
      const parts = [];
      for (const one of series) {
        const value = one.values[index] ?? 0;
        if (value <= 0) continue;
        parts.push(svg("rect", {
          class: `chart-bar ${one.className}`, x: left(index), width: barWidth,
          y: y(base + value), height: Math.max(0.5, y(base) - y(base + value)),
        }));
        base += value;
      }
      const words = series.map((one) => `${format(one.values[index] ?? 0)} ${one.name.toLowerCase()}`).join(", ");
      root.append(svg("g", {}, svg("title", {}, `${item.long}: ${words}`), parts));
    });
    xLabels(root, labels, plotWidth, (index) => left(index) + barWidth / 2);
    return root;
  });
  return h("figure", { class: "chart" },
    h("figcaption", { class: "chart-caption" }, title), holder, legend(series), dataTable(title, labels, series, format));
}

/** A line through the values (null: no value, a gap), 0 at the bottom. */
export function line({ title, description, labels, series, format = String, least = 0 }) {
  const values = series.flatMap((one) => one.values).filter((v) => v !== null);
  const axis = scale(Math.min(1, Math.max(least, ...values, 0)) || 1);
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  const holder = h("div", { class: "chart-holder" });
  responsive(holder, (width) => {
    const { root, plotWidth, y } = frame(width, axis, format, titleId, descId, title, description);
    const step = plotWidth / Math.max(1, labels.length);
    const x = (index) => MARGIN.left + index * step + step / 2;
    for (const one of series) {
      let path = "";
      let drawing = false;
      one.values.forEach((value, index) => {
        if (value === null) {
          drawing = false;
          return;
        }
        path += `${drawing ? "L" : "M"}${x(index).toFixed(1)},${y(value).toFixed(1)}`;
        drawing = true;
      });
      if (path) root.append(svg("path", { class: `chart-line ${one.className}`, d: path }));
      one.values.forEach((value, index) => {
        if (value === null) return;
        root.append(svg("circle", { class: `chart-point ${one.className}`, cx: x(index), cy: y(value), r: 2.5 },
          svg("title", {}, `${labels[index].long}: ${format(value)}`)));
      });
    }
    xLabels(root, labels, plotWidth, x);
    return root;
  });
  return h("figure", { class: "chart" },
    h("figcaption", { class: "chart-caption" }, title), holder, legend(series), dataTable(title, labels, series, format));
}
