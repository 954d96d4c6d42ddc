// The admin console's requests to /api/admin/*: the signed-in admin's access token on each, and
// the answer sorted into outcomes each section words alike. A 401 signs the page out (the token
// expired or was refused: sign in again); a 403 means the account is not in the admin group.

export const NOT_ADMIN = "Not an admin: this account may not use the admin console.";
export const SIGNED_OUT = "Your session has ended; sign in again.";

async function errorOf(response) {
  // The API answers an error with {"code", "message"} (and "errors", a field list, on 422).
  try {
    const body = await response.json();
    if (body && typeof body.message === "string" && body.message) {
      const fields = Array.isArray(body.errors) ? body.errors : [];
      const details = fields
        .map((e) => [e.field, e.message].filter(Boolean).join(": "))
        .filter(Boolean);
      return details.length ? `${body.message} (${details.join("; ")})` : body.message;
    }
  } catch {
    // not JSON: the status line says it
  }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}

// A client for the signed-in admin:
//   const result = await api.request("POST", "campaigns", { json: {...} })
// gives {ok: true, status, body} or {ok: false, status, message}; a 401 also calls onSignedOut.
export function adminClient({ apiBase, token, onSignedOut }) {
  async function request(method, path, { json, csv, query } = {}) {
    const url = new URL(`${apiBase}/admin/${path}`, window.location.href);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (csv !== undefined) {
      headers["Content-Type"] = "text/csv";
      body = csv;
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body, cache: "no-store" });
    } catch (error) {
      return { ok: false, status: 0, message: `The admin API could not be reached (${error.message}).` };
    }
    if (response.status === 401) {
      onSignedOut(SIGNED_OUT);
      return { ok: false, status: 401, message: SIGNED_OUT };
    }
    if (response.status === 403) return { ok: false, status: 403, message: NOT_ADMIN };
    if (!response.ok) return { ok: false, status: response.status, message: await errorOf(response) };
    try {
      return { ok: true, status: response.status, body: await response.json() };
    } catch {
      return { ok: false, status: response.status, message: "The admin API's answer was not JSON." };
    }
  }
  return { request };
}
