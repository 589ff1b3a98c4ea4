// The Almanac HTTP API, as the UI uses it. Every failure is an ApiError carrying the
// problem+json body the server sent (title, detail, invalidFields).

const TOKEN_KEY = "almanac.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  /** The reasons the server gave per field, by field name (`schedule.cron` …). */
  get fields() {
    const fields = {};
    for (const field of this.problem.invalidFields || []) fields[field.name] = field.reason;
    return fields;
  }
}

export function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

/** Who the UI acts as (GET /v1/whoami): `{ authRequired, token, role, namespace }`. */
export let caller = { authRequired: false, token: null, role: "admin", namespace: null };
const RANK = { viewer: 0, operator: 1, admin: 2 };
/** Whether the caller's role reaches `role`. */
export const may = (role) => RANK[caller.role] >= RANK[role];
export async function loadCaller() {
  try { caller = await get("/v1/whoami"); } catch (error) {
    caller = { authRequired: true, token: null, role: "viewer", namespace: null };
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
  }
  return caller;
}
export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value); else localStorage.removeItem(TOKEN_KEY);
}

export async function request(method, path, { body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token()) init.headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = { detail: text }; } }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, etag: response.headers.get("ETag"), status: response.status };
}

export const get = (path) => request("GET", path).then((r) => r.data);

/** Every task matching `query` (following cursors, up to `max`). */
export async function allTasks(query = "", max = 5000) {
  const items = [];
  let cursor = "";
  do {
    const separator = query ? "&" : "";
    const page = await get(`/v1/tasks?${query}${separator}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

export const task = (id, asOf) => get(`/v1/tasks/${encodeURIComponent(id)}${asOf ? `?asOf=${encodeURIComponent(asOf)}` : ""}`);
const ACTOR = { "Almanac-Actor": "web-ui" };  // ignored by the server when a token signs the request
export const createTask = (body) => request("POST", "/v1/tasks", { body, headers: ACTOR });
export const replaceTask = (id, body, version) =>
  request("PUT", `/v1/tasks/${encodeURIComponent(id)}`, { body, headers: { ...ACTOR, ...(version ? { "If-Match": `"${version}"` } : {}) } });
export const command = (id, name, reason) => {
  // An HTTP header carries plain ASCII only; say so rather than send something garbled.
  if (reason && /[^\x20-\x7E]/.test(reason)) return Promise.reject(new Error("a reason can use plain ASCII characters only"));
  return request(name === "delete" ? "DELETE" : "POST", `/v1/tasks/${encodeURIComponent(id)}${name === "delete" ? "" : `/${name}`}`,
    { headers: { ...ACTOR, ...(reason ? { "Almanac-Reason": reason } : {}) } });
};
export const preview = (schedule, count = 10) => request("POST", "/v1/schedules/preview", { body: { schedule, count } }).then((r) => r.data);
