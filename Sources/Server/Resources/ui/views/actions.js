// Pause, resume, trigger and delete, as buttons; shared by the task list and the task page.
import { command, may } from "../lib/api.js";
import { h, toast, confirmDialog } from "../lib/dom.js";

export function taskActions(task, { onDone = () => {}, reason = null } = {}) {
  if (task.status === "deleted") return h("span", { class: "muted" }, "deleted");
  // Buttons the caller's role cannot use are left out (the server refuses them anyway).
  if (!may("operator")) return null;
  // `reason`: an input whose text, if any, is recorded with the command (Almanac-Reason).
  const run = async (button, name, done, given) => {
    button.disabled = true;
    try {
      await command(task.id, name, given ?? (reason?.value.trim() || undefined));
      if (reason) reason.value = "";
      toast(done);
      onDone(name);
    } catch (error) {
      toast(`${name} failed: ${error instanceof TypeError ? "the server could not be reached" : error.message}`);
    } finally {
      button.disabled = false;
    }
  };
  const buttons = [];
  if (task.status === "active") {
    buttons.push(h("button", { type: "button", "aria-label": `Pause ${task.name}`, onclick: (e) => run(e.currentTarget, "pause", `Paused ${task.name}`) }, "Pause"));
  } else if (task.status === "paused") {
    buttons.push(h("button", { type: "button", "aria-label": `Resume ${task.name}`, onclick: (e) => run(e.currentTarget, "resume", `Resumed ${task.name}`) }, "Resume"));
  }
  if (task.status !== "completed") {
    buttons.push(h("button", { type: "button", "aria-label": `Run ${task.name} now`, onclick: (e) => run(e.currentTarget, "trigger", `Triggered ${task.name}`) }, "Run now"));
  }
  if (may("admin")) buttons.push(h("button", {
    type: "button", class: "danger", "aria-label": `Delete ${task.name}`,
    onclick: async (e) => {
      const button = e.currentTarget;
      const given = await confirmDialog(`Delete “${task.name}”?`, "It stops running for good. Its history stays in the journal.", "Delete");
      if (given !== null) run(button, "delete", `Deleted ${task.name}`, given || undefined);
    },
  }, "Delete"));
  return h("div", { class: "actions" }, buttons);
}
