// The exam page's questions and state: answers saved as the exam taker goes (one save in flight
// per question, text debounced, a version on each save), the clock, the pause notice, the
// outcome and the proctor's messages. The attempt's state comes from the camera socket
// (camera.js passes its `attempt` and `message` messages on as DOM events) and, as a fallback,
// from polling the state endpoint.

import { Clock, spokenTime } from "./clock.js";

const config = JSON.parse(document.getElementById("exam-config").textContent);
const $ = (id) => document.getElementById(id);
const POLL_MS = 12000; // the socket's messages are the fast path; this catches what it missed
const ENDING_POLL_MS = 2000;
const TEXT_DEBOUNCE_MS = 700;

let status = config.state.status;
let extraSeconds = config.state.extra_seconds;
let ended = config.state.ended;
let pollTimer = null;

const clock = new Clock({ display: $("time-left"), announcer: $("time-announce"), onZero: timeIsUp });

// The cookie first: logging in again (in another tab) changes it, not the form field rendered here.
function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const field = document.querySelector("[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

async function post(url, body, options = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
    credentials: "same-origin",
    ...options,
  });
}

// --- answers ------------------------------------------------------------------------------------

const questions = new Map(); // question id -> {el, kind, version, inFlight, again, timer, dirty}

function readAnswer(q) {
  if (q.kind === "text") return { choices: [], text: q.el.querySelector("textarea").value };
  const picked = [...q.el.querySelectorAll("input:checked")].map((input) => Number(input.value));
  return { choices: picked, text: "" };
}

function showAnswer(q, answer) {
  if (q.kind === "text") q.el.querySelector("textarea").value = answer.text;
  else for (const input of q.el.querySelectorAll("input")) input.checked = answer.choices.includes(Number(input.value));
}

function setSaveState(q, text) {
  q.el.querySelector(".save-state").textContent = text;
}

function say(text) {
  const note = $("save-note");
  note.textContent = "";
  setTimeout(() => { note.textContent = text; }, 50);
}

async function save(q) {
  clearTimeout(q.timer);
  if (q.inFlight) { q.again = true; return; }
  q.inFlight = true;
  q.dirty = false;
  setSaveState(q, "Saving…");
  try {
    const response = await post(config.answerUrl, { question: q.id, version: q.version, ...readAnswer(q) });
    const data = await response.json().catch(() => ({}));
    if (response.redirected || (response.ok && !data.answer)) {
      // The session ended (the server sent the login page): the answer stays on this page.
      q.dirty = true;
      setSaveState(q, "Not saved: you are logged out. Log in again in another tab, then change the answer.");
      say(`Question ${q.number} was not saved: you are logged out.`);
    } else if (response.ok) {
      q.version = data.answer.version;
      setSaveState(q, "Saved");
    } else if (response.status === 409 && data.current) {
      q.version = data.current.version;
      q.again = false;
      showAnswer(q, data.current);
      setSaveState(q, "Changed in another tab: this is the answer saved there");
      say(`Question ${q.number} was changed in another tab; the page now shows that answer.`);
    } else if (response.status === 409 && data.state) {
      // Paused (or ended) meanwhile: the answer stays on the page and is saved at the resume.
      q.again = false;
      q.dirty = true;
      setSaveState(q, "Not saved yet: the exam is not in progress");
      applyState(data.state);
    } else {
      q.again = false;
      setSaveState(q, `Not saved: ${data.error || response.status}`);
      say(`Question ${q.number} was not saved: ${data.error || response.status}`);
    }
  } catch {
    // Offline or the server restarts: keep the answer on the page and try again shortly.
    q.dirty = true;
    setSaveState(q, "Not saved yet (no connection); trying again");
    q.timer = setTimeout(() => save(q), 3000);
  } finally {
    q.inFlight = false;
  }
  if (q.again) { q.again = false; save(q); }
}

function initQuestions() {
  document.querySelectorAll(".question").forEach((el, index) => {
    const q = {
      id: Number(el.dataset.question), kind: el.dataset.kind, version: Number(el.dataset.version),
      number: index + 1, el, inFlight: false, again: false, timer: null, dirty: false,
    };
    questions.set(q.id, q);
    if (q.kind === "text") {
      const area = el.querySelector("textarea");
      area.addEventListener("input", () => {
        q.dirty = true;
        setSaveState(q, "Not saved yet");
        clearTimeout(q.timer);
        q.timer = setTimeout(() => save(q), TEXT_DEBOUNCE_MS);
      });
      area.addEventListener("blur", () => { if (q.dirty) save(q); });
    } else {
      el.addEventListener("change", () => save(q));
    }
  });
}

