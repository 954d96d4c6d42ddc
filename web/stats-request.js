// One stats request at a time per view of the stats page: a new request aborts the one in
// flight, the report is marked busy meanwhile, and the answer is sorted into outcomes that each
// view words for itself (both views share every outcome but their own 400/404).

export const FORBIDDEN = (status) =>
  `Not allowed to read the statistics (HTTP ${status}): the stats API needs an authorised request.`;

async function errorMessage(response) {
  // The API answers an error with {"code", "message"}: its message says what to fix.
  try {
    const body = await response.json();
    if (body && typeof body.message === "string" && body.message) return body.message;
  } catch {
    // not JSON: fall through to the status line
  }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}

// Puts the view's parameters in the address (so the view can be linked), keeping the others.
export function linkParams(params) {
  const url = new URL(window.location.href);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  window.history.replaceState(null, "", url);
}

// A fetcher for one view: `await request(url)` gives one of
//   {outcome: "ok", body} | {outcome: "http", status, message} | {outcome: "forbidden", status}
//   | {outcome: "not_json"} | {outcome: "network", message} | {outcome: "aborted"}
// ("aborted": a newer request replaced this one; the view does nothing).
export function statsRequester(report) {
  let inFlight = null;
  return async function request(url) {
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    report.hidden = true;
    report.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        signal: controller.signal,
      });
      // The stats routes have no authorizer; a deployment that protects them answers these.
      if (response.status === 401 || response.status === 403) {
        return { outcome: "forbidden", status: response.status };
      }
      if (!response.ok) {
        return { outcome: "http", status: response.status, message: await errorMessage(response) };
      }
      try {
        return { outcome: "ok", body: await response.json() };
      } catch {
        return { outcome: "not_json" };
      }
    } catch (error) {
      if (error.name === "AbortError") return { outcome: "aborted" };
      return { outcome: "network", message: error.message };
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        report.removeAttribute("aria-busy");
      }
    }
  };
}
