// One task: its definition (now, or as of an earlier instant), the run timeline, the run log
// and the event history — who did what, when and why.
import { task as fetchTask, get, may } from "../lib/api.js";
import { h, svg, replace } from "../lib/dom.js";
import { scheduleWords, formatInstant, milliseconds, taskZone } from "../lib/format.js";
import { subscribe } from "../lib/live.js";
import { relativeSpan, ageRelativeTimes, stateBadge, keepingPlace } from "../lib/widgets.js";
import { taskActions } from "./actions.js";

const COLORS = { succeeded: "#1a7f37", failed: "#cf222e", interrupted: "#7d1a1a", retrying: "#9a6700", running: "#0969da", skipped: "#8250df" };

export async function renderTask(main, [rawId]) {
  const id = decodeURIComponent(rawId);
  const asOfParam = new URLSearchParams(location.hash.split("?")[1] || "").get("asOf");
  const header = h("div");
  const status = h("div");
  const asOfInput = h("input", { type: "datetime-local", id: "as-of", step: 1 });
  if (asOfParam) {
    const at = new Date(asOfParam);
    asOfInput.value = new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  }
  const asOfForm = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); if (asOfInput.value) location.hash = `#/tasks/${encodeURIComponent(id)}?asOf=${encodeURIComponent(new Date(asOfInput.value).toISOString())}`; } },
    h("div", {}, h("label", { for: "as-of" }, "Show as of (your time)"), asOfInput),
    h("button", { type: "submit" }, "Show"),
    asOfParam ? h("a", { class: "button", href: `#/tasks/${encodeURIComponent(id)}` }, "Show it now") : null);
  const asOfLimit = asOfParam ? new Date(asOfParam).getTime() : Infinity;
  const reasonInput = h("input", { id: "action-reason", class: "wide", autocomplete: "off", maxlength: 500, placeholder: "e.g. maintenance window" });
  const reasonField = h("div", { class: "field" }, h("label", { for: "action-reason" }, "Reason for pause, resume or run now (optional, recorded in the history)"), reasonInput);
  const definition = h("section", { "aria-labelledby": "def-title" });
  const timeline = h("section", { "aria-labelledby": "timeline-title" });
  const runsSection = h("section", { "aria-labelledby": "runs-title" });
  const history = h("section", { "aria-labelledby": "history-title" });
  replace(main, header, definition, timeline, runsSection, history);

  async function drawTask() {
    let task;
    try {
      task = await fetchTask(id, asOfParam);
    } catch (error) {
      if (!asOfParam) throw error;
      replace(header, h("p", { class: "small" }, h("a", { href: "#/tasks" }, "← All tasks")), h("h1", {}, "Not there yet"),
        h("div", { class: "banner", role: "note" }, `The task did not exist at ${formatInstant(asOfParam)}. Pick a later instant, or `,
          h("a", { href: `#/tasks/${encodeURIComponent(id)}` }, "show it now"), "."), asOfForm);
      return;
    }
    const zone = taskZone(task);
    if (!header.firstChild || header.querySelector("h1")?.textContent !== task.name) {
      replace(header,
        h("p", { class: "small" }, h("a", { href: "#/tasks" }, "← All tasks")),
        h("h1", {}, task.name),
        asOfParam ? h("div", { class: "banner", role: "note" }, `Shown as it was at ${formatInstant(asOfParam)}: the definition and state from the journal then, and only the runs and history up to that instant.`) : null,
        status, asOfForm);
    }
    replace(status,
      h("p", {}, stateBadge(task), "  ", h("span", { class: "muted" }, scheduleWords(task.schedule))),
      asOfParam || task.status === "deleted" ? null : reasonField,
      asOfParam ? null : h("div", { class: "actions" }, taskActions(task, { reason: reasonInput, onDone: (name) => { if (name === "delete") location.hash = "#/tasks"; else drawTask(); } }),
        task.status !== "deleted" && may("admin") ? h("a", { class: "button", href: `#/tasks/${encodeURIComponent(id)}/edit` }, "Edit") : null));
    const a = task.action;
    replace(definition,
      h("h2", { id: "def-title" }, "Definition"),
      h("dl", { class: "definition" },
        h("dt", {}, "Id"), h("dd", {}, h("code", {}, task.id)),
        h("dt", {}, "Namespace"), h("dd", {}, task.namespace || "default"),
        task.description ? [h("dt", {}, "Description"), h("dd", {}, task.description)] : null,
        h("dt", {}, "Schedule"), h("dd", {}, scheduleWords(task.schedule), h("div", { class: "muted small" }, JSON.stringify(task.schedule))),
        h("dt", {}, "Next run"), h("dd", {}, task.nextRunAt && task.status === "active"
          ? [asOfParam ? "" : [relativeSpan(task.nextRunAt), " · "], formatInstant(task.nextRunAt), zone ? ` · ${formatInstant(task.nextRunAt, zone)} (task's zone)` : ""] : "—"),
        h("dt", {}, "Webhook"), h("dd", {}, h("code", {}, `${a.method} ${a.url}`), ` · timeout ${a.timeout}`),
        Object.keys(a.headers || {}).length ? [h("dt", {}, "Headers"), h("dd", {}, h("pre", {}, Object.entries(a.headers).map(([k, v]) => `${k}: ${typeof v === "string" ? v : "•••••• (secret)"}`).join("\n")))] : null,
        h("dt", {}, "Signed with"), h("dd", {}, a.signingSecret ? "the task's own secret (stored encrypted)" : "the server's signing secret"),
        a.body ? [h("dt", {}, "Body"), h("dd", {}, h("pre", {}, a.body))] : null,
        h("dt", {}, "Retries"), h("dd", {}, task.retry.maxAttempts > 1
          ? `up to ${task.retry.maxAttempts} attempts, backoff ${task.retry.initialBackoff} × ${task.retry.multiplier} up to ${task.retry.maxBackoff}, full jitter` : "none"),
        h("dt", {}, "Overlap"), h("dd", {}, task.overlap === "forbid" ? "skip a run while the previous one is going" : "runs may overlap"),
        h("dt", {}, "Missed runs"), h("dd", {}, { runOnce: "run once for the latest", runAll: `run each (up to ${task.misfireLimit ?? 100})`, skip: "skip them" }[task.misfire]),
        Object.keys(task.labels).length ? [h("dt", {}, "Labels"), h("dd", {}, Object.entries(task.labels).map(([k, v]) => `${k}=${v}`).join(", "))] : null,
        h("dt", {}, "Counts"), h("dd", {}, `${task.counts.runs} run${task.counts.runs === 1 ? "" : "s"}: ${task.counts.succeeded} succeeded, ${task.counts.failed} failed, ${task.counts.skipped} skipped`),
        h("dt", {}, "Version"), h("dd", {}, `${task.version} · created ${formatInstant(task.createdAt)} · updated ${formatInstant(task.updatedAt)}`)));
  }

  async function drawRuns() {
    const page = await get(`/v1/tasks/${encodeURIComponent(id)}/runs?limit=1000`);
    const runs = page.items.filter((run) => new Date(run.startedAt).getTime() <= asOfLimit);
    replace(timeline, h("h2", { id: "timeline-title" }, "Run timeline"), chart(runs));
    replace(runsSection, h("h2", { id: "runs-title" }, "Runs"),
      runs.length ? h("table", { class: "responsive" },
        h("thead", {}, h("tr", {}, ["Scheduled", "Attempt", "Outcome", "HTTP", "Late (ms)", "Took (ms)", "Error or response"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, runs.map((run) => h("tr", { dataset: { runId: run.id } },
          h("td", { "data-label": "Scheduled" }, formatInstant(run.scheduledAt), h("div", { class: "muted small" }, relativeSpan(run.startedAt))),
          h("td", { "data-label": "Attempt", class: "num" }, run.attempt),
          h("td", { "data-label": "Outcome", class: `outcome-${run.outcome}` }, run.outcome, run.skipReason ? ` (${run.skipReason})` : ""),
          h("td", { "data-label": "HTTP", class: "num" }, run.statusCode ?? "—"),
          h("td", { "data-label": "Late (ms)", class: "num" }, milliseconds(run.latenessMs)),
          h("td", { "data-label": "Took (ms)", class: "num" }, milliseconds(run.durationMs)),
          h("td", { "data-label": "Error or response" }, run.error ? h("span", { class: "outcome-failed" }, run.error) : null,
            run.responseExcerpt ? h("details", { "data-key": run.id }, h("summary", {}, "response"), h("pre", {}, run.responseExcerpt)) : null)))))
        : h("div", { class: "empty" }, "No runs yet."),
      h("p", { class: "muted small" }, "The server keeps the most recent runs of each task in memory; the journal keeps them all (see the history below)."));
  }

  let historyLimit = 200;
  async function drawHistory() {
    const events = [];
    let after = 0;
    for (let page = 0; page < 20; page++) {
      const answer = await get(`/v1/tasks/${encodeURIComponent(id)}/events?after=${after}&limit=1000`);
      events.push(...answer.items);
      if (answer.items.length < 1000) break;
      after = answer.nextAfter;
    }
    const visible = events.filter((event) => new Date(event.recordedAt).getTime() <= asOfLimit).reverse();
    const shown = visible.slice(0, historyLimit);
    replace(history, h("h2", { id: "history-title" }, "History"),
      h("table", { class: "responsive" },
        h("thead", {}, h("tr", {}, ["When", "Who", "What", "Why"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, shown.map((event) => h("tr", {},
          h("td", { "data-label": "When" }, formatInstant(event.recordedAt), h("div", { class: "muted small" }, `#${event.version}`)),
          h("td", { "data-label": "Who" }, event.actor),
          h("td", { "data-label": "What" }, explain(event)),
          h("td", { "data-label": "Why" }, event.reason || h("span", { class: "muted" }, "—")))))),
      visible.length > shown.length ? h("p", { class: "muted small" }, `The latest ${shown.length} of ${visible.length} events. `,
        h("button", { type: "button", class: "link", onclick: () => { historyLimit += 200; drawHistory(); } }, "Show 200 older events")) : null);
  }

  await Promise.all([drawTask(), drawRuns(), drawHistory()]);
  const stopAging = ageRelativeTimes(main);
  let timer;
  const unsubscribe = asOfParam ? () => {} : subscribe((event) => {
    if (event.taskId !== id) return;
    clearTimeout(timer);
    timer = setTimeout(() => keepingPlace(main, () => Promise.all([drawTask(), drawRuns(), drawHistory()])).catch(() => {}), 200);
  });
  return () => { unsubscribe(); stopAging(); clearTimeout(timer); };
}

/** One line per event, in words. */
function explain(event) {
  const data = event.data || {};
  const at = (iso) => (iso ? formatInstant(iso) : "—");
  switch (event.type) {
    case "TaskCreated": return `created; first run ${at(data.nextDueAt)}`;
    case "TaskUpdated": return `definition replaced; next run ${at(data.nextDueAt)}`;
    case "TaskPaused": return "paused";
    case "TaskResumed": return `resumed; next run ${at(data.nextDueAt)}`;
    case "TaskDeleted": return "deleted";
    case "TaskCompleted": return "completed: no further runs";
    case "RunTriggered": return `run requested by hand (trigger ${data.triggerId ?? data.trigger ?? ""})`;
    case "RunStarted": return `run started for ${at(data.scheduledAt)} (attempt ${data.attempt ?? 1})`;
    case "RunSucceeded": return `run succeeded${data.statusCode ? ` with ${data.statusCode}` : ""}`;
    case "RunFailed": return `run ${data.interrupted ? "interrupted" : "failed"}${data.error ? `: ${data.error}` : data.statusCode ? ` with ${data.statusCode}` : ""}`;
    case "RunRetryScheduled": return `retry ${data.attempt} due ${at(data.dueAt)}`;
    case "OccurrenceSkipped": return `run for ${at(data.scheduledAt)} skipped (${data.reason})`;
    default: return event.type;
  }
}

/** Runs by scheduled instant (x) against milliseconds (y, log scale): a bar from the lateness
 *  to the lateness plus the duration, coloured by outcome. */
function chart(runs) {
  const plotted = runs.filter((run) => run.latenessMs !== null && run.latenessMs !== undefined);
  if (!plotted.length) return h("div", { class: "empty" }, "No runs to chart yet.");
  const width = 900, height = 240, left = 56, right = 12, top = 12, bottom = 36;
  const times = plotted.map((run) => new Date(run.scheduledAt).getTime());
  let [t0, t1] = [Math.min(...times), Math.max(...times)];
  if (t1 === t0) { t0 -= 60000; t1 += 60000; }
  const values = plotted.flatMap((run) => [Math.max(run.latenessMs, 0.01), Math.max(run.latenessMs + (run.durationMs || 0), 0.01)]);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values) * 1.01)));
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => height - bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) * (height - top - bottom);
  const ticks = [];
  for (let v = lo; v <= hi; v *= 10) ticks.push(v);
  // Failures are drawn last, on top; later attempts of an occurrence sit a little to the right.
  const order = { succeeded: 0, skipped: 0, running: 1, retrying: 2, interrupted: 3, failed: 4 };
  const marks = [...plotted].sort((a, b) => (order[a.outcome] ?? 0) - (order[b.outcome] ?? 0)).map((run) => {
    const t = new Date(run.scheduledAt).getTime();
    const dx = Math.min(run.attempt - 1, 5) * 5;
    const y1 = y(Math.max(run.latenessMs, 0.01)), y2 = y(Math.max(run.latenessMs + (run.durationMs || 0), 0.01));
    return svg("g", {},
      svg("title", {}, `${run.outcome} · scheduled ${formatInstant(run.scheduledAt)} · late ${milliseconds(run.latenessMs)} ms · took ${milliseconds(run.durationMs)} ms`),
      svg("line", { x1: x(t) + dx, x2: x(t) + dx, y1: y1, y2: Math.min(y2, y1 - 2), stroke: COLORS[run.outcome] || "#57606a", "stroke-width": 4, "stroke-linecap": "round" }),
      svg("circle", { cx: x(t) + dx, cy: y1, r: 3, fill: COLORS[run.outcome] || "#57606a" }));
  });
  const figure = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Run timeline: ${plotted.length} runs from ${formatInstant(new Date(t0).toISOString())} to ${formatInstant(new Date(t1).toISOString())}` },
    ticks.map((v) => svg("g", {},
      svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#d0d7de" }),
      svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, v >= 1000 ? `${v / 1000} s` : `${v} ms`))),
    svg("text", { x: left, y: height - 10 }, formatInstant(new Date(t0).toISOString())),
    svg("text", { x: width - right, y: height - 10, "text-anchor": "end" }, formatInstant(new Date(t1).toISOString())),
    marks);
  return h("figure", { style: undefined },
    figure,
    h("figcaption", { class: "legend" }, "Dot: lateness; bar: lateness plus duration (log scale); retries of an occurrence sit to the right of its first attempt.",
      Object.keys(COLORS).map((outcome) => h("span", { class: outcome }, outcome))));
}
