// What every admin console section draws the same way: inline alerts, busy forms, tables.
// Everything is written with textContent; nothing from the API is parsed as HTML.

export const $ = (id) => document.getElementById(id);

// Shows a message in an element with role="alert" (an empty message hides it).
export function alertIn(element, message) {
  element.textContent = message || "";
  element.hidden = !message;
}

// Runs `work` with the form's buttons disabled and its alert cleared; the form is aria-busy.
export async function whileBusy(form, alert, work) {
  const buttons = [...form.querySelectorAll("button")];
  for (const button of buttons) button.disabled = true;
  form.setAttribute("aria-busy", "true");
  alertIn(alert, "");
  try {
    return await work();
  } finally {
    for (const button of buttons) button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

// Calls `handler(event)` on submit without reloading the page.
export function onSubmit(form, handler) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    handler(event);
  });
}

export function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text === null || text === undefined ? "" : String(text);
  return element;
}

// A table of `rows` (arrays of text or of Nodes) under `headers`, with an optional caption.
export function table(headers, rows, { caption, testId } = {}) {
  const element = document.createElement("table");
  element.className = "figures";
  if (testId) element.dataset.testid = testId;
  if (caption) element.append(cell("caption", caption));
  const head = element.createTHead().insertRow();
  for (const header of headers) {
    const th = cell("th", header);
    th.scope = "col";
    head.append(th);
  }
  const body = element.createTBody();
  for (const values of rows) {
    const row = body.insertRow();
    for (const value of values) {
      const td = document.createElement("td");
      if (value instanceof Node) td.append(value);
      else td.textContent = value === null || value === undefined ? "" : String(value);
      row.append(td);
    }
  }
  return element;
}

// Key-value pairs as a definition list.
export function facts(pairs, testId) {
  const list = document.createElement("dl");
  list.className = "facts";
  if (testId) list.dataset.testid = testId;
  for (const [name, value] of pairs) {
    list.append(cell("dt", name), cell("dd", value === null || value === undefined ? "—" : value));
  }
  return list;
}

// "2026-12-03T18:31:00+09:00"-style local time of an ISO instant, or "—".
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}
