// Courier chat client: one WebSocket, the protocol in docs/chat.md.
// All user-supplied text is rendered with textContent; nothing is parsed as HTML.
import { loadConfig } from "./config.js";

const ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const MAX_TEXT = 2000;
const HISTORY_PAGE = 50;
const PING_INTERVAL_MS = 5 * 60 * 1000; // API Gateway drops idle connections after 10 minutes
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const ACK_TIMEOUT_MS = 15000;

const $ = (id) => document.getElementById(id);
const ui = {
  connectForm: $("connect-form"),
  token: $("token"),
  connect: $("connect"),
  disconnect: $("disconnect"),
  status: $("status"),
  identity: $("identity"),
  roomForm: $("room-form"),
  room: $("room"),
  join: $("join"),
  leave: $("leave"),
  tabs: $("room-tabs"),
  error: $("error"),
  activeRoom: $("active-room"),
  loadOlder: $("load-older"),
  messages: $("messages"),
  sendForm: $("send-form"),
  message: $("message"),
  send: $("send"),
  presence: $("presence"),
};

const state = {
  config: null,
  token: "",
  me: null, // {sub, name, exp} read (not verified) from the token
  ws: null,
  wanted: false, // the user asked to be connected
  attempt: 0,
  reconnectTimer: 0,
  connectSeq: 0, // bumped by every connect and stop: a slow ticket request cannot revive a stale one
  pingTimer: 0,
  rooms: new Map(), // room -> Room
  activeRoom: null,
  outbox: new Map(), // client_msg_id -> {room, text, entry, sentOnce, timer}
};

// ---------------------------------------------------------------- helpers

function decodeToken(token) {
  try {
    const part = token.split(".")[1];
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return {
      sub: typeof claims.sub === "string" ? claims.sub : null,
      name: typeof claims.name === "string" ? claims.name : null,
      exp: typeof claims.exp === "number" ? claims.exp : null,
      rooms: Array.isArray(claims.rooms) ? claims.rooms.filter((r) => typeof r === "string") : [],
    };
  } catch {
    return null;
  }
}

function tokenExpired() {
  return Boolean(state.me && state.me.exp && state.me.exp * 1000 <= Date.now());
}

function newClientMsgId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  // randomUUID needs a secure context; fall back to getRandomValues (same id pattern).
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "short",
  timeStyle: "short",
});

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : timeFormat.format(date);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function setStatus(text) {
  ui.status.textContent = text;
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}

function isOpen() {
  return Boolean(state.ws && state.ws.readyState === WebSocket.OPEN);
}

function sendFrame(frame) {
  if (!isOpen()) return false;
  state.ws.send(JSON.stringify(frame));
  return true;
}

// ---------------------------------------------------------------- rooms

function getRoom(name) {
  let room = state.rooms.get(name);
  if (!room) {
    room = {
      name,
      wanted: false, // the user wants to be in it (rejoined after a reconnect)
      joined: false, // the server confirmed (presence received) on this connection
      leaving: false,
      members: new Map(), // sub -> name
      entries: [], // sorted message entries
      byKey: new Map(), // message_id or client_msg_id -> entry
      nextCursor: null,
      olderLoaded: false,
      historyPending: null, // "newest" | "older" | null
      tab: null,
    };
    state.rooms.set(name, room);
  }
  return room;
}

function renderTabs() {
  ui.tabs.replaceChildren();
  for (const room of state.rooms.values()) {
    if (!room.wanted) continue;
    const button = el("button", "tab", room.name);
    button.type = "button";
    button.dataset.room = room.name;
    button.dataset.testid = "room-tab";
    button.setAttribute("aria-pressed", String(room.name === state.activeRoom));
    if (!room.joined) button.classList.add("pending");
    button.addEventListener("click", () => activate(room.name));
    ui.tabs.append(button);
  }
}

