// The task table: filters, live state from the event stream, and the everyday commands.
import { allTasks, task as fetchTask } from "../lib/api.js";
import { h, replace } from "../lib/dom.js";
import { scheduleWords, formatInstant, taskZone } from "../lib/format.js";
import { relativeSpan, ageRelativeTimes, stateBadge, keepingPlace } from "../lib/widgets.js";
import { subscribe } from "../lib/live.js";
import { taskActions } from "./actions.js";

export async function renderTasks(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const status = h("select", { id: "filter-status" },
    ["active,paused,completed", "active,paused", "active", "paused", "completed", "deleted"].map((value) =>
      h("option", { value, selected: value === (params.get("status") || "active,paused,completed") }, value.replaceAll(",", ", "))));
  const label = h("input", { id: "filter-label", placeholder: "team=billing", value: params.get("label") || "" });
  const name = h("input", { id: "filter-name", placeholder: "starts with…", value: params.get("name") || "" });
  const body = h("tbody");
  const summary = h("p", { class: "muted small", role: "status", "aria-live": "polite" });
  const table = h("table", { class: "responsive", "aria-describedby": "tasks-summary" },
    h("thead", {}, h("tr", {}, ["Name", "Schedule", "State", "Next run", "Last outcome", "Runs", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
    body);
  summary.id = "tasks-summary";
  replace(main,
    h("h1", {}, "Tasks"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); load(); } },
      h("div", {}, h("label", { for: "filter-status" }, "Status"), status),
      h("div", {}, h("label", { for: "filter-label" }, "Label"), label),
      h("div", {}, h("label", { for: "filter-name" }, "Name"), name),
      h("button", { type: "submit" }, "Filter")),
    summary, table);
  status.addEventListener("change", load);

  const rows = new Map();
  let tasks = new Map();

  function query() {
    const parts = [`status=${encodeURIComponent(status.value)}`];
    for (const item of label.value.split(/[\s,]+/).filter(Boolean)) parts.push(`label=${encodeURIComponent(item)}`);
    if (name.value.trim()) parts.push(`namePrefix=${encodeURIComponent(name.value.trim())}`);
    return parts.join("&");
  }

  function matches(task) {
    if (!status.value.split(",").includes(task.status)) return false;
    if (name.value.trim() && !task.name.startsWith(name.value.trim())) return false;
    for (const item of label.value.split(/[\s,]+/).filter(Boolean)) {
      const [key, value] = item.split("=");
      if (!(key in task.labels) || (value !== undefined && task.labels[key] !== value)) return false;
    }
    return true;
  }

  function row(task) {
    const zone = taskZone(task);
    const viewer = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const next = task.nextRunAt && task.status === "active"
      ? h("span", {},
        relativeSpan(task.nextRunAt), h("br"), h("span", { class: "muted small" }, `${formatInstant(task.nextRunAt)} your time`),
        zone && zone !== viewer ? [h("br"), h("span", { class: "muted small" }, `${formatInstant(task.nextRunAt, zone)} ${zone}`)] : null)
      : h("span", { class: "muted" }, "—");
    const last = task.lastRun
      ? h("span", { class: `outcome-${task.lastRun.outcome}` }, task.lastRun.outcome,
        task.lastRun.statusCode ? ` (${task.lastRun.statusCode})` : "", h("br"), h("span", { class: "muted small" }, relativeSpan(task.lastRun.at)))
      : h("span", { class: "muted" }, "no run yet");
    return h("tr", { dataset: { taskId: task.id } },
      h("td", { "data-label": "Name" }, h("a", { href: `#/tasks/${encodeURIComponent(task.id)}` }, task.name),
        Object.keys(task.labels).length ? h("div", { class: "muted small" }, Object.entries(task.labels).map(([k, v]) => `${k}=${v}`).join(" ")) : null),
      h("td", { "data-label": "Schedule" }, scheduleWords(task.schedule)),
      h("td", { "data-label": "State" }, stateBadge(task)),
      h("td", { "data-label": "Next run" }, next),
      h("td", { "data-label": "Last outcome" }, last),
      h("td", { "data-label": "Runs", class: "num" }, `${task.counts.succeeded} ok / ${task.counts.failed} failed`),
      h("td", { "data-label": "Actions" }, taskActions(task, { onDone: (name) => {
        refresh(task.id);
        if (name === "delete") main.querySelector("h1")?.focus();
      } })));
  }

  function draw() {
    const sorted = [...tasks.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    rows.clear();
    if (!sorted.length) {
      replace(body, h("tr", {}, h("td", { colspan: 7 }, h("div", { class: "empty" }, "No tasks match. ", h("a", { href: "#/tasks/new" }, "Create one")))));
    } else {
      replace(body, sorted.map((task) => { const r = row(task); rows.set(task.id, r); return r; }));
    }
    summary.textContent = `${sorted.length} task${sorted.length === 1 ? "" : "s"}`;
  }

  async function load() {
    tasks = new Map((await allTasks(query())).map((task) => [task.id, task]));
    draw();
  }

  async function refresh(id) {
    let task;
    try { task = await fetchTask(id); } catch { tasks.delete(id); draw(); return; }
    if (matches(task)) {
      const known = tasks.has(id);
      tasks.set(id, task);
      if (known && rows.has(id)) swapRow(id, row(task)); else draw();
    } else if (tasks.delete(id)) draw();
  }

  /** Replaces a row, keeping the keyboard focus on the same control. */
  function swapRow(id, fresh) {
    keepingPlace(body, () => { rows.get(id).replaceWith(fresh); rows.set(id, fresh); });
  }

  await load();
  // Relative times age: rewrite them every 5 s. Events refresh the task they concern.
  const stopAging = ageRelativeTimes(main);
  const pending = new Set();
  let timer;
  const unsubscribe = subscribe((event) => {
    pending.add(event.taskId);
    clearTimeout(timer);
    timer = setTimeout(() => { const ids = [...pending]; pending.clear(); ids.forEach(refresh); }, 150);
  });
  return () => { unsubscribe(); stopAging(); clearTimeout(timer); };
}
