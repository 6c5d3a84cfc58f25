// Building elements from data: text always goes in as text (textContent), never as markup.

/**
 * h("a", {href: "#/", class: "x"}, "text", child) → an element. Attributes whose value is
 * null, undefined or false are left out; `true` sets an empty attribute; keys starting with
 * "on" add event listeners; `dataset` and `aria` objects set data- and aria- attributes.
 */
export function h(tag, attributes = {}, ...children) {
  const element = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "aria") {
      for (const [key, item] of Object.entries(value)) {
        if (item !== null && item !== undefined) element.setAttribute(`aria-${key}`, String(item));
      }
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/** SVG elements: svg("rect", {x: 1}) */
export function svg(tag, attributes = {}, ...children) {
  return h(`svg:${tag}`, attributes, ...children);
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `element` with `children`. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

let unique = 0;
/** An id no other element of the page has. */
export function uid(prefix = "qj") {
  unique += 1;
  return `${prefix}-${unique}`;
}

/** A table in a scrolling region that keyboards can reach, with a caption. */
export function table({ caption, columns, rows, className = "" }) {
  const captionId = uid("caption");
  const head = h("thead", {}, h("tr", {}, columns.map((column) =>
    h("th", { scope: "col", class: column.className }, column.label))));
  const body = h("tbody", {}, rows);
  const element = h("table", { class: `data ${className}`.trim() },
    h("caption", { id: captionId, class: caption.hidden ? "visually-hidden" : null }, caption.text),
    head, body);
  const region = h("div", {
    class: "table-scroll", role: "region", tabindex: "0", "aria-labelledby": captionId,
  }, element);
  return { region, table: element, body };
}

/** A definition list from [term, description] pairs (descriptions may be nodes). */
export function details(pairs) {
  return h("dl", { class: "facts" }, pairs
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([term, value]) => h("div", { class: "fact" }, h("dt", {}, term), h("dd", {}, value))));
}
