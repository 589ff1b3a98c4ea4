// The server's event stream (GET /v1/stream), shared by every view. Read with fetch rather
// than EventSource so it can carry the API token; after a drop it reconnects with
// Last-Event-ID, so no event is missed across a reconnect.
import { token } from "./api.js";

const listeners = new Set();
let controller;
let lastEventId = null;
let retryMs = 2000;

function setStatus(text, on) {
  const status = document.getElementById("live-status");
  status.textContent = text;
  status.className = on ? "live on" : "live off";
}

/** Opens (or reopens, after a new token) the stream. */
export function connect() {
  if (controller) controller.abort();
  const own = new AbortController();
  controller = own;
  run(own).catch(() => {});
}

async function run(own) {
  while (!own.signal.aborted) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (token()) headers.Authorization = `Bearer ${token()}`;
      if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
      const response = await fetch("/v1/stream", { headers, signal: own.signal, cache: "no-store" });
      if (response.status === 401 || response.status === 403) {
        // Waits for a token: the sign-in form calls connect() again.
        setStatus("signed out", false);
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      setStatus("live", true);
      await read(response.body, own);
    } catch (error) {
      if (own.signal.aborted) return;
    }
    setStatus("reconnecting…", false);
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

/** Parses Server-Sent Events (text/event-stream) from `body` until it ends. */
async function read(body, own) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let message = { event: "message", data: [], id: null };
  while (!own.signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (message.id !== null) lastEventId = message.id;
        if (message.data.length) dispatch(message.event, message.data.join("\n"));
        message = { event: "message", data: [], id: null };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let text = colon < 0 ? "" : line.slice(colon + 1);
      if (text.startsWith(" ")) text = text.slice(1);
      if (field === "event") message.event = text;
      else if (field === "data") message.data.push(text);
      else if (field === "id") message.id = text;
      else if (field === "retry" && /^\d+$/.test(text)) retryMs = Number(text);
    }
  }
}

function dispatch(type, data) {
  if (type === "message") return;
  let event;
  try { event = JSON.parse(data); } catch { return; }
  for (const listener of listeners) listener(event);
}

/** Calls `listener(event)` for each event until the returned function is called. */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Calls `callback` at most once per `wait` ms, after the last of a burst of calls. */
export function debounce(callback, wait = 300) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => callback(...args), wait); };
}