function activate(name) {
  state.activeRoom = name;
  const room = name ? getRoom(name) : null;
  ui.activeRoom.textContent = room ? `in ${room.name}` : "";
  ui.messages.replaceChildren(...(room ? room.entries.map((e) => e.el) : []));
  if (room) ui.room.value = room.name;
  renderTabs();
  renderPresence();
  updateControls();
  scrollToBottom();
}

function renderPresence() {
  ui.presence.replaceChildren();
  const room = state.activeRoom ? getRoom(state.activeRoom) : null;
  if (!room || !room.joined) {
    ui.presence.append(el("li", "muted", room ? "Not joined." : "No room."));
    return;
  }
  const members = [...room.members.entries()].sort((a, b) => a[1].localeCompare(b[1]));
  for (const [sub, name] of members) {
    const item = el("li", "member", name);
    item.title = sub;
    item.dataset.sub = sub;
    if (state.me && sub === state.me.sub) {
      item.classList.add("me");
      item.append(el("span", "muted", " (you)"));
    }
    ui.presence.append(item);
  }
  if (!members.length) ui.presence.append(el("li", "muted", "Nobody here."));
}

function updateControls() {
  const open = isOpen();
  const room = state.activeRoom ? state.rooms.get(state.activeRoom) : null;
  ui.connect.disabled = state.wanted;
  ui.token.disabled = state.wanted;
  ui.disconnect.disabled = !state.wanted;
  ui.join.disabled = false;
  ui.leave.disabled = !(room && room.wanted);
  const canWrite = Boolean(room && room.wanted);
  ui.message.disabled = !canWrite;
  ui.send.disabled = !canWrite;
  ui.loadOlder.disabled = !(open && room && room.joined && room.nextCursor && !room.historyPending);
  ui.loadOlder.hidden = !(room && room.nextCursor);
}

// ---------------------------------------------------------------- message list

