// Courier admin console: sign-in with the Cognito hosted UI (authorization code + PKCE), the
// access token kept in sessionStorage (this tab only, gone when it closes), GET /api/admin/me;
// once the admin is known, the console's sections (admin-*.js) on that token.
// Everything shown is rendered with textContent; nothing is parsed as HTML.
import { adminClient, NOT_ADMIN } from "./admin-api.js";
import { auditSection } from "./admin-audit.js";
import { campaignsSection } from "./admin-campaigns.js";
import { deadLettersSection, jobsSection, phoneJobsSection } from "./admin-jobs.js";
import { moderationSection } from "./admin-moderation.js";
import { optOutsSection } from "./admin-opt-outs.js";
import { loadConfig } from "./config.js";

const SCOPES = "openid email profile";
const STORE = {
  token: "courier.admin.accessToken",
  expires: "courier.admin.expiresAt",
  verifier: "courier.admin.pkceVerifier",
  state: "courier.admin.state",
};

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  error: $("error"),
  signedIn: $("signed-in"),
  username: $("username"),
  groups: $("groups"),
  signIn: $("sign-in"),
  signOut: $("sign-out"),
  console: $("console"),
};

let config = null;
let campaigns = null;

// The page's own address, without query or fragment: the registered callback URL.
const redirectUri = () => `${window.location.origin}${window.location.pathname}`;

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

function showSignedOut(message) {
  ui.console.hidden = true;
  if (campaigns) campaigns.stop();
  ui.signedIn.hidden = true;
  ui.signIn.hidden = false;
  ui.signOut.hidden = true;
  ui.status.textContent = message || "Signed out.";
}

function forgetToken() {
  sessionStorage.removeItem(STORE.token);
  sessionStorage.removeItem(STORE.expires);
}

async function signIn() {
  showError("");
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(STORE.verifier, verifier);
  sessionStorage.setItem(STORE.state, state);
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.adminClientId,
    redirect_uri: redirectUri(),
    scope: SCOPES,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  });
  window.location.assign(`${config.adminSignInUrl}/oauth2/authorize?${query}`);
}

function signOut() {
  forgetToken();
  const query = new URLSearchParams({ client_id: config.adminClientId, logout_uri: redirectUri() });
  window.location.assign(`${config.adminSignInUrl}/logout?${query}`);
}

// Back from the hosted UI with ?code=&state=: exchange the code (with the PKCE verifier).
async function finishSignIn(params) {
  const expected = sessionStorage.getItem(STORE.state);
  const verifier = sessionStorage.getItem(STORE.verifier);
  sessionStorage.removeItem(STORE.state);
  sessionStorage.removeItem(STORE.verifier);
  // Drop the code from the address bar and the history either way.
  window.history.replaceState(null, "", redirectUri());
  if (!expected || params.get("state") !== expected || !verifier) {
    throw new Error("The sign-in response does not match this tab's request; sign in again.");
  }
  const response = await fetch(`${config.adminSignInUrl}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.adminClientId,
      code: params.get("code"),
      redirect_uri: redirectUri(),
      code_verifier: verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) {
    throw new Error(`Sign-in failed (${body.error || response.status}); sign in again.`);
  }
  sessionStorage.setItem(STORE.token, body.access_token);
  const lifetime = Number(body.expires_in) || 3600;
  sessionStorage.setItem(STORE.expires, String(Date.now() + lifetime * 1000));
}

function currentToken() {
  const token = sessionStorage.getItem(STORE.token);
  const expires = Number(sessionStorage.getItem(STORE.expires) || 0);
  if (!token || Date.now() >= expires) {
    forgetToken();
    return null;
  }
  return token;
}

async function showWhoAmI(token) {
  ui.status.textContent = "Checking your account…";
  const response = await fetch(`${config.apiBase}/admin/me`, {
    headers: { Authorization: `Bearer ${token}` },
    cache: "no-store",
  });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    forgetToken();
    showSignedOut("Your session has ended; sign in again.");
    return;
  }
  ui.signOut.hidden = false;
  ui.signIn.hidden = true;
  if (response.status === 403) {
    ui.status.textContent = "Signed in, but this account may not use the admin console.";
    showError(`${NOT_ADMIN} ${body.message || ""}`.trim());
    return;
  }
  if (!response.ok) {
    ui.status.textContent = "The admin API did not answer.";
    showError(body.message || `HTTP ${response.status}`);
    return;
  }
  ui.username.textContent = body.username;
  ui.groups.textContent = (body.groups || []).join(", ");
  ui.signedIn.hidden = false;
  ui.status.textContent = "Signed in.";
  startConsole(token);
}

// The sections, each on this token; a 401 from any of them signs the page out.
function startConsole(token) {
  const api = adminClient({
    apiBase: config.apiBase,
    token,
    onSignedOut: (message) => {
      forgetToken();
      showSignedOut(message);
    },
  });
  campaigns = campaignsSection(api);
  jobsSection(api);
  phoneJobsSection(api);
  deadLettersSection(api);
  optOutsSection(api);
  moderationSection(api);
  auditSection(api);
  ui.console.hidden = false;
  campaigns.start();
}

async function main() {
  config = await loadConfig();
  ui.signIn.addEventListener("click", () => signIn().catch((e) => showError(e.message)));
  ui.signOut.addEventListener("click", signOut);
  if (!config.adminSignInUrl || !config.adminClientId) {
    ui.status.textContent = "The admin sign-in is not configured for this site (config.json).";
    return;
  }
  const params = new URLSearchParams(window.location.search);
  try {
    if (params.has("error")) {
      window.history.replaceState(null, "", redirectUri());
      throw new Error(`Sign-in failed: ${params.get("error_description") || params.get("error")}`);
    }
    if (params.has("code")) await finishSignIn(params);
  } catch (error) {
    showSignedOut();
    showError(error.message);
    return;
  }
  const token = currentToken();
  if (!token) {
    showSignedOut();
    return;
  }
  try {
    await showWhoAmI(token);
  } catch (error) {
    ui.status.textContent = "The admin API could not be reached.";
    showError(error.message);
  }
}

main();
