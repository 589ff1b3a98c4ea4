// The overview: tasks by state, runs per minute and lateness over the last hour, what runs
// in the next hour, and recent failures.
import { allTasks, get } from "../lib/api.js";
import { h, svg, replace } from "../lib/dom.js";
import { formatInstant, milliseconds, scheduleWords, taskState } from "../lib/format.js";
import { subscribe } from "../lib/live.js";
import { relativeSpan, ageRelativeTimes, keepingPlace } from "../lib/widgets.js";

export async function renderDashboard(main) {
  const cards = h("div", { class: "cards", role: "list" });
  const activity = h("section", { "aria-labelledby": "activity-title" });
  const upcoming = h("section", { "aria-labelledby": "upcoming-title" });
  const failures = h("section", { "aria-labelledby": "failures-title" });
  replace(main, h("h1", {}, "Dashboard"), cards, activity, upcoming, failures);

  async function draw() {
    const now = Date.now();
    const [tasks, stats, failed] = await Promise.all([
      allTasks("status=active,paused,completed"),
      get("/v1/stats/runs"),
      get("/v1/runs?outcome=failed&limit=10"),
    ]);
    const counts = { waiting: 0, running: 0, retrying: 0, paused: 0, failed: 0, completed: 0 };
    for (const task of tasks) counts[taskState(task).key] += 1;
    replace(cards, Object.entries({ Tasks: tasks.length, Waiting: counts.waiting, Running: counts.running, Retrying: counts.retrying,
      Paused: counts.paused, "Last run failed": counts.failed, Completed: counts.completed })
      .map(([label, value]) => h("div", { class: "card", role: "listitem" }, h("div", { class: "value" }, value), h("div", { class: "label" }, label))));

    // Counted by the server from the journal: every run of the last hour, minute by minute.
    const perMinute = stats.minutes.slice(-60).map((minute) => minute.started);
    while (perMinute.length < 60) perMinute.unshift(0);
    const max = Math.max(1, ...perMinute);
    const width = 900, height = 120;
    const bar = (width - 40) / 60;
    replace(activity, h("h2", { id: "activity-title" }, "Last hour"),
      h("div", { class: "cards" },
        h("div", { class: "card" }, h("div", { class: "value" }, stats.started), h("div", { class: "label" }, "runs started")),
        h("div", { class: "card" }, h("div", { class: "value" }, milliseconds(stats.latenessMs.p50)), h("div", { class: "label" }, "lateness p50 (ms)")),
        h("div", { class: "card" }, h("div", { class: "value" }, milliseconds(stats.latenessMs.p99)), h("div", { class: "label" }, "lateness p99 (ms)")),
        h("div", { class: "card" }, h("div", { class: "value" }, stats.failed), h("div", { class: "label" }, "attempts failed"))),
      h("h3", { class: "small muted" }, "Runs started per minute"),
      svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height + 20}`, role: "img", "aria-label": `Runs per minute over the last hour; at most ${max} in a minute` },
        perMinute.map((count, index) => svg("rect", {
          x: 30 + index * bar, y: height - (count / max) * (height - 10), width: Math.max(bar - 2, 1), height: (count / max) * (height - 10), fill: "#0969da",
        }, svg("title", {}, `${count} run${count === 1 ? "" : "s"}, ${60 - index} min ago`))),
        svg("text", { x: 30, y: height + 15 }, "60 min ago"), svg("text", { x: width - 10, y: height + 15, "text-anchor": "end" }, "now"),
        svg("text", { x: 26, y: 14, "text-anchor": "end" }, String(max))),
      stats.complete ? null : h("p", { class: "muted small" },
        `Counted from the first ${stats.eventsScanned.toLocaleString()} journal events of the hour only: the hour held more.`));

    const soon = tasks.filter((task) => task.status === "active" && task.nextRunAt && new Date(task.nextRunAt).getTime() < now + 3600000)
      .sort((a, b) => a.nextRunAt.localeCompare(b.nextRunAt)).slice(0, 20);
    replace(upcoming, h("h2", { id: "upcoming-title" }, "Next hour"),
      soon.length ? h("table", { class: "responsive" },
        h("thead", {}, h("tr", {}, ["When", "Task", "Schedule"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, soon.map((task) => h("tr", {},
          h("td", { "data-label": "When" }, relativeSpan(task.nextRunAt), h("div", { class: "muted small" }, formatInstant(task.nextRunAt))),
          h("td", { "data-label": "Task" }, h("a", { href: `#/tasks/${encodeURIComponent(task.id)}` }, task.name)),
          h("td", { "data-label": "Schedule" }, scheduleWords(task.schedule))))))
        : h("div", { class: "empty" }, "Nothing runs in the next hour."));

    const names = new Map(tasks.map((task) => [task.id, task.name]));
    replace(failures, h("h2", { id: "failures-title" }, "Recent failures"),
      failed.items.length ? h("table", { class: "responsive" },
        h("thead", {}, h("tr", {}, ["When", "Task", "Attempt", "Error"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, failed.items.map((run) => h("tr", {},
          h("td", { "data-label": "When" }, relativeSpan(run.startedAt)),
          h("td", { "data-label": "Task" }, h("a", { href: `#/tasks/${encodeURIComponent(run.taskId)}` }, names.get(run.taskId) || run.taskId)),
          h("td", { "data-label": "Attempt", class: "num" }, run.attempt),
          h("td", { "data-label": "Error" }, run.error || (run.statusCode ? `HTTP ${run.statusCode}` : "—"))))))
        : h("div", { class: "empty" }, "No failures."));
  }

  await draw();
  const stopAging = ageRelativeTimes(main);
  let timer;
  const unsubscribe = subscribe(() => { clearTimeout(timer); timer = setTimeout(() => keepingPlace(main, draw).catch(() => {}), 1000); });
  return () => { unsubscribe(); stopAging(); clearTimeout(timer); };
}
