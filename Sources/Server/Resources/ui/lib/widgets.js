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
