// The exam page's camera stream: getUserMedia -> canvas -> JPEG blob -> binary WebSocket message.
// Protocol names come from the server (rendered into #stream-config), so page and server agree.

const config = JSON.parse(document.getElementById("stream-config").textContent);
const P = config.protocol;
const $ = (id) => document.getElementById(id);

const state = {
  ws: null, sent: 0, acked: 0, refused: 0, retry: 0, stopped: false,
  timer: null, capture: null, intervalMs: config.intervalMs, frameBytes: 0,
  unavailable: 0, holdUntil: 0, // frames refused `unavailable` in a row; no frame sent before holdUntil
  paused: false, // the last ack said the workers are paused (an operator's pause)
};

// Refusals that say the service is behind, not that anything is wrong with this camera.
const SERVICE_BUSY = new Set([P.errors.RATE_LIMITED, P.errors.QUEUE_FULL]);
const PAUSED_NOTE = "Proctoring is paused for a moment. The pictures already sent are kept and will be checked when it resumes; nothing for you to do.";
const BUSY_NOTE = "The proctoring service is busy; your camera sends fewer pictures for a moment. Nothing for you to do.";

function setConnection(name) {
  const el = $("conn-state");
  el.textContent = name;
  el.dataset.state = name;
}

function showCount() {
  $("sent").textContent = state.sent;
  $("acked").textContent = state.acked;
  $("refused").textContent = state.refused;
}

// What to tell a person whose camera could not start, by getUserMedia's error name.
const CAMERA_HELP = {
  NotAllowedError: "Camera access was blocked. Click the camera icon in the address bar, allow the camera for this site, then reload the page.",
  SecurityError: "Camera access was blocked by the browser's settings. Allow the camera for this site, then reload the page.",
  NotFoundError: "No camera was found. Connect a camera, then reload the page.",
  NotReadableError: "The camera is in use by another program (a video call?). Close it, then reload the page.",
  OverconstrainedError: "Your camera cannot deliver the picture size we asked for. Try another camera, then reload the page.",
  AbortError: "The camera stopped while starting. Reload the page to try again.",
};

