// Range view of the stats page: GET {apiBase}/stats?from=&to=&group=day|week|month -> the
// stored days summed per period (layers/courier/src/courier/stats/history.py), drawn as a
// grouped bar chart (hand-drawn SVG: no chart library, nothing outside the site's CSP) and
// given again as a table with the same numbers.
import { loadConfig } from "./config.js";
import { el, empty, fmt, percent, svg, table } from "./stats-figures.js";
import { addDays, DAY_RE, todayInService, yesterdayInService } from "./service-days.js";
import { FORBIDDEN, linkParams, statsRequester } from "./stats-request.js";

const GROUPS = ["day", "week", "month"];
const DEFAULT_DAYS = 30;
const SERIES = [
  { key: "sms_jobs", label: "SMS jobs", noun: "SMS jobs", className: "series-jobs" },
  { key: "sms_delivered", label: "Delivered", noun: "delivered", className: "series-delivered" },
  { key: "sms_failed", label: "Failed", noun: "failed", className: "series-failed" },
  { key: "chat_messages", label: "Chat messages", noun: "chat messages", className: "series-chat" },
];

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("range-form"),
  from: $("range-from"),
  to: $("range-to"),
  group: $("range-group"),
  status: $("range-status"),
  error: $("range-error"),
  report: $("range-report"),
  chart: $("range-chart"),
  table: $("range-table"),
};

let config = null;
const request = statsRequester(ui.report);

// ---------------------------------------------------------------- messages

function showError(text, { fields = [] } = {}) {
  ui.error.textContent = text;
  ui.error.hidden = false;
  ui.status.textContent = "";
  for (const input of fields) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", ui.error.id);
  }
}

function clearMessages() {
  ui.error.hidden = true;
  ui.error.textContent = "";
  for (const input of [ui.from, ui.to]) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
}

// ---------------------------------------------------------------- rendering

function total(periods, key) {
  return periods.reduce((sum, period) => sum + (Number(period[key]) || 0), 0);
}

function shortLabel(period, group) {
  // A day's year is in the heading and the table; the axis has room for MM-DD only.
  return group === "day" && DAY_RE.test(period) ? period.slice(5) : period;
}

function renderChart(body, periods) {
  const width = 720;
  const height = 260;
  const pad = { top: 16, right: 12, bottom: 32, left: 52 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const values = periods.map((period) => SERIES.map((series) => Number(period[series.key]) || 0));
  const max = Math.max(0, ...values.flat());
  const slot = plotW / periods.length;
  const barW = Math.min(24, Math.max(1, (slot * 0.8) / SERIES.length));
  const labelEvery = Math.max(1, Math.ceil(periods.length / Math.floor(plotW / 64)));

  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": "range-chart-title range-chart-desc",
    class: "range-chart",
    preserveAspectRatio: "xMidYMid meet",
    "data-testid": "range-svg",
  });
  chart.append(
    svg("title", { id: "range-chart-title" }, `SMS jobs, delivered, failed and chat messages by ${body.group}`),
    svg(
      "desc",
      { id: "range-chart-desc" },
      `${periods.length} ${body.group}${periods.length === 1 ? "" : "s"} with figures, ${body.from} to ${body.to}: ` +
        SERIES.map((series) => `${fmt(total(periods, series.key))} ${series.noun}`).join(", ") +
        ". The table below gives every figure.",
    ),
  );

  for (const fraction of [0, 0.5, 1]) {
    const y = pad.top + plotH - plotH * fraction;
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid-line" }));
    chart.append(
      svg("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end", class: "axis-label" }, fmt(Math.round(max * fraction))),
    );
  }

  periods.forEach((period, index) => {
    const left = pad.left + index * slot + (slot - barW * SERIES.length) / 2;
    SERIES.forEach((series, s) => {
      const value = values[index][s];
      const barH = max ? (value / max) * plotH : 0;
      const bar = svg("rect", {
        x: left + s * barW,
        y: pad.top + plotH - barH,
        width: barW,
        height: Math.max(barH, value ? 1 : 0),
        class: `bar ${series.className}`,
        "data-period": period.period,
        "data-series": series.key,
        "data-value": value,
      });
      bar.append(svg("title", {}, `${period.period}: ${fmt(value)} ${series.noun}`));
      chart.append(bar);
    });
    if (index % labelEvery === 0) {
      chart.append(
        svg(
          "text",
          { x: pad.left + index * slot + slot / 2, y: height - pad.bottom + 18, "text-anchor": "middle", class: "axis-label" },
          shortLabel(period.period, body.group),
        ),
      );
    }
  });

  const legend = el("ul", "legend");
  legend.setAttribute("aria-hidden", "true"); // the chart's description and the table say it
  for (const series of SERIES) {
    const item = el("li");
    item.append(el("span", `swatch ${series.className}`), document.createTextNode(series.label));
    legend.append(item);
  }
  ui.chart.replaceChildren(chart, legend);
}