function nearBottom() {
  const list = ui.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function buildEntryElement(entry) {
  const item = el("li", "message");
  item.dataset.testid = "message";
  const meta = el("div", "meta");
  const who = el("span", "sender", entry.senderName || "unknown");
  if (entry.senderSub) who.title = entry.senderSub;
  const when = el("time", "time", formatTime(entry.sentAt));
  when.dateTime = entry.sentAt;
  const state_ = el("span", "state");
  state_.dataset.testid = "message-state";
  meta.append(who, " ", when, " ", state_);
  const body = el("p", "text", entry.text);
  item.append(meta, body);
  entry.el = item;
  entry.stateEl = state_;
  entry.timeEl = when;
  refreshEntry(entry);
  return item;
}

function refreshEntry(entry) {
  const item = entry.el;
  item.classList.toggle("own", entry.own);
  item.classList.toggle("pending", entry.status === "pending");
  item.classList.toggle("failed", entry.status === "failed");
  if (entry.messageId) item.dataset.messageId = entry.messageId;
  if (entry.clientMsgId) item.dataset.clientMsgId = entry.clientMsgId;
  entry.timeEl.textContent = formatTime(entry.sentAt);
  entry.timeEl.dateTime = entry.sentAt;
  entry.stateEl.replaceChildren();
  if (entry.status === "pending") {
    entry.stateEl.textContent = "sending…";
  } else if (entry.status === "failed") {
    entry.stateEl.textContent = "not confirmed ";
    const retry = el("button", "link", "retry");
    retry.type = "button";
    retry.addEventListener("click", () => retrySend(entry.clientMsgId));
    entry.stateEl.append(retry);
  } else if (entry.own && entry.duplicate) {
    entry.stateEl.textContent = "sent (already delivered)";
  } else if (entry.own) {
    entry.stateEl.textContent = "sent";
  } else {
    entry.stateEl.textContent = "";
  }
}

function compareEntries(a, b) {
  // Pending messages stay at the bottom; the rest in send order (ids are ordered by send time).
  if ((a.status === "pending") !== (b.status === "pending")) return a.status === "pending" ? 1 : -1;
  if (a.sentAt !== b.sentAt) return a.sentAt < b.sentAt ? -1 : 1;
  const ai = a.messageId || "";
  const bi = b.messageId || "";
  return ai < bi ? -1 : ai > bi ? 1 : 0;
}

function insertEntry(room, entry) {
  buildEntryElement(entry);
  let index = room.entries.length;
  while (index > 0 && compareEntries(room.entries[index - 1], entry) > 0) index -= 1;
  const before = room.entries[index] || null;
  room.entries.splice(index, 0, entry);
  if (state.activeRoom === room.name) {
    ui.messages.insertBefore(entry.el, before ? before.el : null);
  }
  return index;
}

function addServerMessage(msg) {
  if (!msg || typeof msg.room !== "string" || typeof msg.message_id !== "string") return;
  const room = getRoom(msg.room);
  if (room.byKey.has(msg.message_id)) return; // already shown (history overlap, resend)
  const own = Boolean(state.me && msg.sender && msg.sender.sub === state.me.sub);
  if (msg.client_msg_id && own && room.byKey.has(msg.client_msg_id)) {
    // Our own pending message, seen in history (or from another tab) before its ack.
    const pending = room.byKey.get(msg.client_msg_id);
    if (pending.status !== "done") confirmEntry(room, pending, msg.message_id, msg.sent_at, false);
    return;
  }
  const entry = {
    messageId: msg.message_id,
    clientMsgId: msg.client_msg_id || null,
    senderSub: msg.sender ? msg.sender.sub : "",
    senderName: msg.sender ? msg.sender.name : "",
    text: String(msg.text ?? ""),
    sentAt: String(msg.sent_at ?? ""),
    own,
    status: "done",
    duplicate: false,
  };
  room.byKey.set(entry.messageId, entry);
  const stick = nearBottom();
  insertEntry(room, entry);
  if (state.activeRoom === room.name && stick) scrollToBottom();
}

function addSystemLine(roomName, text, className) {
  const room = roomName ? state.rooms.get(roomName) : null;
  const target = room || (state.activeRoom ? getRoom(state.activeRoom) : null);
  const item = el("li", `system ${className || ""}`.trim(), text);
  item.dataset.testid = className === "error" ? "error-message" : "system-message";
  if (!target) return;
  const entry = {
    system: true,
    status: "done",
    sentAt: new Date().toISOString(),
    messageId: "",
    el: item,
  };
  // System lines go at the end (they describe now), without re-sorting.
  target.entries.push(entry);
  if (state.activeRoom === target.name) {
    const stick = nearBottom();
    ui.messages.append(item);
    if (stick) scrollToBottom();
  }
}

// ---------------------------------------------------------------- sending

function queueSend(roomName, text) {
  const clientMsgId = newClientMsgId();
  const room = getRoom(roomName);
  const entry = {
    messageId: null,
    clientMsgId,
    senderSub: state.me ? state.me.sub : "",
    senderName: state.me && state.me.name ? state.me.name : "you",
    text,
    sentAt: new Date().toISOString(),
    own: true,
    status: "pending",
    duplicate: false,
  };
  room.byKey.set(clientMsgId, entry);
  insertEntry(room, entry);
  scrollToBottom();
  state.outbox.set(clientMsgId, { room: roomName, text, entry, timer: 0 });
  transmit(clientMsgId);
}

function transmit(clientMsgId) {
  const item = state.outbox.get(clientMsgId);
  if (!item) return;
  const room = state.rooms.get(item.room);
  // Frames sent before the join is confirmed could be refused with not_joined; such
  // messages wait and go out (with the same client_msg_id) once `presence` arrives.
  if (!room || !room.joined || !isOpen()) return;
  clearTimeout(item.timer);
  if (item.entry.status !== "pending") {
    item.entry.status = "pending";
    refreshEntry(item.entry);
  }
  sendFrame({ action: "send", room: item.room, text: item.text, client_msg_id: clientMsgId });
  item.timer = setTimeout(() => markUnconfirmed(clientMsgId), ACK_TIMEOUT_MS);
}

function markUnconfirmed(clientMsgId) {
  const item = state.outbox.get(clientMsgId);
  if (!item || item.entry.status !== "pending") return;
  item.entry.status = "failed";
  refreshEntry(item.entry);
}

function retrySend(clientMsgId) {
  const item = state.outbox.get(clientMsgId);
  if (!item) return;
  item.entry.status = "pending";
  refreshEntry(item.entry);
  transmit(clientMsgId); // same client_msg_id: the server acknowledges, never broadcasts twice
}

function flushOutbox(roomName) {
  for (const [clientMsgId, item] of state.outbox) {
    if (item.room === roomName) transmit(clientMsgId);
  }
}

function confirmEntry(room, entry, messageId, sentAt, duplicate) {
  const item = state.outbox.get(entry.clientMsgId);
  if (item) clearTimeout(item.timer);
  state.outbox.delete(entry.clientMsgId);
  entry.messageId = messageId;
  entry.status = "done";
  entry.duplicate = Boolean(duplicate);
  if (sentAt) entry.sentAt = sentAt;
  if (messageId) room.byKey.set(messageId, entry);
  refreshEntry(entry);
}

// ---------------------------------------------------------------- events from the server

const handlers = {
  message(event) {
    addServerMessage(event);
  },
  ack(event) {
    const room = getRoom(event.room);
    const entry = room.byKey.get(event.client_msg_id);
    if (entry && entry.status !== "done") {
      confirmEntry(room, entry, event.message_id, event.sent_at, event.duplicate);
    }
  },
  presence(event) {
    const room = getRoom(event.room);
    const first = !room.joined;
    room.joined = true;
    room.wanted = true;
    room.leaving = false;
    room.members = new Map();
    for (const member of event.members || []) {
      if (member && typeof member.sub === "string") room.members.set(member.sub, String(member.name ?? member.sub));
    }
    if (first) requestHistory(room, "newest");
    flushOutbox(room.name);
    if (!state.activeRoom || state.activeRoom === room.name) activate(room.name);
    else renderTabs();
    renderPresence();
    updateControls();
  },
  joined(event) {
    const room = getRoom(event.room);
    if (!event.member) return;
    room.members.set(event.member.sub, String(event.member.name ?? event.member.sub));
    if (state.activeRoom === room.name) renderPresence();
  },
  left(event) {
    const room = getRoom(event.room);
    if (!event.member) return;
    const isMe = state.me && event.member.sub === state.me.sub;
    if (isMe && room.leaving) {
      room.leaving = false;
      room.joined = false;
      room.wanted = false;
      room.members.clear();
      addSystemLine(room.name, `You left ${room.name}.`);
      const next = [...state.rooms.values()].find((r) => r.wanted);
      if (state.activeRoom === room.name) activate(next ? next.name : null);
      else renderTabs();
      updateControls();
      return;
    }
    if (isMe) return; // another tab of ours left; we are still here
    room.members.delete(event.member.sub);
    if (state.activeRoom === room.name) renderPresence();
  },
  history(event) {
    const room = getRoom(event.room);
    const kind = room.historyPending;
    room.historyPending = null;
    const list = ui.messages;
    const fromBottom = list.scrollHeight - list.scrollTop;
    const wasAtBottom = nearBottom();
    for (const msg of event.messages || []) addServerMessage(msg);
    if (kind === "older") {
      room.nextCursor = event.next_cursor || null;
      room.olderLoaded = true;
      if (state.activeRoom === room.name) list.scrollTop = list.scrollHeight - fromBottom;
    } else if (!room.olderLoaded) {
      room.nextCursor = event.next_cursor || null;
      if (state.activeRoom === room.name && wasAtBottom) scrollToBottom();
    }
    if (kind !== "older" && room.entries.length === 0) {
      addSystemLine(room.name, "No messages yet.");
    }
    updateControls();
  },
  error(event) {
    const code = String(event.code ?? "error");
    const reason = String(event.reason ?? "");
    const action = event.action ? ` (${event.action})` : "";
    showError(`Error ${code}${action}: ${reason}`);
    addSystemLine(state.activeRoom, `Error ${code}${action}: ${reason}`, "error");
    if (event.action === "history") {
      for (const room of state.rooms.values()) room.historyPending = null;
    }
    if (event.action === "send") {
      // The error does not name the message; flag the ones still waiting so they can be retried.
      for (const clientMsgId of state.outbox.keys()) markUnconfirmed(clientMsgId);
    }
    if (event.action === "join" && (code === "forbidden" || code === "invalid_frame")) {
      // The token does not allow the room: stop asking for it.
      for (const room of state.rooms.values()) {
        if (room.wanted && !room.joined) room.wanted = false;
      }
      if (state.activeRoom && !getRoom(state.activeRoom).wanted) {
        const next = [...state.rooms.values()].find((r) => r.wanted);
        activate(next ? next.name : null);
      }
      renderTabs();
    }
    updateControls();
  },
  pong(event) {
    setStatus(`Connected. Last heartbeat ${formatTime(event.at) || "just now"}.`);
  },
};

function requestHistory(room, kind) {
  if (!isOpen() || room.historyPending) return;
  const frame = { action: "history", room: room.name, limit: HISTORY_PAGE };
  if (kind === "older") {
    if (!room.nextCursor) return;
    frame.cursor = room.nextCursor;
  }
  room.historyPending = kind;
  sendFrame(frame);
  updateControls();
}

// ---------------------------------------------------------------- connection

class TokenRefused extends Error {}

// The token never goes into the WebSocket URL (URLs end up in access logs): it buys a
// single-use ticket, valid about a minute, and the URL carries that. One ticket per connect.
async function requestTicket() {
  const response = await fetch(`${state.config.apiBase}/chat/tickets`, {
    method: "POST",
    headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" },
    cache: "no-store",
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.status === 401) {
    throw new TokenRefused(body && typeof body.message === "string" ? body.message : "refused");
  }
  if (!response.ok || !body || typeof body.ticket !== "string") {
    throw new Error(`ticket request failed (HTTP ${response.status})`);
  }
  return body.ticket;
}

async function connect() {
  clearTimeout(state.reconnectTimer);
  if (!state.wanted) return;
  if (tokenExpired()) {
    stop("The token has expired: mint a new one with `chat token`.");
    return;
  }
  let url;
  try {
    url = new URL(state.config.webSocketUrl, window.location.href);
  } catch {
    stop("The WebSocket URL in config.json is not valid.");
    return;
  }
  const seq = ++state.connectSeq;
  setStatus(state.attempt ? `Reconnecting (attempt ${state.attempt + 1})…` : "Connecting…");
  let ticket;
  try {
    ticket = await requestTicket();
  } catch (error) {
    if (seq !== state.connectSeq || !state.wanted) return;
    if (error instanceof TokenRefused) {
      stop(`The token was refused (${error.message}): mint a new one with \`chat token\`.`);
      return;
    }
    scheduleReconnect(0);
    return;
  }
  if (seq !== state.connectSeq || !state.wanted) return;
  url.searchParams.set("ticket", ticket);
  let ws;
  try {
    ws = new WebSocket(url.toString());
  } catch (error) {
    stop(`Cannot open the connection: ${error.message}`);
    return;
  }
  state.ws = ws;
  ws.addEventListener("open", () => {
    if (state.ws !== ws) return;
    state.attempt = 0;
    showError("");
    setStatus("Connected.");
    clearInterval(state.pingTimer);
    state.pingTimer = setInterval(() => sendFrame({ action: "ping" }), PING_INTERVAL_MS);
    for (const room of state.rooms.values()) {
      room.joined = false;
      room.historyPending = null;
      if (room.wanted) sendFrame({ action: "join", room: room.name });
    }
    renderTabs();
    updateControls();
  });
  ws.addEventListener("message", (message) => {
    if (state.ws !== ws) return;
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    const handler = event && typeof event.type === "string" ? handlers[event.type] : null;
    if (handler) handler(event);
  });
  ws.addEventListener("close", (close) => {
    if (state.ws !== ws) return;
    state.ws = null;
    clearInterval(state.pingTimer);
    for (const room of state.rooms.values()) {
      room.joined = false;
      room.historyPending = null;
    }
    renderTabs();
    renderPresence();
    updateControls();
    if (!state.wanted) {
      setStatus("Disconnected.");
      return;
    }
    scheduleReconnect(close.code);
  });
}

function scheduleReconnect(code) {
  if (tokenExpired()) {
    stop("The token has expired: mint a new one with `chat token`.");
    return;
  }
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** state.attempt);
  const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2)); // jittered
  state.attempt += 1;
  const hint = code === 0 ? " (no connect ticket)" : "";
  setStatus(`Connection lost${hint}. Reconnecting in ${Math.ceil(delay / 1000)} s…`);
  state.reconnectTimer = setTimeout(connect, delay);
}

