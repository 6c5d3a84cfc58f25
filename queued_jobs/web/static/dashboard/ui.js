// What the page says to the person using it: notices (read out by screen readers) and
// the confirmation asked for before an action that changes jobs.

import { h } from "./dom.js";

const NOTICE_MS = 8000;

/** Show `text` in the notices area; "error" notices stay until dismissed. */
export function notify(text, kind = "info") {
  const area = document.getElementById("notices");
  const close = h("button", { type: "button", class: "notice-close", "aria-label": "Dismiss" }, "×");
  const notice = h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : null },
    h("p", {}, text), close);
  close.addEventListener("click", () => notice.remove());
  area.append(notice);
  if (kind !== "error") setTimeout(() => notice.remove(), NOTICE_MS);
  return notice;
}

/**
 * Ask before acting: resolves to true if the person confirms. The dialog is modal (focus
 * stays in it; Escape goes back).
 */
export function confirmAction({ title, text, action, danger = false }) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  const ok = document.getElementById("confirm-ok");
  ok.textContent = action;
  ok.classList.toggle("danger", danger);
  ok.classList.toggle("primary", !danger);
  const opener = document.activeElement;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(dialog.returnValue === "ok");
    }, { once: true });
    dialog.showModal();
    // The safe choice has the focus when the action cannot be undone.
    (danger ? document.getElementById("confirm-back") : ok).focus();
  });
}

/** A button that shows it is busy while `work` runs, and cannot be pressed twice. */
export function actionButton(text, work, { className = "button", label } = {}) {
  const button = h("button", { type: "button", class: className, "aria-label": label }, text);
  button.addEventListener("click", async () => {
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    button.classList.add("busy");
    try {
      await work(button);
    } finally {
      button.removeAttribute("aria-disabled");
      button.classList.remove("busy");
    }
  });
  return button;
}
