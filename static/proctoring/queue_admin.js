// The admin's queue overview: poll the stats endpoint and update figures, chart and workers in place;
// list job events live from the events WebSocket, refreshing the figures when they come.
"use strict";

(function () {
  const root = document.getElementById("queue-overview");
  if (!root) return;
  const url = root.dataset.statsUrl;
  const every = Number(root.dataset.refreshMs) || 2000;

  function text(value) {
    return value === null || value === undefined ? "–" : String(value);
  }

  // As the page's template shows them (proctoring/templatetags/timing.py): below a second in
  // ms, else in s; a moment to the second, without its microseconds.
  const DURATIONS = new Set(["wait_p50_s", "wait_p95_s", "wait_p99_s", "run_p95_s", "age_p95_s", "loop_lag_p99_s", "loop_lag_max_s"]);
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (Math.abs(seconds) >= 1) return seconds.toFixed(1) + " s";
    const ms = seconds * 1000;
    return (Math.abs(ms) < 100 ? ms.toFixed(1) : ms.toFixed(0)) + " ms";
  }
  function moment(iso) {
    return iso ? String(iso).slice(0, 19).replace("T", " ") : "–";
  }

  function cell(row, value) {
    const td = document.createElement("td");
    td.textContent = text(value);
    row.appendChild(td);
  }

  // As templates/admin/proctoring/circuit_detail.html says it.
  function circuitDetail(circuit) {
    let detail = circuit.failures + "/" + circuit.threshold + " failures";
    if (circuit.state === "open") detail += ", probes in " + circuit.retry_in_s + " s";
    if (circuit.state === "half-open") detail += circuit.probing ? ", probe out" : ", probes now";
    return detail;
  }

  function update(stats) {
    const queue = stats.queue;
    for (const element of root.querySelectorAll("[data-figure]")) {
      const name = element.dataset.figure;
      if (name in queue && !name.startsWith("api_circuit")) {
        const value = queue[name];
        element.textContent = DURATIONS.has(name) ? duration(value)
          : name === "oldest_queued_age_s" && value !== null ? value.toFixed(1) : text(value);
      }
    }
    root.querySelector('[data-figure="generated_at"]').textContent = stats.generated_at.slice(11, 19) + " UTC";
    root.querySelector('[data-figure="workers_count"]').textContent = String(stats.workers.length);
    root.querySelector("[data-show-when-paused]").hidden = !queue.paused;
    root.querySelector('[data-alert-when="failed"]').classList.toggle("alert", queue.failed > 0);
    const circuit = queue.api_circuit || {};
    root.querySelector('[data-figure="api_circuit"]').textContent = text(circuit.state);
    root.querySelector('[data-figure="api_circuit_detail"]').textContent = circuitDetail(circuit);
    const closeCircuit = root.querySelector("[data-show-when-circuit-open]");
    if (closeCircuit) closeCircuit.hidden = !circuit.open;
    root.querySelector('[data-alert-when="api_circuit"]').classList.toggle("alert", Boolean(circuit.open));
    for (const [name, points] of Object.entries(stats.chart.points)) {
      const line = root.querySelector(`[data-series="${name}"]`);
      if (line) line.setAttribute("points", points);
    }
    for (const [name, total] of Object.entries(stats.chart.totals)) {
      const legend = root.querySelector(`[data-series-total="${name}"]`);
      if (legend) legend.textContent = String(total);
    }
    root.querySelector('[data-chart="max"]').textContent = String(stats.chart.max);
    root.querySelector('[data-chart="first"]').textContent = stats.chart.first;
    root.querySelector('[data-chart="last"]').textContent = stats.chart.last;
    const body = root.querySelector("#workers tbody");
    if (stats.workers.length) {
      body.replaceChildren();
      for (const worker of stats.workers) {
        const row = document.createElement("tr");
        row.dataset.worker = worker.name;
        for (const value of [worker.name, worker.hostname, worker.pid, worker.state, worker.running,
                             worker.current_jobs.join(" "), worker.delivered, worker.dropped, worker.failed,
                             worker.failed_for_good, moment(worker.birth), moment(worker.last_heartbeat)]) {
          cell(row, value);
        }
        body.appendChild(row);
      }
    }
  }

  let timer = null;
  let fetching = false;

  async function poll() {
    clearTimeout(timer);
    fetching = true;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) update(await response.json());
    } catch (error) {
      // The next poll tries again; the page keeps its last figures meanwhile.
    }
    fetching = false;
    timer = setTimeout(poll, every);
  }

  // Job events: a live list, and a refresh of the figures soon after (at most every 500 ms).
  const MAX_EVENTS = 50;
  const eventsBody = root.querySelector("#job-events tbody");
  const eventsState = root.querySelector("[data-events-state]");
  let refreshSoon = null;

  function showEvent(item) {
    const placeholder = eventsBody.querySelector(".placeholder");
    if (placeholder) placeholder.remove();
    const row = document.createElement("tr");
    row.className = "event-" + item.event;
    cell(row, new Date(item.at * 1000).toISOString().slice(11, 23));
    cell(row, item.event);
    cell(row, item.client_id);
    cell(row, item.seq);
    const jobCell = document.createElement("td");
    const link = document.createElement("a");
    link.href = root.dataset.jobUrl.replace("JOB_ID", item.job_id);
    link.textContent = item.job_id.slice(0, 10);
    jobCell.appendChild(link);
    row.appendChild(jobCell);
    let details = item.error || "";
    if (item.event === "completed" && item.flags && item.flags.length) details = "flags: " + item.flags.join(", ");
    if (item.event === "stale") details = item.age_s + " s old";
    cell(row, details);
    eventsBody.prepend(row);
    while (eventsBody.rows.length > MAX_EVENTS) eventsBody.deleteRow(-1);
  }

  function connectEvents(delay) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + root.dataset.eventsPath);
    socket.onopen = function () {
      delay = 1000;
      eventsState.textContent = "(live)";
    };
    socket.onmessage = function (message) {
      const data = JSON.parse(message.data);
      if (data.type !== "events") return;
      for (const item of data.events) if (item.job_id) showEvent(item);  // not camera (dis)connections
      if (!refreshSoon && !fetching) {
        refreshSoon = setTimeout(function () { refreshSoon = null; poll(); }, 500);
      }
    };
    socket.onclose = function (event) {
      if (event.code === 4401 || event.code === 4403) {
        eventsState.textContent = "(not available: " + (event.reason || "refused") + ")";
        return;
      }
      eventsState.textContent = "(reconnecting…)";
      setTimeout(function () { connectEvents(Math.min(delay * 2, 30000)); }, delay);
    };
  }

  timer = setTimeout(poll, every);
  connectEvents(1000);
})();