function renderTable(body, periods) {
  const headers = ["Period", "Days with figures", ...SERIES.map((series) => series.label), "Delivery ratio"];
  const rows = periods.map((period) => [
    String(period.period ?? ""),
    period.days,
    ...SERIES.map((series) => period[series.key]),
    percent(period.delivery_ratio),
  ]);
  ui.table.replaceChildren(
    table(`Figures by ${body.group} from ${body.from} to ${body.to}`, headers, rows, { captionHidden: true }),
  );
}

function render(body) {
  const periods = Array.isArray(body.periods) ? body.periods : [];
  if (!periods.length) {
    ui.chart.replaceChildren(empty(`No statistics are stored for ${body.from} to ${body.to}.`));
    ui.table.replaceChildren();
  } else {
    renderChart(body, periods);
    renderTable(body, periods);
  }
  ui.report.hidden = false;
  const tz = body.timezone ? ` (${body.timezone})` : "";
  ui.status.textContent = `${periods.length} ${periods.length === 1 ? "period" : "periods"} by ${body.group}, ${body.from} to ${body.to}${tz}.`;
}

// ---------------------------------------------------------------- loading

async function load(from, to, group) {
  clearMessages();
  if (!DAY_RE.test(from) || !DAY_RE.test(to)) {
    const fields = [!DAY_RE.test(from) && ui.from, !DAY_RE.test(to) && ui.to].filter(Boolean);
    showError("Pick a first and a last day.", { fields });
    return;
  }
  // The order of the days and the length of the range are the API's to check: one rule, and
  // its message is shown as it is.
  ui.status.textContent = `Loading ${from} to ${to} by ${group}…`;
  linkParams({ from, to, group });
  const query = new URLSearchParams({ from, to, group });
  const answer = await request(`${config.apiBase}/stats?${query}`);
  switch (answer.outcome) {
    case "aborted":
      return;
    case "forbidden":
      showError(FORBIDDEN(answer.status));
      return;
    case "http":
      if (answer.status === 400) {
        showError(`Cannot show that range: ${answer.message}`, { fields: [ui.from, ui.to] });
      } else {
        showError(`Could not load the statistics: ${answer.message}`);
      }
      return;
    case "not_json":
      showError("Could not load the statistics: the answer was not JSON.");
      return;
    case "network":
      showError(`Could not reach the API: ${answer.message}`);
      return;
  }
  const body = answer.body;
  if (!body || typeof body !== "object" || !Array.isArray(body.periods)) {
    showError("Could not load the statistics: unexpected answer.");
    return;
  }
  render({ ...body, from: body.from || from, to: body.to || to, group: body.group || group });
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  load(ui.from.value, ui.to.value, ui.group.value);
});

async function main() {
  config = await loadConfig();
  const today = todayInService();
  ui.from.max = today;
  ui.to.max = today;
  const params = new URLSearchParams(window.location.search);
  const from = params.get("from");
  const to = params.get("to");
  const group = params.get("group");
  const yesterday = yesterdayInService();
  // Default: the last 30 days that have ended in the service time zone.
  ui.to.value = to && DAY_RE.test(to) ? to : yesterday;
  ui.from.value = from && DAY_RE.test(from) ? from : addDays(yesterday, 1 - DEFAULT_DAYS);
  ui.group.value = GROUPS.includes(group) ? group : "day";
  load(ui.from.value, ui.to.value, ui.group.value);
}

main();
