// Daily statistics page: GET {apiBase}/stats/{date} -> the DailyStats numbers
// (layers/courier/src/courier/stats/report.py), rendered as tables and an SVG chart.
import { loadConfig } from "./config.js";
import { el, empty, fmt, svg, table } from "./stats-figures.js";
import { DAY_RE, todayInService, yesterdayInService } from "./service-days.js";
import { FORBIDDEN, linkParams, statsRequester } from "./stats-request.js";

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("date-form"),
  date: $("date"),
  show: $("show"),
  status: $("status"),
  report: $("report"),
  summaryDay: $("summary-day"),
  summary: $("summary"),
  smsStatus: $("sms-status"),
  smsReason: $("sms-reason"),
  smsPriority: $("sms-priority"),
  smsHour: $("sms-hour"),
  chatSummary: $("chat-summary"),
  topRooms: $("top-rooms"),
};

let config = null;
const request = statsRequester(ui.report);

// ---------------------------------------------------------------- rendering

function setStatus(text, kind) {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", kind === "error");
}

function entries(object) {
  return object && typeof object === "object" && !Array.isArray(object) ? Object.entries(object) : [];
}

function pair(term, value) {
  // <div> groups a dt/dd pair inside a <dl> (allowed by HTML) so the grid lays out pairs.
  const group = el("div", "figure");
  group.append(el("dt", "", term), el("dd", "", fmt(value)));
  return group;
}

function renderSummary(stats) {
  const sms = stats.sms || {};
  const chat = stats.chat || {};
  const list = el("dl", "summary");
  const add = (term, value) => list.append(pair(term, value));
  add("SMS jobs", sms.jobs);
  add("SMS parts", sms.parts);
  add("Parts sent or delivered", sms.parts_sent_or_delivered);
  add("Chat messages", chat.messages);
  add("Active chat users", chat.active_users);
  add("Active rooms", chat.active_rooms);
  ui.summary.replaceChildren(list);
  const tz = stats.timezone ? ` (${stats.timezone})` : "";
  ui.summaryDay.textContent = `${stats.date || ""}${tz}`;
}

function renderSms(sms) {
  const byStatus = entries(sms.by_status);
  const partsByStatus = sms.parts_by_status || {};
  ui.smsStatus.replaceChildren(
    byStatus.length
      ? table(
          "SMS jobs and parts by status",
          ["Status", "Jobs", "Parts"],
          byStatus.map(([status, jobs]) => [status, jobs, partsByStatus[status] ?? 0]),
        )
      : empty("No SMS jobs."),
  );

  const byReason = entries(sms.failed_by_reason).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  ui.smsReason.replaceChildren(
    byReason.length ? table("Failed SMS by reason", ["Reason", "Jobs"], byReason) : empty("No failures."),
  );

  const byPriority = entries(sms.by_priority);
  ui.smsPriority.replaceChildren(
    byPriority.length ? table("SMS jobs by priority", ["Priority", "Jobs"], byPriority) : empty("No SMS jobs."),
  );

  renderHourChart(sms.by_hour || {});
}