async function flushSaves() {
  for (const q of questions.values()) if (q.dirty) save(q);
  const deadline = Date.now() + 5000;
  while ([...questions.values()].some((q) => q.inFlight || q.again) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// A text typed in the last moments before a reload still reaches the server.
window.addEventListener("pagehide", () => {
  for (const q of questions.values()) {
    if (q.dirty && !q.inFlight) {
      post(config.answerUrl, { question: q.id, version: q.version, ...readAnswer(q) }, { keepalive: true });
    }
  }
});

// --- submit -------------------------------------------------------------------------------------

function initSubmit() {
  const startButton = $("submit-start");
  if (!startButton) return;
  startButton.addEventListener("click", () => {
    $("submit-confirm").hidden = false;
    startButton.hidden = true;
    $("submit-confirm-text").focus();
  });
  $("submit-cancel").addEventListener("click", () => {
    $("submit-confirm").hidden = true;
    startButton.hidden = false;
    startButton.focus();
  });
  $("submit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("submit-confirm-button").disabled = true;
    await flushSaves();
    event.target.submit();
  });
}

// --- the attempt's state ------------------------------------------------------------------------

const OUTCOME = {
  submitted: "You submitted your answers.",
  timed_out: "The time ran out: your saved answers were submitted.",
  terminated: "A proctor ended your exam.",
};

function applyState(state) {
  if (ended) return;
  if (state.ended) { showOutcome(state); return; }
  const before = status;
  status = state.status;
  const paused = status === "paused";
  const running = status === "in_progress";
  clock.set(state.seconds_left, running);
  $("attempt-status").textContent = paused ? "paused" : running ? "in progress" : status;
  const notice = $("paused-notice");
  if (notice) {
    notice.hidden = !paused;
    $("paused-reason").textContent = paused && state.reason ? `Reason: ${state.reason}` : "";
  }
  if ($("questions")) $("questions").hidden = !running;
  if (running && before === "paused") {
    for (const q of questions.values()) if (q.dirty) save(q);
  }
  if (before !== status) {
    if (paused) clock.say("Your exam is paused by the proctor. The clock is stopped.");
    else if (running && before === "paused") clock.say(`Your exam is resumed. ${spokenTime(state.seconds_left)}.`);
  }
  if (state.extra_seconds > extraSeconds) {
    const minutes = Math.round((state.extra_seconds - extraSeconds) / 60);
    clock.say(`You were given ${minutes >= 1 ? `${minutes} more minute${minutes > 1 ? "s" : ""}` : "more time"}. ${spokenTime(state.seconds_left)}.`);
  }
  extraSeconds = state.extra_seconds;
  for (const message of state.messages || []) queueMessage(message);
}

function showOutcome(state) {
  ended = true;
  status = state.status;
  clock.stop();
  clearTimeout(pollTimer);
  document.dispatchEvent(new CustomEvent("exam:ended"));
  for (const id of ["questions", "paused-notice", "clock", "camera"]) if ($(id)) $(id).hidden = true;
  $("outcome-status").textContent = OUTCOME[state.status] || state.status;
  $("outcome-reason").textContent = state.reason && state.status !== "submitted" ? `Reason: ${state.reason}` : "";
  $("outcome-score").textContent = state.max_score
    ? `Score for the choice questions: ${state.score} of ${state.max_score} points.` : "";
  $("outcome").hidden = false;
  $("outcome").focus();
  // A socket's final message carries no score: the state endpoint has it.
  if (state.score === undefined) poll();
}

function timeIsUp() {
  if (ended || status !== "in_progress") return;
  $("attempt-status").textContent = "time is up, submitting…";
  clock.say("Time is up. Your answers are being submitted.");
  if ($("questions")) $("questions").hidden = true;
  schedulePoll(ENDING_POLL_MS);
}

async function poll() {
  clearTimeout(pollTimer);
  try {
    const response = await fetch(config.stateUrl, { credentials: "same-origin", cache: "no-store" });
    if (response.ok) {
      const state = await response.json();
      if (ended && state.ended) fillScore(state);
      else applyState(state);
    }
  } catch { /* offline: the next poll tries again */ }
  if (!ended) schedulePoll(status === "in_progress" && clock.left() === 0 ? ENDING_POLL_MS : POLL_MS);
}

function fillScore(state) {
  if (state.max_score) $("outcome-score").textContent = `Score for the choice questions: ${state.score} of ${state.max_score} points.`;
  if (state.reason && state.status !== "submitted") $("outcome-reason").textContent = `Reason: ${state.reason}`;
}

function schedulePoll(ms) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, ms);
}

// --- proctor messages ---------------------------------------------------------------------------

const seenMessages = new Set();
const waitingMessages = [];
let shownMessage = null;
let focusBefore = null;

function queueMessage(message) {
  if (seenMessages.has(message.id)) return;
  seenMessages.add(message.id);
  waitingMessages.push(message);
  if (!shownMessage) showNextMessage();
}

function showNextMessage() {
  shownMessage = waitingMessages.shift() || null;
  const dialog = $("proctor-message");
  if (!shownMessage) {
    dialog.hidden = true;
    if (focusBefore && document.contains(focusBefore) && !focusBefore.closest("[hidden]")) focusBefore.focus();
    focusBefore = null;
    return;
  }
  if (!focusBefore) focusBefore = document.activeElement;
  $("proctor-message-body").textContent = shownMessage.body;
  dialog.hidden = false;
  dialog.focus();
}

function readMessage() {
  if (!shownMessage) return;
  const id = shownMessage.id;
  // Over the socket when it is open (the proctor sees it at once); over HTTP in any case, whose
  // answer says it was stored (marking read twice changes nothing).
  document.dispatchEvent(new CustomEvent("exam:message-read", { detail: { id } }));
  post(config.messageReadUrl.replace(/\/0\/read\/$/, `/${id}/read/`), {}).catch(() => {});
  showNextMessage();
}

// --- wiring -------------------------------------------------------------------------------------

document.addEventListener("exam:attempt", (event) => applyState(event.detail));
document.addEventListener("exam:message", (event) => queueMessage(event.detail));
document.addEventListener("exam:socket-ended", () => poll());
$("proctor-message-ok").addEventListener("click", readMessage);

initQuestions();
initSubmit();
if (ended) {
  clock.stop();
} else {
  applyState(config.state);
  if (config.state.seconds_left !== null) clock.say(`${spokenTime(config.state.seconds_left)}.`);
  schedulePoll(POLL_MS);
}
