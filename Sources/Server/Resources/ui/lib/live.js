// The server's event stream (GET /v1/stream), shared by every view. EventSource reconnects
// by itself and sends Last-Event-ID, so no event is missed across a reconnect.

const listeners = new Set();
let source;

export function connect() {
  const status = document.getElementById("live-status");
  source = new EventSource("/v1/stream");
  source.addEventListener("open", () => { status.textContent = "live"; status.className = "live on"; });
  source.addEventListener("error", () => { status.textContent = "reconnecting…"; status.className = "live off"; });
  const types = ["TaskCreated", "TaskUpdated", "TaskPaused", "TaskResumed", "TaskDeleted", "TaskCompleted", "RunTriggered",
    "RunStarted", "RunSucceeded", "RunFailed", "RunRetryScheduled", "OccurrenceSkipped"];
  for (const type of types) {
    source.addEventListener(type, (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      for (const listener of listeners) listener(event);
    });
  }
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
