// The proctor dashboard's live grid: rows and events from /ws/proctor/exams/<slug>/, no polling.
"use strict";

(function () {
  const root = document.getElementById("proctor-grid");
  if (!root) return;
  const grid = root.querySelector(".attempt-grid");
  const template = document.getElementById("attempt-card-template");
  const socketState = root.querySelector("[data-socket-state]");
  const completions = new Map(); // attempt id -> times (ms) of frames completed in the last 10 s
  const lastFrame = new Map(); // attempt id -> epoch seconds of its last frame
  const WINDOW_MS = 10000;

  function card(attemptId) {
    let element = grid.querySelector(`[data-attempt="${CSS.escape(attemptId)}"]`);
    if (!element) {
      element = template.content.firstElementChild.cloneNode(true);
      element.dataset.attempt = attemptId;
      const placeholder = grid.querySelector(".placeholder");
      if (placeholder) placeholder.remove();
      grid.appendChild(element);
    }
    return element;
  }

  function field(element, name) {
    return element.querySelector(`[data-field="${name}"]`);
  }

  function setState(element, state) {
    element.classList.remove("state-waiting", "state-connected", "state-streaming", "state-stalled", "state-offline",
                             "state-disconnected");
    element.classList.add("state-" + state);
    field(element, "state").textContent = state;
  }

  function showRow(row) {
    const element = card(row.attempt_id);
    field(element, "user").textContent = row.user;
    field(element, "timeline").href = row.timeline_url;
    field(element, "backlog").textContent = String(row.backlog);
    field(element, "incidents_open").textContent = row.incidents_open.length ? row.incidents_open.join(", ") : "none";
    field(element, "incidents_pending").textContent = String(row.incidents_pending);
    element.classList.toggle("has-incident", row.incidents_open.length > 0);
    setState(element, row.state);
    if (row.last_frame_at) lastFrame.set(row.attempt_id, row.last_frame_at);
    const image = field(element, "thumb");
    if (row.thumb_url && image.getAttribute("src") !== row.thumb_url) {
      image.src = row.thumb_url;
      image.alt = "latest camera picture of " + row.user;
      image.hidden = false;
      field(element, "no-thumb").hidden = true;
    }
  }

  function countEvent(item) {
    const element = grid.querySelector(`[data-attempt="${CSS.escape(item.client_id)}"]`);
    if (element && item.event === "disconnected") setState(element, "disconnected");
    if (element && item.event === "connected") setState(element, "connected");
    if (item.event === "completed" || item.event === "stale") {
      const times = completions.get(item.client_id) || [];
      times.push(Date.now());
      completions.set(item.client_id, times);
      lastFrame.set(item.client_id, item.at);
    }
  }

  // Frames per second and the camera state age on their own, between events.
  function tick() {
    const now = Date.now();
    for (const element of grid.querySelectorAll("[data-attempt]")) {
      const id = element.dataset.attempt;
      const times = (completions.get(id) || []).filter((t) => now - t <= WINDOW_MS);
      completions.set(id, times);
      field(element, "fps").textContent = times.length ? (times.length / (WINDOW_MS / 1000)).toFixed(1) : "–";
      const last = lastFrame.get(id);
      if (last && !element.classList.contains("state-disconnected") && !(element.classList.contains("state-connected") && now / 1000 - last > 5)) {
        const age = now / 1000 - last;
        setState(element, age <= 5 ? "streaming" : age <= 60 ? "stalled" : "offline");
      }
    }
  }

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + root.dataset.socketPath);
    socket.onopen = function () {
      delay = 1000;
      socketState.textContent = "live";
    };
    socket.onmessage = function (message) {
      const data = JSON.parse(message.data);
      if (data.type === "rows") data.rows.forEach(showRow);
      if (data.type === "events") data.events.forEach(countEvent);
    };
    socket.onclose = function (event) {
      if (event.code === 4401 || event.code === 4403) {
        socketState.textContent = "not available: " + (event.reason || "refused");
        return;
      }
      socketState.textContent = "reconnecting…";
      setTimeout(function () { connect(Math.min(delay * 2, 30000)); }, delay);
    };
  }

  setInterval(tick, 1000);
  connect(1000);
})();
