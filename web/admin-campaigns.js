// The admin console's Campaigns section: create a draft (name + template), upload its audience
// CSV and show the per-row report, preview encoding/parts/cost, launch now or at a time, cancel,
// and follow the progress by polling the campaign every few seconds while it runs.
import { $, alertIn, facts, onSubmit, table, when, whileBusy } from "./admin-view.js";

const POLL_MS = 3000;
// Statuses a job no longer leaves by itself (SENT waits for a receipt only when one is expected).
const SETTLED = new Set(["SENT", "DELIVERED", "FAILED", "UNKNOWN"]);

export function campaignsSection(api) {
  const ui = {
    create: $("campaign-create"),
    name: $("campaign-name"),
    template: $("campaign-template"),
    createError: $("campaign-create-error"),
    list: $("campaign-list"),
    pick: $("campaign-pick"),
    listError: $("campaign-list-error"),
    current: $("campaign-current"),
    heading: $("campaign-heading"),
    details: $("campaign-details"),
    upload: $("campaign-upload"),
    file: $("campaign-file"),
    uploadError: $("campaign-upload-error"),
    report: $("campaign-report"),
    launch: $("campaign-launch"),
    launchAt: $("campaign-launch-at"),
    launchError: $("campaign-launch-error"),
    cancel: $("campaign-cancel"),
    progress: $("campaign-progress"),
  };
  let currentId = null;
  let timer = null;
  let cancellable = false; // the shown campaign may still be cancelled

  function stopPolling() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  async function refreshList(selected) {
    const result = await api.request("GET", "campaigns", { query: { limit: 50 } });
    if (!result.ok) {
      alertIn(ui.listError, result.message);
      return;
    }
    alertIn(ui.listError, "");
    ui.pick.replaceChildren(new Option("Choose a campaign…", ""));
    for (const c of result.body.campaigns) {
      ui.pick.append(new Option(`${c.name} (${c.state}, ${when(c.created_at)})`, c.id));
    }
    ui.pick.value = selected || currentId || "";
  }

  function showProgress(view) {
    const progress = view.progress;
    if (!progress) {
      ui.progress.replaceChildren(document.createTextNode("No jobs queued yet."));
      return false;
    }
    const items = Object.entries(progress.by_status).map(([status, count]) => {
      const item = document.createElement("li");
      item.textContent = `${status}: ${count}`;
      return item;
    });
    const list = document.createElement("ul");
    list.className = "counts";
    list.append(...items);
    ui.progress.replaceChildren(
      document.createTextNode(`${progress.jobs_queued} jobs queued.`),
      list,
    );
    const settled = Object.entries(progress.by_status)
      .filter(([status]) => SETTLED.has(status))
      .reduce((sum, [, count]) => sum + count, 0);
    return settled >= progress.jobs_queued;
  }

  function showCampaign(view) {
    const c = view.campaign;
    ui.heading.textContent = c.name;
    const rows = c.rows
      ? Object.entries(c.rows).map(([status, count]) => `${status} ${count}`).join(", ")
      : "no audience uploaded";
    ui.details.replaceChildren(
      facts(
        [
          ["State", c.state],
          ["Template", c.template],
          ["Variables", view.variables.join(", ") || "none"],
          ["Audience", rows],
          ["Encoding", view.encoding],
          ["Parts per message (most)", view.max_parts],
          ["Cost per message (est.)", `${view.cost_per_message} ${view.currency}`],
          ["Total parts", view.total_parts],
          ["Total cost (est.)", `${view.total_cost} ${view.currency}`],
          ["Sample", `${view.sample.encoding}, ${view.sample.characters} characters, ${view.sample.parts} part(s)`],
          ["Launch at", when(c.launch_at)],
          ["Launched", when(c.launched_at)],
          ["Cancelled", when(c.cancelled_at)],
        ],
        "campaign-facts",
      ),
    );
    ui.details.dataset.state = c.state;
    const done = showProgress(view);
    cancellable = ["draft", "scheduled", "launching"].includes(c.state);
    ui.cancel.disabled = !cancellable;
    return !["draft", "cancelled"].includes(c.state) && !(c.state === "launched" && done);
  }

  // Loads the campaign and, while it is scheduled or running, again every POLL_MS.
  async function load(id) {
    stopPolling();
    currentId = id;
    if (!id) {
      ui.current.hidden = true;
      return;
    }
    const result = await api.request("GET", `campaigns/${encodeURIComponent(id)}`);
    if (currentId !== id) return; // another campaign was chosen meanwhile
    if (!result.ok) {
      alertIn(ui.listError, result.message);
      return;
    }
    ui.current.hidden = false;
    if (showCampaign(result.body)) timer = setTimeout(() => load(id), POLL_MS);
  }

  onSubmit(ui.create, () =>
    whileBusy(ui.create, ui.createError, async () => {
      const result = await api.request("POST", "campaigns", {
        json: { name: ui.name.value.trim(), template: ui.template.value },
      });
      if (!result.ok) return alertIn(ui.createError, result.message);
      ui.create.reset();
      ui.report.replaceChildren();
      await refreshList(result.body.id);
      await load(result.body.id);
    }),
  );

  ui.pick.addEventListener("change", () => {
    ui.report.replaceChildren();
    load(ui.pick.value);
  });
  $("campaign-refresh").addEventListener("click", () => refreshList());

  onSubmit(ui.upload, () =>
    whileBusy(ui.upload, ui.uploadError, async () => {
      const file = ui.file.files[0];
      if (!file) return alertIn(ui.uploadError, "Choose a CSV file first.");
      const result = await api.request("PUT", `campaigns/${currentId}/audience`, {
        csv: await file.text(),
      });
      if (!result.ok) return alertIn(ui.uploadError, result.message);
      showReport(result.body);
      await load(currentId);
    }),
  );

  function showReport(report) {
    const counts = Object.entries(report.counts).map(([status, count]) => `${status}: ${count}`);
    const summary = document.createElement("p");
    summary.dataset.testid = "audience-counts";
    summary.textContent = `${report.rows} rows — ${counts.join(", ")}; ${report.parts_total} SMS parts.`;
    const parts = [summary];
    if (report.unused_columns.length) {
      const unused = document.createElement("p");
      unused.textContent = `Columns the template does not use: ${report.unused_columns.join(", ")}.`;
      parts.push(unused);
    }
    if (report.problems.length) {
      parts.push(
        table(
          ["Row", "Number", "Status", "Why"],
          report.problems.map((p) => [p.row, p.phone, p.status, p.message || p.code || ""]),
          { caption: "Rows that will not be sent", testId: "audience-problems" },
        ),
      );
    }
    if (report.problems_truncated) {
      const more = document.createElement("p");
      more.textContent = "More rows have problems than are listed.";
      parts.push(more);
    }
    ui.report.replaceChildren(...parts);
  }

  // whileBusy enables the launch form's buttons when it ends: the Cancel button then follows
  // the campaign's state again.
  const syncCancel = () => {
    ui.cancel.disabled = !cancellable;
  };

  onSubmit(ui.launch, () =>
    whileBusy(ui.launch, ui.launchError, async () => {
      let at = null;
      if (ui.launchAt.value) {
        const date = new Date(ui.launchAt.value); // datetime-local: this browser's time zone
        if (Number.isNaN(date.getTime())) return alertIn(ui.launchError, "The launch time is not a date.");
        at = date.toISOString();
      }
      const result = await api.request("POST", `campaigns/${currentId}/launch`, { json: { at } });
      if (!result.ok) return alertIn(ui.launchError, result.message);
      await load(currentId);
    }).then(syncCancel),
  );

  ui.cancel.addEventListener("click", () =>
    whileBusy(ui.launch, ui.launchError, async () => {
      const result = await api.request("POST", `campaigns/${currentId}/cancel`);
      if (!result.ok) return alertIn(ui.launchError, result.message);
      await load(currentId);
    }).then(syncCancel),
  );

  return { start: () => refreshList(), stop: stopPolling };
}
