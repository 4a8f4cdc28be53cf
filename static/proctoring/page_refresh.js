// The per-client, waiting and failed pages: reload their content in place every few seconds,
// like the overview's figures, but only while the page is shown and the operator is not using it
// (a field focused or changed, a box ticked, text selected), so that no selection is lost.
"use strict";

(function () {
  const root = document.getElementById("queue-page");
  if (!root || !root.dataset.refreshMs) return;
  const every = Number(root.dataset.refreshMs) || 5000;

  function inUse() {
    const active = document.activeElement;
    const typing = "textarea, select, input:not([type=checkbox]):not([type=radio]):not([type=submit]):not([type=button])";
    if (active && active !== document.body && root.contains(active) && active.matches(typing)) {
      return true;
    }
    for (const field of root.querySelectorAll("input, select, textarea")) {
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) return true;
      } else if (field.tagName === "SELECT") {
        for (const option of field.options) if (option.selected !== option.defaultSelected) return true;
      } else if (field.type !== "hidden" && field.value !== field.defaultValue) {
        return true;
      }
    }
    const selection = window.getSelection();
    return Boolean(selection && !selection.isCollapsed && root.contains(selection.anchorNode));
  }

  let rounds = 0;

  async function refresh() {
    rounds += 1;
    root.dataset.rounds = String(rounds);  // how many rounds have looked, refreshed or not
    if (document.visibilityState === "visible" && !inUse()) {
      try {
        const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (response.ok && !response.redirected) {
          const page = new DOMParser().parseFromString(await response.text(), "text/html");
          const fresh = page.getElementById("queue-page");
          if (fresh && !inUse()) root.replaceChildren(...fresh.childNodes);
        }
      } catch (error) {
        // The next round tries again; the page keeps what it shows meanwhile.
      }
    }
    setTimeout(refresh, every);
  }

  setTimeout(refresh, every);
})();
