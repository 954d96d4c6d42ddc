// The admin console's Opt-outs section: is a number opted out (since when, why), opt one out
// with a reason, take one off the list. Numbers come back masked.
import { $, alertIn, facts, onSubmit, when, whileBusy } from "./admin-view.js";

export function optOutsSection(api) {
  const ui = {
    form: $("opt-out-form"),
    phone: $("opt-out-phone"),
    reason: $("opt-out-reason"),
    add: $("opt-out-add"),
    remove: $("opt-out-remove"),
    error: $("opt-out-error"),
    result: $("opt-out-result"),
  };

  function show(entry, done) {
    ui.result.replaceChildren(
      facts(
        [
          ["Number", entry.to],
          ["Opted out", entry.opted_out ? "yes" : "no"],
          ["Since", entry.opted_out ? when(entry.opted_out_at) : null],
          ["Source", entry.source],
        ],
        "opt-out-facts",
      ),
    );
    ui.result.dataset.optedOut = String(entry.opted_out);
    if (done) ui.result.prepend(Object.assign(document.createElement("p"), { textContent: done }));
  }

  function phone() {
    const value = ui.phone.value.trim();
    if (!/^\+[1-9]\d{6,14}$/.test(value)) {
      alertIn(ui.error, "Enter an E.164 number, e.g. +821012345678.");
      ui.phone.setAttribute("aria-invalid", "true");
      return null;
    }
    ui.phone.removeAttribute("aria-invalid");
    return value;
  }

  // Search: the form's submit. Every request carries the number in its body, never in a URL
  // (CloudFront's and WAF's logs keep URLs).
  onSubmit(ui.form, () =>
    whileBusy(ui.form, ui.error, async () => {
      const number = phone();
      if (!number) return;
      const answer = await api.request("POST", "opt-outs/search", { json: { phone: number } });
      if (!answer.ok) return alertIn(ui.error, answer.message);
      show(answer.body);
    }),
  );

  ui.add.addEventListener("click", () =>
    whileBusy(ui.form, ui.error, async () => {
      const number = phone();
      if (!number) return;
      const reason = ui.reason.value.trim();
      if (!reason) {
        ui.reason.setAttribute("aria-invalid", "true");
        return alertIn(ui.error, "Say why the number is opted out.");
      }
      ui.reason.removeAttribute("aria-invalid");
      const answer = await api.request("POST", "opt-outs", { json: { phone: number, reason } });
      if (!answer.ok) return alertIn(ui.error, answer.message);
      show(answer.body, "Opted out.");
    }),
  );

  ui.remove.addEventListener("click", () =>
    whileBusy(ui.form, ui.error, async () => {
      const number = phone();
      if (!number) return;
      const answer = await api.request("POST", "opt-outs/remove", { json: { phone: number } });
      if (!answer.ok) return alertIn(ui.error, answer.message);
      show(answer.body, "Taken off the opt-out list.");
    }),
  );
}
