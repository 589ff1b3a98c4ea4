// The Almanac web UI: a hash-routed page over the HTTP API, kept live by the event stream.
import { connect } from "./lib/live.js";
import { renderDashboard } from "./views/dashboard.js";
import { renderTasks } from "./views/tasks.js";
import { renderTask } from "./views/task.js";
import { renderForm } from "./views/form.js";
import { h, replace } from "./lib/dom.js";
import { ApiError, setToken, loadCaller, may, caller } from "./lib/api.js";

const routes = [
  [/^(#\/?)?$/, "dashboard", () => renderDashboard],
  [/^#\/tasks\/?$/, "tasks", () => renderTasks],
  [/^#\/tasks\/new$/, "new", () => renderForm],
  [/^#\/tasks\/([^/]+)\/edit$/, "tasks", () => renderForm],
  [/^#\/tasks\/([^/?]+)(?:\?(.*))?$/, "tasks", () => renderTask],
];

let cleanup = () => {};

async function route() {
  const main = document.getElementById("main");
  cleanup();
  cleanup = () => {};
  const hash = location.hash || "#/";
  for (const [pattern, nav, view] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    for (const link of document.querySelectorAll("nav a")) {
      link.toggleAttribute("aria-current", link.dataset.nav === nav);
      if (link.dataset.nav === nav) link.setAttribute("aria-current", "page");
    }
    try {
      cleanup = (await view()(main, match.slice(1))) || (() => {});
    } catch (error) {
      showError(main, error);
    }
    const heading = main.querySelector("h1");
    if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); document.title = `${heading.textContent} · Almanac`; }
    return;
  }
  replace(main, h("h1", {}, "Not found"), h("p", {}, "There is no page here. ", h("a", { href: "#/" }, "Go to the dashboard")));
}

function showError(main, error) {
  if (error instanceof ApiError && error.status === 401) {
    const input = h("input", { id: "token", type: "password", autocomplete: "off", class: "wide" });
    replace(main, h("h1", {}, "Sign in"),
      h("p", {}, "This server requires an API token."),
      h("form", { onsubmit: async (event) => { event.preventDefault(); setToken(input.value.trim()); await signedIn(); } },
        h("div", { class: "field" }, h("label", { for: "token" }, "API token"), input),
        h("button", { class: "primary" }, "Use this token")));
    return;
  }
  replace(main, h("h1", {}, "Something went wrong"),
    h("div", { class: "problem", role: "alert" }, error instanceof ApiError ? `${error.problem.title || "Error"}: ${error.message}` : String(error)));
}

/** Shows who the UI acts as, with a sign-out button when a token is in use. */
function showCaller() {
  const badge = document.getElementById("caller");
  const newTask = document.querySelector('nav a[data-nav="new"]');
  newTask.hidden = !may("admin");
  if (!caller.token) { replace(badge); return; }
  const label = `${caller.token.name} · ${caller.role}${caller.namespace ? ` · ${caller.namespace}` : ""}`;
  replace(badge, h("span", { class: "muted" }, label), " ",
    h("button", { type: "button", class: "link", onclick: async () => { setToken(""); await signedIn(); } }, "Sign out"));
}

/** After the token changes: who the caller is, the stream, and the page, again. */
async function signedIn() {
  try { await loadCaller(); } catch { /* the page shows the error */ }
  showCaller();
  connect();
  await route();
}

window.addEventListener("hashchange", route);
// The skip link moves the focus to the content (its #main target is not a page of the router).
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  const target = document.querySelector("main h1") || document.getElementById("main");
  target.tabIndex = -1;
  target.focus();
});
signedIn();
