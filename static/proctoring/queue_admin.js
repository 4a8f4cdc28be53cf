// The admin's queue overview: poll the stats endpoint and update figures, chart and workers in place.
"use strict";

(function () {
  const root = document.getElementById("queue-overview");
  if (!root) return;
  const url = root.dataset.statsUrl;
  const every = Number(root.dataset.refreshMs) || 2000;

  function text(value) {
    return value === null || value === undefined ? "–" : String(value);
  }

  function cell(row, value) {
    const td = document.createElement("td");
    td.textContent = text(value);
    row.appendChild(td);
  }

  function update(stats) {
    const queue = stats.queue;
    for (const element of root.querySelectorAll("[data-figure]")) {
      const name = element.dataset.figure;
      if (name in queue) {
        const value = queue[name];
        element.textContent = name === "oldest_queued_age_s" && value !== null ? value.toFixed(1) : text(value);
      }
    }
    root.querySelector('[data-figure="generated_at"]').textContent = stats.generated_at.slice(11, 19) + " UTC";
    root.querySelector('[data-figure="workers_count"]').textContent = String(stats.workers.length);
    root.querySelector("[data-show-when-paused]").hidden = !queue.paused;
    root.querySelector('[data-alert-when="failed"]').classList.toggle("alert", queue.failed > 0);
    for (const [name, points] of Object.entries(stats.chart.points)) {
      root.querySelector(`[data-series="${name}"]`).setAttribute("points", points);
    }
    root.querySelector('[data-chart="max"]').textContent = String(stats.chart.max);
    root.querySelector('[data-chart="first"]').textContent = stats.chart.first;
    root.querySelector('[data-chart="last"]').textContent = stats.chart.last;
    const body = root.querySelector("#workers tbody");
    if (stats.workers.length) {
      body.replaceChildren();
      for (const worker of stats.workers) {
        const row = document.createElement("tr");
        for (const value of [worker.name, worker.state, worker.running, worker.current_jobs.join(" "),
                             worker.successful, worker.failed, worker.last_heartbeat]) {
          cell(row, value);
        }
        body.appendChild(row);
      }
    }
  }

  async function poll() {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) update(await response.json());
    } catch (error) {
      // The next poll tries again; the page keeps its last figures meanwhile.
    }
    setTimeout(poll, every);
  }

  setTimeout(poll, every);
})();
