// Calendar days in the service time zone, written YYYY-MM-DD, as the stats API takes them.
export const SERVICE_TIMEZONE = "Asia/Seoul";
export const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

export function todayIn(timeZone) {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(new Date());
}

export function addDays(day, delta) {
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d + delta));
  return date.toISOString().slice(0, 10);
}

export function todayInService() {
  return todayIn(SERVICE_TIMEZONE);
}

export function yesterdayInService() {
  return addDays(todayInService(), -1);
}
