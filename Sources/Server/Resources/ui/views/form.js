// Create and edit a task: schedule with a live preview of its next occurrences, the webhook,
// and the policies. Errors the server names are shown next to their fields.
import { task as fetchTask, createTask, replaceTask, preview, ApiError } from "../lib/api.js";
import { h, replace, toast } from "../lib/dom.js";
import { scheduleWords, formatInstant } from "../lib/format.js";
import { debounce } from "../lib/live.js";

const CRON_EXAMPLES = [
  ["0 * * * * *", "every minute"],
  ["0 */15 * * * *", "every 15 minutes"],
  ["0 30 2 * * *", "every day at 02:30"],
  ["0 0 9 * * MON-FRI", "weekdays at 09:00"],
  ["0 0 18 * * 5L", "last Friday of the month at 18:00"],
  ["0 0 0 1 * *", "first day of every month"],
];

const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
/** How a stored secret shows in the form: the server never sends its value back. */
const KEPT = "••••••";

/** A labelled input with its hint and the place its error goes; `name` is the API field. */
function field(name, labelText, control, hint) {
  const id = control.id || `f-${name.replaceAll(".", "-")}`;
  control.id = id;
  control.name = name;
  const error = h("div", { class: "error", id: `${id}-error`, hidden: true });
  const hintNode = hint ? h("div", { class: "hint", id: `${id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" "));
  return h("div", { class: "field", dataset: { field: name } }, h("label", { for: id }, labelText), control, hintNode, error);
}

function toLocalInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 19);
}
const fromLocalInput = (value) => (value ? new Date(value).toISOString() : undefined);

export async function renderForm(main, [taskId]) {
  const editing = Boolean(taskId);
  const existing = editing ? await fetchTask(decodeURIComponent(taskId)) : null;
  const d = existing || {};
  const schedule = d.schedule || { every: "1m" };
  const initialKind = schedule.cron ? "cron" : schedule.at ? "at" : "every";

  const inputs = {
    name: h("input", { class: "wide", required: true, maxlength: 200, value: d.name || "", autocomplete: "off" }),
    description: h("textarea", { rows: 2 }, d.description || ""),
    labels: h("textarea", { rows: 2, placeholder: "team=billing" }, Object.entries(d.labels || {}).map(([k, v]) => `${k}=${v}`).join("\n")),
    cron: h("input", { class: "wide", value: schedule.cron || "0 */15 * * * *", spellcheck: "false", autocomplete: "off" }),
    timeZone: h("input", { class: "wide", list: "zones", value: schedule.timeZone || viewerZone, autocomplete: "off" }),
    at: h("input", { type: "datetime-local", step: 1, value: toLocalInput(schedule.at) }),
    every: h("input", { value: schedule.every || "1m", spellcheck: "false", autocomplete: "off" }),
    startAt: h("input", { type: "datetime-local", step: 1, value: toLocalInput(schedule.startAt) }),
    endAt: h("input", { type: "datetime-local", step: 1, value: toLocalInput(schedule.endAt) }),
    method: h("select", {}, ["POST", "GET", "PUT", "PATCH", "DELETE"].map((m) => h("option", { selected: m === (d.action?.method || "POST") }, m))),
    url: h("input", { class: "wide", type: "url", required: true, value: d.action?.url || "", placeholder: "https://example.com/hook", autocomplete: "off" }),
    headers: h("textarea", { rows: 3, placeholder: "X-Team: billing" },
      Object.entries(d.action?.headers || {}).filter(([, v]) => typeof v === "string").map(([k, v]) => `${k}: ${v}`).join("\n")),
    // Secret values are never sent back by the server: a stored one shows as KEPT and stays unless replaced.
    secretHeaders: h("textarea", { rows: 2, placeholder: "Authorization: Bearer …", spellcheck: "false", autocomplete: "off" },
      Object.entries(d.action?.headers || {}).filter(([, v]) => typeof v !== "string").map(([k]) => `${k}: ${KEPT}`).join("\n")),
    signingSecret: h("input", { class: "wide", type: "password", autocomplete: "new-password", spellcheck: "false",
      placeholder: d.action?.signingSecret ? "stored — leave blank to keep it" : "whsec_… (blank: the server's secret)" }),
    dropSigningSecret: h("input", { type: "checkbox" }),
    body: h("textarea", { rows: 4, placeholder: '{"run": "{{runId}}"}' }, d.action?.body || ""),
    timeout: h("input", { value: d.action?.timeout || "30s" }),
    maxAttempts: h("input", { type: "number", min: 1, max: 100, value: d.retry?.maxAttempts ?? 1 }),
    initialBackoff: h("input", { value: d.retry?.initialBackoff || "1s" }),
    maxBackoff: h("input", { value: d.retry?.maxBackoff || "5m" }),
    multiplier: h("input", { type: "number", min: 1, max: 10, step: "0.1", value: d.retry?.multiplier ?? 2 }),
    misfireLimit: h("input", { type: "number", min: 1, value: d.misfireLimit ?? 100 }),
  };

  const zones = h("datalist", { id: "zones" }, ["UTC", ...(Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [])].map((z) => h("option", { value: z })));
  const kindRadios = ["every", "cron", "at"].map((kind) =>
    h("label", {}, h("input", { type: "radio", name: "kind", value: kind, checked: kind === initialKind }),
      { every: "Every (fixed interval)", cron: "Cron (calendar)", at: "Once (at an instant)" }[kind]));
  const examples = h("select", { id: "cron-examples", "aria-label": "Cron examples" },
    h("option", { value: "" }, "Examples…"), CRON_EXAMPLES.map(([expression, words]) => h("option", { value: expression }, `${words}: ${expression}`)));
  examples.addEventListener("change", () => { if (examples.value) { inputs.cron.value = examples.value; update(); } });
  const cronWords = h("div", { class: "hint", "aria-live": "polite" });

  const parts = {
    every: h("div", {}, field("schedule.every", "Every", inputs.every, "A duration: 90s, 15m, 1h30m, 1d. Runs fall on multiples of it from the anchor (the start, or the Unix epoch).")),
    cron: h("div", {},
      field("schedule.cron", "Cron expression", inputs.cron,
        "Six fields: second minute hour day-of-month month day-of-week (five without seconds). Names (MON, JAN), ranges 1-5, steps */15, lists, L, W and # work."),
      h("div", { class: "field" }, examples), cronWords,
      field("schedule.timeZone", "Time zone", inputs.timeZone, "IANA name, e.g. Europe/Lisbon. Daylight-saving changes are handled: see the preview.")),
    at: h("div", {}, field("schedule.at", `At (your time zone, ${viewerZone})`, inputs.at)),
  };

  const previewList = h("ol", {});
  const previewStatus = h("p", { class: "muted small", role: "status", "aria-live": "polite" });
  const previewBox = h("aside", { class: "preview", "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title" }, "Next 10 runs"), previewStatus, previewList);

  const formError = h("div", { class: "problem", role: "alert", hidden: true, tabindex: -1 });
  const explanation = (text) => h("div", { class: "choice-help" }, text);
  const radio = (name, value, text, help, current) => [
    h("label", {}, h("input", { type: "radio", name, value, checked: value === current }), text), explanation(help)];

  const form = h("form", { novalidate: true, onsubmit: submit },
    formError,
    h("fieldset", {}, h("legend", {}, "Task"),
      field("name", "Name", inputs.name),
      field("description", "Description", inputs.description),
      field("labels", "Labels", inputs.labels, "One key=value per line; filter the task list by them.")),
    h("fieldset", {}, h("legend", {}, "Schedule"),
      h("div", { class: "choices", role: "radiogroup", "aria-label": "Kind of schedule" }, kindRadios),
      parts.every, parts.cron, parts.at,
      h("div", { class: "grid2" },
        field("schedule.startAt", "Starts (optional, your time)", inputs.startAt),
        field("schedule.endAt", "Ends (optional, your time)", inputs.endAt))),
    h("fieldset", {}, h("legend", {}, "Webhook"),
      field("action.url", "URL", inputs.url, "http or https."),
      h("div", { class: "grid2" }, field("action.method", "Method", inputs.method), field("action.timeout", "Timeout", inputs.timeout, "e.g. 10s; at most 1h.")),
      field("action.headers", "Headers", inputs.headers, "One Name: value per line."),
      field("action.secretHeaders", "Secret headers", inputs.secretHeaders,
        `One Name: value per line. Stored encrypted and never shown again; leave ${KEPT} to keep a stored value.`),
      field("action.signingSecret", "Signing secret of this task", inputs.signingSecret,
        "Calls are signed with it instead of the server's secret (Standard Webhooks); stored encrypted, never shown again."),
      d.action?.signingSecret ? h("label", { class: "inline" }, inputs.dropSigningSecret, " Drop the stored signing secret (sign with the server's)") : null,
      field("action.body", "Body", inputs.body),
      h("p", { class: "hint placeholders" }, "Placeholders: ",
        ["{{taskId}}", "{{runId}}", "{{occurrenceId}}", "{{scheduledAt}}", "{{firedAt}}", "{{attempt}}"].map((p) => h("code", {}, p)),
        "Every call also carries Idempotency-Key (the occurrence id, the same on every retry)."),
    ),
    h("fieldset", {}, h("legend", {}, "When a call fails"),
      h("div", { class: "grid2" },
        field("retry.maxAttempts", "Attempts", inputs.maxAttempts, "1 means no retry."),
        field("retry.multiplier", "Backoff multiplier", inputs.multiplier),
        field("retry.initialBackoff", "First backoff", inputs.initialBackoff),
        field("retry.maxBackoff", "Longest backoff", inputs.maxBackoff)),
      h("p", { class: "hint" }, "Retries wait a random time up to the backoff (full jitter); a pending retry survives restarts and never delays the next regular run.")),
    h("fieldset", { "data-field": "overlap" }, h("legend", {}, "If the previous run is still going"),
      radio("overlap", "allow", "Run anyway", "Runs may overlap.", d.overlap || "allow"),
      radio("overlap", "forbid", "Skip this run", "The occurrence is recorded as skipped (reason: overlap).", d.overlap || "allow")),
    h("fieldset", { "data-field": "misfire" }, h("legend", {}, "Runs missed while the server was down"),
      radio("misfire", "runOnce", "Run once", "One run now for the latest missed occurrence; the others are recorded as skipped.", d.misfire || "runOnce"),
      radio("misfire", "runAll", "Run each", "Each missed occurrence runs, up to the limit below; the rest are skipped.", d.misfire || "runOnce"),
      radio("misfire", "skip", "Skip them", "All are recorded as skipped; the schedule continues with the next one.", d.misfire || "runOnce"),
      field("misfireLimit", "Limit for “Run each”", inputs.misfireLimit)),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, editing ? "Save changes" : "Create task"),
      h("a", { class: "button", href: editing ? `#/tasks/${encodeURIComponent(existing.id)}` : "#/tasks" }, "Cancel")));

  replace(main,
    h("h1", {}, editing ? `Edit “${existing.name}”` : "New task"),
    zones,
    h("div", { class: "form-layout" }, form, previewBox));

  function kind() { return form.querySelector('input[name="kind"]:checked').value; }

  function scheduleBody() {
    const body = {};
    const k = kind();
    if (k === "every") {
      body.every = inputs.every.value.trim();
      if (existing?.schedule?.anchor) body.anchor = existing.schedule.anchor;
    }
    if (k === "cron") { body.cron = inputs.cron.value.trim(); body.timeZone = inputs.timeZone.value.trim() || "UTC"; }
    if (k === "at") body.at = fromLocalInput(inputs.at.value) ?? "";  // empty: checked before sending
    const startAt = fromLocalInput(inputs.startAt.value);
    const endAt = fromLocalInput(inputs.endAt.value);
    if (startAt) body.startAt = startAt;
    if (endAt) body.endAt = endAt;
    return body;
  }

  function lines(text, separator) {
    const result = {};
    for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf(separator);
      if (at < 0) result[line] = ""; else result[line.slice(0, at).trim()] = line.slice(at + separator.length).trim();
    }
    return result;
  }

  function body() {
    const misfire = form.querySelector('input[name="misfire"]:checked').value;
    const result = {
      name: inputs.name.value.trim(),
      description: inputs.description.value,
      labels: lines(inputs.labels.value, "="),
      schedule: scheduleBody(),
      action: { url: inputs.url.value.trim(), method: inputs.method.value, headers: lines(inputs.headers.value, ":"), timeout: inputs.timeout.value.trim() },
      retry: {
        maxAttempts: Number(inputs.maxAttempts.value), initialBackoff: inputs.initialBackoff.value.trim(),
        maxBackoff: inputs.maxBackoff.value.trim(), multiplier: Number(inputs.multiplier.value),
      },
      overlap: form.querySelector('input[name="overlap"]:checked').value,
      misfire,
    };
    for (const [name, value] of Object.entries(lines(inputs.secretHeaders.value, ":"))) {
      result.action.headers[name] = value === KEPT ? { secret: true } : { value, secret: true };
    }
    const signing = inputs.signingSecret.value.trim();
    if (signing) result.action.signingSecret = signing;
    else if (d.action?.signingSecret && !inputs.dropSigningSecret.checked) result.action.signingSecret = { secret: true };
    if (inputs.body.value) result.action.body = inputs.body.value;
    if (misfire === "runAll") result.misfireLimit = Number(inputs.misfireLimit.value);
    return result;
  }

  function clearErrors() {
    formError.hidden = true;
    for (const node of form.querySelectorAll(".field.invalid")) node.classList.remove("invalid");
    for (const node of form.querySelectorAll(".error")) { node.hidden = true; node.textContent = ""; }
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  /** Puts each reason next to the field it names; returns the names no field here holds. */
  function showFieldErrors(fields) {
    const unplaced = [];
    let first = null;
    const secretNames = new Set(Object.keys(lines(inputs.secretHeaders.value, ":")));
    for (const [path, reason] of Object.entries(fields)) {
      const header = path.startsWith("action.headers.") ? path.slice("action.headers.".length) : null;
      const name = header !== null && secretNames.has(header) ? "action.secretHeaders" : path;
      let holder = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
      for (let prefix = name; !holder && prefix.includes("."); ) {
        prefix = prefix.slice(0, prefix.lastIndexOf("."));
        holder = form.querySelector(`.field[data-field="${CSS.escape(prefix)}"]`);
      }
      if (!holder) { unplaced.push(`${name}: ${reason}`); continue; }
      holder.classList.add("invalid");
      const error = holder.querySelector(".error");
      error.hidden = false;
      error.textContent = error.textContent ? `${error.textContent} ${reason}` : reason;
      const control = holder.querySelector("input, select, textarea");
      control?.setAttribute("aria-invalid", "true");
      first ??= control;
    }
    return { unplaced, first };
  }

  /** The parts of a task a person defines (runs change its version, not these). */
  const definitionOf = (task) => JSON.stringify([task.name, task.description, task.labels, task.schedule, task.action,
    task.retry, task.overlap, task.misfire, task.misfireLimit ?? null]);

  /** Saves an edit on the task's current version, unless someone changed its definition
   *  since the form was loaded (runs alone do not count). */
  async function save() {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await fetchTask(existing.id);
      if (definitionOf(current) !== definitionOf(existing)) throw new ApiError(412, { title: "Changed meanwhile" });
      try {
        return await replaceTask(existing.id, body(), current.version);
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 412) throw error;  // a run landed in between: look again
      }
    }
    throw new ApiError(412, { title: "Changed meanwhile" });
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    const local = {};
    if (kind() === "at" && !inputs.at.value) local["schedule.at"] = "Choose the date and time it should run.";
    const badHeader = inputs.headers.value.split("\n").map((l) => l.trim()).find((l) => l && !l.includes(":"));
    if (badHeader) local["action.headers"] = `“${badHeader}” has no colon: write Name: value.`;
    const badSecret = inputs.secretHeaders.value.split("\n").map((l) => l.trim()).find((l) => l && !l.includes(":"));
    // Never echo a secret line: it may be a value pasted without its name.
    if (badSecret) local["action.secretHeaders"] = "A line has no colon: write Name: value.";
    if (Object.keys(local).length) { showFieldErrors(local).first?.focus(); return; }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const result = editing ? await save() : await createTask(body());
      toast(editing ? `Saved ${result.data.name}` : `Created ${result.data.name}`);
      location.hash = `#/tasks/${encodeURIComponent(result.data.id)}`;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const { unplaced, first } = showFieldErrors(error.fields);
      const general = error.status === 412
        ? "Someone changed this task's definition while you edited it. Reload the page to see it, then edit again."
        : unplaced.length || !first ? `${error.problem.title || "Error"}: ${unplaced.join("; ") || error.message}` : null;
      if (general) { formError.textContent = general; formError.hidden = false; formError.focus(); } else first.focus();
    } finally {
      button.disabled = false;
    }
  }

  const refreshPreview = debounce(async () => {
    const schedule = scheduleBody();
    try {
      const answer = await preview(schedule, 10);
      cronWords.textContent = kind() === "cron" ? `In words: ${scheduleWords(schedule)}` : "";
      const items = answer.occurrences || answer.items || [];
      previewStatus.textContent = items.length ? `${scheduleWords(schedule)}` : "No further runs.";
      const zone = schedule.timeZone;
      replace(previewList, items.map((item) => h("li", {},
        h("span", {}, zone ? formatInstant(item.at, zone) : formatInstant(item.at)),
        item.dst ? h("span", { class: "dst", title: dstMeaning[item.dst] || item.dst }, `DST: ${item.dst}`) : null,
        h("div", { class: "muted small" }, zone ? `${formatInstant(item.at)} your time · ${item.at}` : item.at))));
    } catch (error) {
      replace(previewList);
      cronWords.textContent = "";
      previewStatus.textContent = error instanceof ApiError ? `Not a valid schedule: ${Object.values(error.fields).join("; ") || error.message}` : String(error);
    }
  }, 350);

  const dstMeaning = {
    shifted: "This wall time did not exist (clocks went forward); it runs at the first instant after the gap.",
    merged: "This wall time happened twice (clocks went back); it runs once, the first time.",
    repeated: "Clocks went back: an elapsed-time expression runs in both passes of the repeated hour.",
  };

  function update() {
    for (const [name, part] of Object.entries(parts)) part.hidden = name !== kind();
    refreshPreview();
  }
  form.addEventListener("input", (event) => {
    // A field's error goes once its value changes; the server judges it again on submit.
    const holder = event.target.closest(".field.invalid");
    if (holder) {
      holder.classList.remove("invalid");
      const error = holder.querySelector(".error");
      error.hidden = true;
      error.textContent = "";
      event.target.removeAttribute("aria-invalid");
    }
    if (event.target.closest("fieldset")?.querySelector('input[name="kind"]') || event.target.name?.startsWith("schedule")) update();
  });
  form.addEventListener("change", update);
  update();
}
