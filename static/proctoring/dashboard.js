// The proctor dashboard's live grid: rows and events from /ws/proctor/exams/<slug>/, no polling.
"use strict";

// The attempt's timeline: its time left counts down while the attempt is in progress.
(function () {
  const left = document.getElementById("time-left");
  if (!left || left.dataset.running !== "true") return;
  const until = Date.now() + Number(left.dataset.seconds) * 1000;
  function show() {
    const whole = Math.max(0, Math.round((until - Date.now()) / 1000));
    const hours = Math.floor(whole / 3600);
    const minutes = String(Math.floor((whole % 3600) / 60)).padStart(hours ? 2 : 1, "0");
    left.textContent = (hours ? hours + ":" : "") + minutes + ":" + String(whole % 60).padStart(2, "0");
  }
  setInterval(show, 1000);
})();

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

  const deadlines = new Map(); // attempt id -> {status, left (s), at (ms)}: the time left as last told

  function clock(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const whole = Math.max(0, Math.round(seconds));
    const hours = Math.floor(whole / 3600);
    const minutes = String(Math.floor((whole % 3600) / 60)).padStart(hours ? 2 : 1, "0");
    const rest = String(whole % 60).padStart(2, "0");
    return (hours ? hours + ":" : "") + minutes + ":" + rest + " left";
  }

  function setStatus(element, id, status, label, secondsLeft) {
    element.classList.remove("status-started", "status-in_progress", "status-paused");
    element.classList.add("status-" + status);
    element.dataset.status = status;
    field(element, "status").textContent = label;
    element.querySelector('[data-action="pause"]').hidden = status === "paused";
    element.querySelector('[data-action="resume"]').hidden = status !== "paused";
    deadlines.set(id, { status: status, left: secondsLeft, at: Date.now() });
    showTimeLeft(element, id);
  }

  function showTimeLeft(element, id) {
    const told = deadlines.get(id);
    if (!told) return;
    let left = told.left;
    if (left !== null && told.status === "in_progress") left -= (Date.now() - told.at) / 1000;
    field(element, "time_left").textContent = clock(left);
  }

  function removeCard(id) {
    const element = grid.querySelector(`[data-attempt="${CSS.escape(id)}"]`);
    if (element) element.remove();
    deadlines.delete(id);
    completions.delete(id);
    lastFrame.delete(id);
  }

  // The card's action menu posts without leaving the grid; the answer (JSON) updates the card,
  // and the row that follows from the attempt's change confirms it.
  function wireActions(element) {
    for (const form of element.querySelectorAll("form[data-action]")) {
      if (form.dataset.wired) continue;
      form.dataset.wired = "1";
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
        const result = field(element, "action_result");
        result.textContent = "…";
        try {
          const response = await fetch(form.action, {
            method: "POST", body: new FormData(form), credentials: "same-origin",
            headers: { "Accept": "application/json" },
          });
          const answer = await response.json();
          result.textContent = answer.ok ? answer.said : answer.error;
          result.classList.toggle("error", !answer.ok);
          if (answer.ok) form.reset();
          if (answer.status) {
            if (["submitted", "timed_out", "terminated"].includes(answer.status)) removeCard(element.dataset.attempt);
            else setStatus(element, element.dataset.attempt, answer.status, answer.status_label, answer.seconds_left);
          }
        } catch (error) {
          result.textContent = "not sent: " + error;
          result.classList.add("error");
        }
      });
    }
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
    for (const form of element.querySelectorAll("form[data-action]")) {
      form.action = row.timeline_url + form.dataset.action + "/";
    }
    setStatus(element, row.attempt_id, row.status, row.status_label, row.seconds_left);
    wireActions(element);
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
      showTimeLeft(element, id);
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
      if (data.type === "rows") {
        data.rows.forEach(showRow);
        (data.gone || []).forEach(removeCard);
      }
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

  // The cards the page came with: their status and time left as rendered, their menus wired.
  for (const element of grid.querySelectorAll("[data-attempt]")) {
    const left = element.dataset.secondsLeft;
    deadlines.set(element.dataset.attempt, {
      status: element.dataset.status, left: left === "" ? null : Number(left), at: Date.now(),
    });
    showTimeLeft(element, element.dataset.attempt);
    wireActions(element);
  }

  setInterval(tick, 1000);
  connect(1000);
})();
