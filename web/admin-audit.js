// The admin console's Audit log section: what admins did, newest first, filtered by actor,
// action and time, a page at a time (the next page by the previous page's cursor).
import { $, alertIn, onSubmit, table, when, whileBusy } from "./admin-view.js";

const brief = (value) => (value === null || value === undefined ? "" : JSON.stringify(value));

export function auditSection(api) {
  const ui = {
    form: $("audit-filter"),
    actor: $("audit-actor"),
    action: $("audit-action"),
    from: $("audit-from"),
    to: $("audit-to"),
    error: $("audit-error"),
    entries: $("audit-entries"),
    more: $("audit-more"),
  };
  let filters = {};
  let cursor = null;

  function isoOf(input) {
    if (!input.value) return undefined;
    return new Date(input.value).toISOString(); // datetime-local: this browser's time zone
  }

  async function page(append) {
    const answer = await api.request("GET", "audit", {
      query: { ...filters, cursor: append ? cursor : undefined, limit: 50 },
    });
    if (!answer.ok) return alertIn(ui.error, answer.message);
    const rows = answer.body.entries.map((e) => [
      when(e.at),
      e.actor.username || e.actor.sub,
      e.action,
      e.target,
      brief(e.before),
      brief(e.after),
    ]);
    const found = table(["When", "Who", "Action", "Target", "Before", "After"], rows, {
      testId: "audit-table",
    });
    if (append && ui.entries.querySelector("tbody")) {
      ui.entries.querySelector("tbody").append(...found.tBodies[0].rows);
    } else {
      ui.entries.replaceChildren(found);
      if (!rows.length) ui.entries.replaceChildren(document.createTextNode("No entries."));
    }
    cursor = answer.body.next_cursor;
    ui.more.hidden = !cursor;
  }

  onSubmit(ui.form, () =>
    whileBusy(ui.form, ui.error, async () => {
      filters = {
        actor: ui.actor.value.trim(),
        action: ui.action.value.trim(),
        from: isoOf(ui.from),
        to: isoOf(ui.to),
      };
      await page(false);
    }),
  );
  ui.more.addEventListener("click", () => whileBusy(ui.form, ui.error, () => page(true)));
}