function explainCamera(error) {
  const help = $("camera-help");
  help.hidden = false;
  help.textContent = CAMERA_HELP[error.name] || `The camera could not start (${error.name || error}). Reload the page to try again.`;
  $("camera-state").textContent = "not available";
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    explainCamera({ name: "Unsupported", toString: () => "this page must be opened over HTTPS or on localhost, in a current browser" });
    return null;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    const video = $("preview");
    video.srcObject = stream;
    await video.play().catch(() => {});
    $("camera-state").textContent = "on";
    return video;
  } catch (error) {
    explainCamera(error);
    return null;
  }
}

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${config.wsPath}`;
}

function connect() {
  if (state.stopped) return;
  setConnection(state.retry === 0 ? "connecting" : "reconnecting");
  const ws = new WebSocket(wsUrl());
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  ws.onopen = () => {
    state.retry = 0;
    setConnection("connected");
  };
  ws.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.type === P.types.ACK) {
      state.acked += 1;
      showPaused(Boolean(message.paused));
      if (state.unavailable) {
        state.unavailable = 0;
        state.holdUntil = 0;
        setConnection("connected");
        $("last-error").textContent = "";
      }
      showHint(message.hint);
    } else if (message.type === P.types.ATTEMPT) {
      // The exam's state (status, time left, how it ended): the questions' module shows it.
      document.dispatchEvent(new CustomEvent("exam:attempt", { detail: message }));
      if (message.ended) stop("ended");
    } else if (message.type === P.types.MESSAGE) {
      document.dispatchEvent(new CustomEvent("exam:message", { detail: message }));
    } else if (message.type === P.types.THROTTLE) {
      // The server's queue is filling: send less often until it says otherwise.
      setFrameRate(message.fps);
    } else if (message.type === P.types.ERROR && SERVICE_BUSY.has(message.code)) {
      // The queue holds this page's earlier frames (or everyone's): not the exam taker's doing,
      // and not counted as refused. A newer frame goes a little later.
      holdFor(state.paused ? 2000 : 1000);
      $("last-error").textContent = state.paused ? PAUSED_NOTE : BUSY_NOTE;
    } else if (message.type === P.types.ERROR) {
      state.refused += 1;
      $("last-error").textContent = `Frame ${message.seq} refused: ${message.code} (${message.detail})`;
      if (message.code === P.errors.UNAVAILABLE) {
        // The server cannot queue frames just now (its Redis restarts): keep the socket, and
        // try again with a newer frame after 1, 2, 4, then every 8 s until one is acked.
        holdFor(Math.min(8000, 1000 * 2 ** state.unavailable));
        state.unavailable += 1;
        setConnection("retrying");
        $("last-error").textContent = "The server cannot take frames right now; retrying by itself.";
      } else if (message.code === P.errors.FRAMES_REFUSED) {
        // The proctoring service refused the camera's last pictures: the gateway takes none for
        // a while (a throttle has slowed the page already); it starts again by itself.
        $("last-error").textContent = "Your camera's last pictures could not be read. Check that it shows your face; sending starts again by itself.";
      }
    }
    showCount();
  };
  ws.onclose = (event) => {
    state.ws = null;
    if (state.stopped) return;
    if (event.code === P.close.ATTEMPT_ENDED) {
      // The attempt ended (its final `attempt` message may have been missed): no reconnecting;
      // the questions' module asks the server how it ended.
      stop("ended");
      document.dispatchEvent(new CustomEvent("exam:socket-ended"));
      return;
    }
    if (event.code === P.close.UNAUTHENTICATED || event.code === P.close.FORBIDDEN) {
      state.stopped = true;
      setConnection("refused");
      $("last-error").textContent = `The server refused the stream: ${event.reason || event.code}. Reload the page or log in again.`;
      return;
    }
    if (event.code === P.close.TOO_MANY_CONNECTIONS) {
      $("last-error").textContent = `${event.reason || "Too many connections"}. Retrying by itself.`;
    }
    // Exponential backoff with jitter, capped at 30 s: many pages must not reconnect in step.
    const delay = Math.min(30000, 500 * 2 ** state.retry) * (0.5 + Math.random() / 2);
    state.retry += 1;
    setConnection("reconnecting");
    setTimeout(connect, delay);
  };
}

// The attempt ended: the camera goes off and the socket closes for good.
function stop(name) {
  state.stopped = true;
  clearInterval(state.timer);
  clearTimeout(state.timer);
  state.capture = null;
  const video = $("preview");
  if (video.srcObject) {
    for (const track of video.srcObject.getTracks()) track.stop();
    video.srcObject = null;
  }
  $("camera-state").textContent = "off";
  setConnection(name);
  if (state.ws) {
    const ws = state.ws;
    state.ws = null;
    ws.close(1000, "the attempt ended");
  }
}

document.addEventListener("exam:ended", () => { if (!state.stopped) stop("ended"); });
// The exam taker read a proctor's message: the gateway hears of it over the socket when it is open.
document.addEventListener("exam:message-read", (event) => {
  const ws = state.ws;
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify({ type: P.types.MESSAGE_READ, id: event.detail.id }));
  }
});

// While the workers are paused the frames wait in the queue: say so calmly, once, and clear it
// when an ack comes without the pause.
function showPaused(paused) {
  if (paused === state.paused) return;
  state.paused = paused;
  const note = $("last-error");
  if (paused) note.textContent = PAUSED_NOTE;
  else if (note.textContent === PAUSED_NOTE || note.textContent === BUSY_NOTE) note.textContent = "";
}

// A calm word about the camera picture, from the server's analysis of recent frames.
function showHint(code) {
  const el = $("hint");
  const text = code ? P.hints[code] || "" : "";
  if (el.textContent !== text) el.textContent = text;
  el.hidden = !text;
}

function setFrameRate(fps) {
  if (!(fps > 0)) return;
  state.intervalMs = Math.round(1000 / fps);
  $("rate").textContent = `${fps} frames/s`;
  if (state.capture) {
    clearInterval(state.timer);
    state.timer = setInterval(state.capture, state.intervalMs);
  }
}

// No frame before `ms` from now; the next one goes at once then, not at the tick after it.
function holdFor(ms) {
  state.holdUntil = Date.now() + ms;
  if (!state.capture) return;
  clearInterval(state.timer);
  state.timer = setTimeout(() => {
    state.timer = setInterval(state.capture, state.intervalMs);
    state.capture();
  }, ms);
}

function captureLoop(video) {
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d");
  state.capture = () => {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !video.videoWidth) return;
    if (Date.now() < state.holdUntil) return;
    // A slow link: skip this frame rather than queue stale ones; the newest frame wins.
    if (state.frameBytes && ws.bufferedAmount > 2 * state.frameBytes) return;
    // A camera that ignores the size asked for is scaled down to what the gateway accepts.
    const scale = Math.min(1, Math.sqrt(config.maxPixels / (video.videoWidth * video.videoHeight)));
    canvas.width = Math.floor(video.videoWidth * scale);
    canvas.height = Math.floor(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => {
      if (!blob || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
      state.frameBytes = blob.size;
      blob.arrayBuffer().then((buffer) => {
        if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
        state.ws.send(buffer);
        state.sent += 1;
        showCount();
      });
    }, "image/jpeg", config.jpegQuality);
  };
  state.timer = setInterval(state.capture, state.intervalMs);
}

// Nothing is captured before the exam taker has agreed (the page shows the consent form).
if (config.consented && !config.ended) {
  const video = await startCamera();
  if (video) {
    connect();
    captureLoop(video);
  } else {
    setConnection("stopped");
  }
}
