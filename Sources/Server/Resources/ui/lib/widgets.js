// Pieces several pages show.
import { h } from "./dom.js";
import { relative, taskState } from "./format.js";

/** "in 3 min" that keeps itself current (see `ageRelativeTimes`). */
export const relativeSpan = (iso) => h("span", { class: "rel", dataset: { at: iso } }, relative(iso));

/** Rewrites the relative times under `root` every 5 s; returns the function that stops it. */
export function ageRelativeTimes(root) {
  const timer = setInterval(() => { for (const span of root.querySelectorAll("span.rel")) span.textContent = relative(span.dataset.at); }, 5000);
  return () => clearInterval(timer);
}

/** The task's live state as a coloured badge. */
export function stateBadge(task) {
  const state = taskState(task);
  return h("span", { class: `badge ${state.key}`, dataset: { state: state.key } }, state.text);
}

/** Runs `redraw` (which replaces what is under `root`) and puts back what a person was doing
 *  there: the keyboard focus (found again by its label, link or id) and opened details. */
export function keepingPlace(root, redraw) {
  const active = document.activeElement;
  let key = null;
  if (active && active !== document.body && root.contains(active)) {
    key = active.getAttribute("aria-label") ? `[aria-label="${CSS.escape(active.getAttribute("aria-label"))}"]`
      : active.id ? `#${CSS.escape(active.id)}`
      : active.getAttribute("href") ? `[href="${CSS.escape(active.getAttribute("href"))}"]` : null;
  }
  const open = [...root.querySelectorAll("details[open][data-key]")].map((d) => d.dataset.key);
  const result = redraw();
  const restore = () => {
    for (const k of open) root.querySelector(`details[data-key="${CSS.escape(k)}"]`)?.setAttribute("open", "");
    if (key && (document.activeElement === document.body || !root.contains(document.activeElement))) root.querySelector(key)?.focus({ preventScroll: true });
  };
  return result instanceof Promise ? result.then((value) => { restore(); return value; }) : (restore(), result);
}
