// The admin console's Jobs and Dead letters sections: a job's status record by id, a number's
// jobs (newest first, a page at a time; numbers shown masked), and a dead-letter queue's messages
// with their reasons, redriven after a dry run.
import { $, alertIn, cell, facts, onSubmit, table, when, whileBusy } from "./admin-view.js";

export function jobsSection(api) {
  const form = $("job-lookup");
  const input = $("job-id");
  const error = $("job-error");
  const result = $("job-result");
  onSubmit(form, () =>
    whileBusy(form, error, async () => {
      result.replaceChildren();
      const answer = await api.request("GET", `jobs/${encodeURIComponent(input.value.trim())}`);
      if (!answer.ok) return alertIn(error, answer.message);
      const job = answer.body;
      result.replaceChildren(
        facts(
          [
            ["Job", job.job_id],
            ["Status", job.status],
            ["Since", when(job.status_at)],
            ["Reason", job.reason],
            ["Number", job.to_masked],
            ["Country", job.country],
            ["Priority", job.priority],
            ["Parts", job.parts],
            ["Encoding", job.encoding],
            ["Provider", job.provider],
            ["Provider message", job.provider_message_id],
            ["Delivery receipts", job.delivery_receipts],
            ["Metadata", JSON.stringify(job.metadata || {})],
          ],
          "job-facts",
        ),
      );
    }),
  );
}

export function phoneJobsSection(api) {
  const form = $("phone-lookup");
  const input = $("phone-number");
  const error = $("phone-error");
  const result = $("phone-result");
  const older = $("phone-older");
  let cursor = null;

  async function show(more) {
    // The number goes in the body: a URL would put it in CloudFront's and WAF's logs.
    const json = { phone: input.value.trim(), limit: 20 };
    if (more && cursor) json.cursor = cursor;
    const answer = await api.request("POST", "jobs/search", { json });
    if (!answer.ok) {
      older.hidden = true;
      return alertIn(error, answer.message);
    }
    const page = answer.body;
    cursor = page.next_cursor;
    older.hidden = !cursor;
    const rows = page.jobs.map((job) => [
      job.job_id,
      job.to_masked,
      job.status,
      when(job.status_at),
      when(job.created_at),
      job.priority,
    ]);
    const shown = table(["Job", "Number", "Status", "Since", "Recorded", "Priority"], rows, {
      caption: rows.length ? `Jobs of ${page.jobs[0].to_masked}, newest first` : "No jobs for that number",
      testId: "phone-jobs",
    });
    if (more) result.append(shown);
    else result.replaceChildren(shown);
  }

  onSubmit(form, () =>
    whileBusy(form, error, async () => {
      cursor = null;
      await show(false);
    }),
  );
  older.addEventListener("click", () => whileBusy(form, error, () => show(true)));
}

export function deadLettersSection(api) {
  const ui = {
    list: $("dlq-list"),
    queue: $("dlq-queue"),
    error: $("dlq-error"),
    letters: $("dlq-letters"),
    redrive: $("dlq-redrive"),
    force: $("dlq-force"),
    apply: $("dlq-apply"),
    redriveError: $("dlq-redrive-error"),
    plan: $("dlq-plan"),
  };
  let listedQueue = null;
  let plannedFor = null; // the selection the shown dry run was for ("" when none)

  function selected() {
    return [...ui.letters.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
  }

  function selectionKey() {
    return JSON.stringify([listedQueue, selected().sort(), ui.force.checked]);
  }

  function invalidatePlan() {
    ui.apply.disabled = plannedFor !== selectionKey() || !selected().length;
  }

  async function list() {
    ui.plan.replaceChildren();
    plannedFor = null;
    const queue = ui.queue.value;
    const answer = await api.request("GET", `dlq/${queue}`, { query: { limit: 100 } });
    if (!answer.ok) {
      ui.letters.replaceChildren();
      ui.redrive.hidden = true;
      return alertIn(ui.error, answer.message);
    }
    listedQueue = queue;
    const page = answer.body;
    const rows = page.letters.map((letter) => {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = letter.message_id;
      box.setAttribute("aria-label", `Select ${letter.message_id}`);
      box.addEventListener("change", invalidatePlan);
      return [
        box,
        letter.message_id,
        letter.failure_code,
        letter.failure_reason,
        letter.job_id,
        letter.to_masked,
        `${letter.age_seconds} s`,
        letter.receive_count,
      ];
    });
    const note = cell(
      "p",
      `${page.letters.length} of about ${page.depth} dead letters in the ${queue} queue` +
        (page.complete ? "." : " (more than were listed)."),
    );
    note.dataset.testid = "dlq-count";
    ui.letters.replaceChildren(
      note,
      table(["", "Message", "Failure", "Reason", "Job", "Number", "Age", "Receives"], rows, {
        caption: `Dead letters: ${queue}`,
        testId: "dlq-table",
      }),
    );
    ui.redrive.hidden = !rows.length;
    invalidatePlan();
  }

  onSubmit(ui.list, () => whileBusy(ui.list, ui.error, list));
  ui.force.addEventListener("change", invalidatePlan);

  async function redrive(apply) {
    const ids = selected();
    if (!ids.length) return alertIn(ui.redriveError, "Select the messages to redrive first.");
    const answer = await api.request("POST", `dlq/${listedQueue}/redrive`, {
      json: { message_ids: ids, apply, force: ui.force.checked },
    });
    if (!answer.ok) return alertIn(ui.redriveError, answer.message);
    const outcome = answer.body;
    const rows = outcome.messages.map((m) => [
      m.letter.message_id,
      m.letter.job_id,
      // A forced message moves despite its refusal, which stays shown beside it.
      m.action === "redrive"
        ? `${apply ? "redriven" : "would redrive"}${m.forced ? " (forced)" : ""}`
        : "refused",
      [m.refusal, m.refusal_detail].filter(Boolean).join(": "),
      m.job_status,
    ]);
    const parts = [
      table(["Message", "Job", "Action", "Refusal", "Job status"], rows, {
        caption: apply ? "Redrive applied" : "Dry run: nothing moved yet",
        testId: apply ? "dlq-applied" : "dlq-dry-run",
      }),
    ];
    if (apply) {
      const summary = cell(
        "p",
        `Moved ${outcome.moved.length} (${outcome.method || "nothing"}); refused on re-check ` +
          `${outcome.refused_now.length}; failed ${Object.keys(outcome.failed).length}; ` +
          `gone meanwhile ${outcome.vanished.length}.`,
      );
      summary.dataset.testid = "dlq-moved";
      parts.push(summary);
    }
    if (outcome.not_found.length) parts.push(cell("p", `Not found: ${outcome.not_found.join(", ")}`));
    if (apply) {
      await list();
      ui.plan.replaceChildren(...parts);
      plannedFor = null;
    } else {
      ui.plan.replaceChildren(...parts);
      plannedFor = selectionKey();
    }
    invalidatePlan();
  }

  onSubmit(ui.redrive, () =>
    whileBusy(ui.redrive, ui.redriveError, () => redrive(false)).then(invalidatePlan),
  );
  ui.apply.addEventListener("click", () =>
    whileBusy(ui.redrive, ui.redriveError, () => redrive(true)).then(invalidatePlan),
  );
}