function stop(message) {
  state.wanted = false;
  state.connectSeq += 1;
  clearTimeout(state.reconnectTimer);
  clearInterval(state.pingTimer);
  const ws = state.ws;
  state.ws = null;
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "bye");
  for (const room of state.rooms.values()) {
    room.joined = false;
    room.historyPending = null;
  }
  setStatus(message || "Disconnected.");
  renderTabs();
  renderPresence();
  updateControls();
}

// ---------------------------------------------------------------- UI wiring

ui.connectForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = ui.token.value.trim();
  if (!token) {
    showError("Paste a chat token first.");
    return;
  }
  state.token = token;
  state.me = decodeToken(token);
  if (state.me) {
    const rooms = state.me.rooms.length ? ` · rooms: ${state.me.rooms.join(", ")}` : "";
    ui.identity.textContent = `Signed in as ${state.me.name || state.me.sub || "?"}${rooms}`;
  } else {
    ui.identity.textContent = "The token is not a readable JWT; the server will decide.";
  }
  showError("");
  state.wanted = true;
  state.attempt = 0;
  updateControls();
  connect();
});

ui.disconnect.addEventListener("click", () => stop("Disconnected."));

ui.roomForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = ui.room.value.trim();
  if (!ROOM_RE.test(name)) {
    showError("Room names are lower-case letters, digits, _ and -, starting with a letter or digit.");
    return;
  }
  showError("");
  const room = getRoom(name);
  room.wanted = true;
  state.activeRoom = name;
  if (isOpen()) sendFrame({ action: "join", room: name });
  else if (!state.wanted) setStatus(`Will join ${name} when connected.`);
  activate(name);
});

ui.leave.addEventListener("click", () => {
  const name = state.activeRoom;
  if (!name) return;
  const room = getRoom(name);
  if (isOpen() && room.joined) {
    room.leaving = true;
    sendFrame({ action: "leave", room: name });
  } else {
    room.wanted = false;
    room.joined = false;
    const next = [...state.rooms.values()].find((r) => r.wanted);
    activate(next ? next.name : null);
  }
  updateControls();
});

ui.loadOlder.addEventListener("click", () => {
  if (state.activeRoom) requestHistory(getRoom(state.activeRoom), "older");
});

ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.message.value;
  const room = state.activeRoom;
  if (!room) return;
  if (!/\S/.test(text)) return;
  if (text.length > MAX_TEXT) {
    showError(`Messages are at most ${MAX_TEXT} characters.`);
    return;
  }
  ui.message.value = "";
  queueSend(room, text);
  ui.message.focus();
});

ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.sendForm.requestSubmit();
  }
});

window.addEventListener("online", () => {
  if (state.wanted && !state.ws) {
    state.attempt = 0;
    connect();
  }
});

async function main() {
  state.config = await loadConfig();
  activate(null);
}

main();