function renderHourChart(byHour) {
  const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0"));
  const values = hours.map((h) => (typeof byHour[h] === "number" ? byHour[h] : 0));
  const total = values.reduce((a, b) => a + b, 0);
  if (!total) {
    ui.smsHour.replaceChildren(empty("No SMS jobs that day."));
    return;
  }
  const max = Math.max(...values);
  const width = 720;
  const height = 240;
  const pad = { top: 16, right: 12, bottom: 28, left: 48 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const slot = plotW / 24;
  const barW = Math.max(2, slot * 0.7);

  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": "hour-chart-title hour-chart-desc",
    class: "hour-chart",
    preserveAspectRatio: "xMidYMid meet",
  });
  chart.append(
    svg("title", { id: "hour-chart-title" }, "SMS jobs by hour of the day"),
    svg("desc", { id: "hour-chart-desc" }, `${fmt(total)} jobs; busiest hour ${hours[values.indexOf(max)]}:00 with ${fmt(max)}.`),
  );

  // Horizontal grid lines and y labels at 0, max/2, max.
  for (const fraction of [0, 0.5, 1]) {
    const y = pad.top + plotH - plotH * fraction;
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid-line" }));
    chart.append(
      svg("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end", class: "axis-label" }, fmt(Math.round(max * fraction))),
    );
  }

  values.forEach((value, index) => {
    const barH = max ? (value / max) * plotH : 0;
    const x = pad.left + index * slot + (slot - barW) / 2;
    const y = pad.top + plotH - barH;
    const bar = svg("rect", { x, y, width: barW, height: Math.max(barH, value ? 1 : 0), class: "bar" });
    bar.append(svg("title", {}, `${hours[index]}:00 – ${fmt(value)} jobs`));
    chart.append(bar);
    if (index % 3 === 0) {
      chart.append(
        svg("text", { x: x + barW / 2, y: height - pad.bottom + 16, "text-anchor": "middle", class: "axis-label" }, hours[index]),
      );
    }
  });

  const details = el("details");
  details.append(
    el("summary", "", "Show as a table"),
    table("SMS jobs by hour", ["Hour", "Jobs"], hours.map((h, i) => [`${h}:00`, values[i]])),
  );
  ui.smsHour.replaceChildren(chart, details);
}

function renderChat(chat) {
  const list = el("dl", "summary");
  list.append(
    pair("Messages", chat.messages),
    pair("Active users", chat.active_users),
    pair("Active rooms", chat.active_rooms),
  );
  const parts = [list];
  if (chat.by_room_in_reports_only) {
    parts.push(el("p", "muted", "Too many rooms to list here; the per-room counts are in the S3 reports."));
  }
  ui.chatSummary.replaceChildren(...parts);

  const top = Array.isArray(chat.top_rooms) ? chat.top_rooms : [];
  ui.topRooms.replaceChildren(
    top.length
      ? table(
          "Busiest rooms",
          ["#", "Room", "Messages"],
          top.map((row, index) => [String(index + 1), String(row.room ?? ""), row.messages]),
          { numericFrom: 2 },
        )
      : empty("No chat messages."),
  );
}

function render(stats) {
  renderSummary(stats);
  renderSms(stats.sms || {});
  renderChat(stats.chat || {});
  ui.report.hidden = false;
}

// ---------------------------------------------------------------- loading

function unwrap(body) {
  // Accept the numbers as-is, or wrapped in {"stats": …}.
  if (body && typeof body === "object" && body.sms && body.chat) return body;
  if (body && typeof body === "object" && body.stats && body.stats.sms) return body.stats;
  return null;
}

async function load(day) {
  if (!DAY_RE.test(day)) {
    setStatus("Pick a day.", "error");
    return;
  }
  setStatus(`Loading statistics for ${day}…`);
  linkParams({ date: day });
  const answer = await request(`${config.apiBase}/stats/${encodeURIComponent(day)}`);
  switch (answer.outcome) {
    case "aborted":
      return;
    case "forbidden":
      setStatus(FORBIDDEN(answer.status), "error");
      return;
    case "http":
      if (answer.status === 404) {
        setStatus(`No statistics for that day (${day}). The daily batch may not have run yet.`);
      } else {
        setStatus(`Could not load the statistics: ${answer.message}`, "error");
      }
      return;
    case "not_json":
      setStatus("Could not load the statistics: the answer was not JSON.", "error");
      return;
    case "network":
      setStatus(`Could not reach the API: ${answer.message}`, "error");
      return;
  }
  const stats = unwrap(answer.body);
  if (!stats) {
    // (An API error body is {"code", "message"}.)
    setStatus("Could not load the statistics: unexpected answer.", "error");
    return;
  }
  render(stats);
  setStatus(`Statistics for ${stats.date || day}.`);
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  load(ui.date.value);
});

ui.date.addEventListener("change", () => {
  if (DAY_RE.test(ui.date.value)) load(ui.date.value);
});

async function main() {
  config = await loadConfig();
  const yesterday = yesterdayInService();
  ui.date.max = todayInService();
  const requested = new URLSearchParams(window.location.search).get("date");
  ui.date.value = requested && DAY_RE.test(requested) ? requested : yesterday;
  load(ui.date.value);
}

main();
