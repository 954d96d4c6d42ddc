// What both stats views build their output from: elements, SVG nodes, numbers and tables.
export const SVG_NS = "http://www.w3.org/2000/svg";

const numberFormat = new Intl.NumberFormat();
const percentFormat = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

export const fmt = (value) =>
  typeof value === "number" && Number.isFinite(value) ? numberFormat.format(value) : "—";
export const percent = (value) =>
  typeof value === "number" && Number.isFinite(value) ? percentFormat.format(value) : "—";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

export function empty(text) {
  return el("p", "empty muted", text);
}

// A table whose first column heads each row; numbers in the columns from `numericFrom` on are
// formatted and right-aligned.
export function table(caption, headers, rows, { numericFrom = 1, captionHidden = true } = {}) {
  const t = el("table", "figures");
  if (caption) t.append(el("caption", captionHidden ? "visually-hidden" : "", caption));
  const head = el("thead");
  const headRow = el("tr");
  headers.forEach((header, index) => {
    const th = el("th", index >= numericFrom ? "num" : "", header);
    th.scope = "col";
    headRow.append(th);
  });
  head.append(headRow);
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    row.forEach((cell, index) => {
      if (index === 0) {
        const th = el("th", "", cell);
        th.scope = "row";
        tr.append(th);
      } else {
        tr.append(el("td", index >= numericFrom ? "num" : "", typeof cell === "number" ? fmt(cell) : cell));
      }
    });
    body.append(tr);
  }
  t.append(head, body);
  return t;
}
