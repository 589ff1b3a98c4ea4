// Words for schedules, instants, durations and task states.

const UNITS = { d: 86400000, h: 3600000, m: 60000, s: 1000, ms: 1, us: 0.001 };
const NAMES = { d: "day", h: "hour", m: "minute", s: "second", ms: "millisecond", us: "microsecond" };

/** Milliseconds in a duration text such as `1h30m` or `500ms` (NaN when it is not one). */
export function durationMs(text) {
  const parts = String(text).match(/\d+(?:\.\d+)?(?:ms|us|d|h|m|s)/g);
  if (!parts || parts.join("") !== String(text)) return NaN;
  return parts.reduce((sum, part) => {
    const [, number, unit] = part.match(/^(\d+(?:\.\d+)?)(ms|us|d|h|m|s)$/);
    return sum + Number(number) * UNITS[unit];
  }, 0);
}

/** `15m` → "15 minutes", `1h30m` → "1 hour 30 minutes". */
export function durationWords(text) {
  const parts = String(text).match(/(\d+(?:\.\d+)?)(ms|us|d|h|m|s)/g) || [String(text)];
  return parts.map((part) => {
    const match = part.match(/^(\d+(?:\.\d+)?)(ms|us|d|h|m|s)$/);
    if (!match) return part;
    const [, number, unit] = match;
    return `${number} ${NAMES[unit]}${number === "1" ? "" : "s"}`;
  }).join(" ");
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const pad = (n) => String(n).padStart(2, "0");

/** A schedule in words: "every 15 minutes", "daily at 02:30 Europe/Lisbon", "once at …". */
export function scheduleWords(schedule) {
  if (!schedule) return "";
  if (schedule.every) {
    return durationMs(schedule.every) === 1000 ? "every second" : `every ${durationWords(schedule.every).replace(/^1 /, "")}`;
  }
  if (schedule.at) return `once at ${formatInstant(schedule.at)}`;
  if (schedule.cron) return cronWords(schedule.cron, schedule.timeZone || "UTC");
  return "";
}

function cronWords(expression, zone) {
  const macros = { "@yearly": "yearly", "@annually": "yearly", "@monthly": "monthly", "@weekly": "weekly", "@daily": "daily at 00:00", "@midnight": "daily at 00:00", "@hourly": "hourly" };
  if (macros[expression.toLowerCase()]) return `${macros[expression.toLowerCase()]} (${zone})`;
  let fields = expression.trim().split(/\s+/);
  if (fields.length === 5) fields = ["0", ...fields];
  if (fields.length !== 6) return `cron ${expression} (${zone})`;
  const [second, minute, hour, dom, month, dow] = fields;
  const number = (field) => /^\d+$/.test(field);
  const step = (field) => field.match(/^(?:\*|0)\/(\d+)$/)?.[1];
  const anyDay = dom === "*" || dom === "?";
  const anyWeekday = dow === "*" || dow === "?";
  if (month === "*" && anyDay && anyWeekday) {
    if (second === "*" && minute === "*" && hour === "*") return "every second";
    if (step(second) && minute === "*" && hour === "*") return `every ${step(second)} seconds`;
    if (number(second) && minute === "*" && hour === "*") return second === "0" ? "every minute" : `every minute at second ${second}`;
    if (number(second) && step(minute) && hour === "*") return `every ${step(minute)} minutes`;
    if (number(second) && number(minute) && hour === "*") return `hourly at minute ${minute}`;
    if (number(second) && number(minute) && number(hour)) {
      return `daily at ${pad(hour)}:${pad(minute)}${second === "0" ? "" : `:${pad(second)}`} ${zone}`;
    }
  }
  if (month === "*" && anyDay && /^[0-7]$/.test(dow) && number(second) && number(minute) && number(hour)) {
    return `every ${DAYS[Number(dow)]} at ${pad(hour)}:${pad(minute)} ${zone}`;
  }
  if (month === "*" && number(dom) && anyWeekday && number(second) && number(minute) && number(hour)) {
    return `monthly on day ${dom} at ${pad(hour)}:${pad(minute)} ${zone}`;
  }
  return `cron ${expression} (${zone})`;
}

/** An instant in the viewer's zone: "Mon 23 Nov, 14:05:09". */
export function formatInstant(iso, zone) {
  if (!iso) return "—";
  const date = new Date(iso);
  const otherYear = date.getFullYear() !== new Date().getFullYear();
  return new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", year: otherYear ? "numeric" : undefined,
    hour: "2-digit", minute: "2-digit", second: "2-digit",
    hour12: false, timeZone: zone, timeZoneName: zone ? "short" : undefined,
  }).format(date);
}

/** "in 3 min", "12 s ago". */
export function relative(iso, now = Date.now()) {
  if (!iso) return "";
  const delta = new Date(iso).getTime() - now;
  const abs = Math.abs(delta);
  const [value, unit] = abs < 1000 ? [0, "s"] : abs < 60000 ? [Math.round(abs / 1000), "s"] : abs < 3600000 ? [Math.round(abs / 60000), "min"]
    : abs < 86400000 ? [Math.round(abs / 3600000), "h"] : [Math.round(abs / 86400000), "d"];
  if (value === 0) return "now";
  return delta > 0 ? `in ${value} ${unit}` : `${value} ${unit} ago`;
}

/** The task's state for people: waiting, running, retrying, paused, last run failed, completed. */
export function taskState(task) {
  if (task.status === "deleted") return { key: "deleted", text: "deleted" };
  if (task.status === "completed") return { key: "completed", text: "completed" };
  if (task.running > 0) return { key: "running", text: task.running > 1 ? `running (${task.running})` : "running" };
  if (task.status === "paused") return { key: "paused", text: "paused" };
  if (task.lastRun?.outcome === "retrying") return { key: "retrying", text: "retrying" };
  if (task.lastRun && ["failed", "interrupted"].includes(task.lastRun.outcome)) return { key: "failed", text: "last run failed" };
  return { key: "waiting", text: "waiting" };
}

export function milliseconds(value) {
  if (value === null || value === undefined) return "—";
  return value < 10 ? value.toFixed(2) : value < 1000 ? value.toFixed(1) : `${(value / 1000).toFixed(2)} s`;
}

/** The task's own time zone, when its schedule has one. */
export const taskZone = (task) => task?.schedule?.timeZone;
