// The proctoring camera, for any page: the exam page of this site and another platform's page
// alike. A classic script (no module, no build step, no dependency) that defines one global:
//
//   const camera = ProctoringCamera.mount(element, { wsPath, onStatus, onEnded, ... });
//
// It renders its own UI into `element` (consent, camera and connection status, calm hints,
// counts, the ended state), asks for the camera once the candidate agreed, sends one JPEG per
// binary WebSocket message at the advised rate, follows the server's acks, throttle advice and
// refusals, reconnects with backoff, and stops for good when the attempt ends (close code 4410).
// docs/integration.md describes the options; docs/protocol.md the socket.
(function () {
  "use strict";
  if (window.ProctoringCamera) return; // included twice: the first copy serves both

  // Where this script came from: the proctoring site, whose gateway takes the frames.
  const SCRIPT_ORIGIN = (function () {
    try { return new URL(document.currentScript.src).origin; } catch { return location.origin; }
  })();

  // The protocol's names, as proctoring/core/protocol.py `as_json_data()` gives them
  // (tests/unit/test_embed_script.py holds this copy against it).
  /* protocol:begin */
  const PROTOCOL = {
    "types": {
      "FRAME": "frame", "ACK": "ack", "ERROR": "error", "THROTTLE": "throttle",
      "ATTEMPT": "attempt", "MESSAGE": "message", "MESSAGE_READ": "message_read"
    },
    "errors": {
      "BAD_MESSAGE": "bad_message", "BAD_FRAME": "bad_frame", "FRAME_TOO_LARGE": "frame_too_large",
      "RATE_LIMITED": "rate_limited", "UNAVAILABLE": "unavailable", "QUEUE_FULL": "queue_full",
      "FRAMES_REFUSED": "frames_refused"
    },
    "close": {
      "UNAUTHENTICATED": 4401, "FORBIDDEN": 4403, "IDLE": 4408, "TOO_MANY_CONNECTIONS": 4429,
      "ATTEMPT_ENDED": 4410
    },
    "hints": {
      "camera_blocked": "Your camera seems to be covered. Please uncover it.",
      "face_not_visible": "We cannot see your face. Please sit facing the camera.",
      "too_dark": "Your picture is dark. Please turn on a light."
    }
  };
  /* protocol:end */

  const DEFAULTS = {
    fps: 2, // the gateway's PROCTORING_CLIENT_FPS default; its throttle advice lowers it
    jpegQuality: 0.8,
    maxPixels: 1920 * 1080, // PROCTORING_MAX_FRAME_PIXELS' default: larger pictures are scaled down
    consented: false,
    askConsent: true,
    ended: false,
  };
  // After the final `attempt` message the server closes the socket itself (4410); a socket it
  // leaves open this long is closed from here.
  const END_CLOSE_WAIT_MS = 5000;

  const PAUSED_NOTE = "Proctoring is paused for a moment. The pictures already sent are kept and will be checked when it resumes; nothing for you to do.";
  const BUSY_NOTE = "The proctoring service is busy; your camera sends fewer pictures for a moment. Nothing for you to do.";
  const CONSENT_TEXT = "This exam is proctored. Once you agree, your camera takes a few pictures a second and sends them to the proctoring service, which looks for a face in each; no sound is recorded. Nothing is recorded until you agree.";
  // What to tell a person whose camera could not start, by getUserMedia's error name.
  const CAMERA_HELP = {
    NotAllowedError: "Camera access was blocked. Click the camera icon in the address bar, allow the camera for this site, then reload the page.",
    SecurityError: "Camera access was blocked by the browser's settings. Allow the camera for this site, then reload the page.",
    NotFoundError: "No camera was found. Connect a camera, then reload the page.",
    NotReadableError: "The camera is in use by another program (a video call?). Close it, then reload the page.",
    OverconstrainedError: "Your camera cannot deliver the picture size we asked for. Try another camera, then reload the page.",
    AbortError: "The camera stopped while starting. Reload the page to try again.",
  };

  // Scoped to the widget's root class; the colours keep WCAG AA contrast on white.
  const CSS = `
.pc-camera { display: flex; flex-direction: column; gap: .4rem; font-size: .9rem; }
.pc-camera [hidden] { display: none !important; }
.pc-camera video { background: #000; border-radius: 4px; width: 100%; max-width: 20rem; height: auto; }
.pc-camera .pc-status { min-width: 0; overflow-wrap: anywhere; }
.pc-camera [data-state="connected"] { color: #137333; }
.pc-camera [data-state="connecting"], .pc-camera [data-state="reconnecting"], .pc-camera [data-state="retrying"] { color: #b06000; }
.pc-camera [data-state="refused"], .pc-camera [data-state="stopped"] { color: #a50e0e; }
.pc-camera .pc-hint { padding: .5rem .8rem; border-radius: 4px; background: #fff8e1; color: #5d4300; }
.pc-camera .pc-muted { color: #555e6b; }
.pc-camera .pc-help { padding: .6rem .8rem; border-radius: 4px; background: #fde8e8; color: #8a1c1c; }
.pc-camera .pc-message { padding: .6rem .8rem; border: 3px solid #2457d6; border-radius: 4px; }
.pc-camera .pc-ended { padding: .6rem .8rem; border-left: 4px solid #137333; }
.pc-camera button { background: #2457d6; color: #fff; border: 0; border-radius: 4px; padding: .45rem .9rem; cursor: pointer; font: inherit; }
.pc-camera button:focus-visible { outline: 3px solid #2457d6; outline-offset: 2px; }
`;

  let mounted = 0;

  function addStyle() {
    if (document.getElementById("proctoring-camera-style")) return;
    const style = document.createElement("style");
    style.id = "proctoring-camera-style";
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  // The widget's markup; every element gets the id `prefix + name`.
  function render(host, o, id) {
    const fps = Number(o.fps).toString();
    const idle = !o.consented;
    host.innerHTML = `
<div class="pc-camera">
  <div class="pc-consent" id="${id("camera-consent")}" hidden>
    <p id="${id("camera-consent-text")}"></p>
    <button type="button" id="${id("camera-consent-button")}">I agree: start the camera</button>
  </div>
  <video id="${id("preview")}" autoplay muted playsinline width="320" height="240" aria-label="Your camera's picture"></video>
  <div class="pc-status">
    <p aria-live="polite" aria-atomic="true">Connection: <strong id="${id("conn-state")}" data-state="starting">${idle ? "not started" : "starting"}</strong></p>
    <p aria-live="polite" aria-atomic="true">Camera: <strong id="${id("camera-state")}">${idle ? "off until you agree" : "asking for permission…"}</strong> · sending <span id="${id("rate")}">${fps} frames/s</span></p>
    <p>Frames sent <strong id="${id("sent")}">0</strong> · acknowledged <strong id="${id("acked")}">0</strong> · refused <strong id="${id("refused")}">0</strong></p>
    <p id="${id("hint")}" class="pc-hint" role="status" aria-live="polite" hidden></p>
    <p id="${id("last-error")}" class="pc-muted" aria-live="polite"></p>
  </div>
  <div id="${id("camera-help")}" class="pc-help" role="alert" hidden></div>
  <div id="${id("camera-message")}" class="pc-message" role="alertdialog" aria-modal="false" aria-labelledby="${id("camera-message-title")}" aria-describedby="${id("camera-message-body")}" tabindex="-1" hidden>
    <p id="${id("camera-message-title")}"><strong>Message from your proctor</strong></p>
    <p id="${id("camera-message-body")}"></p>
    <button type="button" id="${id("camera-message-ok")}">OK, I've read it</button>
  </div>
  <p id="${id("camera-paused")}" class="pc-hint" role="status" hidden></p>
  <p id="${id("camera-ended")}" class="pc-ended" role="status" hidden>The proctored attempt has ended; the camera is off.</p>
</div>`;
  }

  /**
   * Renders the camera into `host` and, once the candidate agreed, streams.
   *
   * options:
   *   wsUrl       the socket's full URL (ws: or wss:), or
   *   wsPath      the API's `ws_path`, joined to `server` (default: the origin this script came from)
   *   consented   the candidate has agreed already: start at once (default false)
   *   askConsent  when not consented, show the consent button (default true; false: wait, off)
   *   consentText what the consent step says above its button
   *   onConsent   called when the candidate agrees, before the camera starts; may return a
   *               promise; false (or a rejection) keeps the camera off
   *   onStatus(status)   every change: {connection, camera, sent, acked, refused, hint, note, closeCode}
   *   onAttempt(message) the attempt's state from the server (status, seconds_left, ended, reason);
   *                      without it the widget says when a proctor paused the attempt
   *   onMessage(message) a proctor's message; without it the widget shows it and sends `message_read`
   *   onEnded({status, reason, closeCode}) once, when the attempt has ended
   *   fps, jpegQuality, maxPixels, protocol: the server's settings when they differ from the defaults
   *   idPrefix    prefix of the widget's element ids (default "proctoring-camera-<n>-")
   *   styles      false: add no <style> (the host page styles .pc-camera itself)
   * Returns {stop(), markRead(id), state}.
   */
  function mount(host, options) {
    if (!host) throw new Error("ProctoringCamera.mount: no element to mount in");
    const o = Object.assign({}, DEFAULTS, options || {});
    const P = o.protocol || PROTOCOL;
    mounted += 1;
    const prefix = o.idPrefix !== undefined ? o.idPrefix : `proctoring-camera-${mounted}-`;
    const id = (name) => prefix + name;
    if (o.styles !== false) addStyle();
    render(host, o, id);
    const $ = (name) => host.querySelector(`[id="${id(name)}"]`);
    const SERVICE_BUSY = new Set([P.errors.RATE_LIMITED, P.errors.QUEUE_FULL]);

    const state = {
      ws: null, sent: 0, acked: 0, refused: 0, retry: 0, stopped: false, ended: false,
      timer: null, capture: null, intervalMs: Math.round(1000 / o.fps), frameBytes: 0,
      unavailable: 0, holdUntil: 0, // frames refused `unavailable` in a row; no frame sent before holdUntil
      paused: false, // the last ack said the workers are paused (an operator's pause)
      connection: o.consented ? "starting" : "not started", camera: "off", hint: "", closeCode: null,
      video: null, endReported: false,
    };

    function report() {
      if (typeof o.onStatus !== "function") return;
      o.onStatus({
        connection: state.connection, camera: state.camera, sent: state.sent, acked: state.acked,
        refused: state.refused, hint: state.hint, note: $("last-error").textContent, closeCode: state.closeCode,
      });
    }

    function setConnection(name) {
      state.connection = name;
      const el = $("conn-state");
      el.textContent = name;
      el.dataset.state = name;
      report();
    }

    function setCamera(text, name) {
      state.camera = name || text;
      $("camera-state").textContent = text;
    }

    function note(text) {
      $("last-error").textContent = text;
    }

    function showCount() {
      $("sent").textContent = state.sent;
      $("acked").textContent = state.acked;
      $("refused").textContent = state.refused;
      report();
    }

    function socketUrl() {
      if (o.wsUrl) return o.wsUrl;
      if (!o.wsPath) throw new Error("ProctoringCamera.mount: give wsUrl or wsPath");
      const url = new URL(o.wsPath, o.server || SCRIPT_ORIGIN);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      return url.href;
    }

    function explainCamera(error) {
      const help = $("camera-help");
      help.hidden = false;
      help.textContent = CAMERA_HELP[error.name] || `The camera could not start (${error.name || error}). Reload the page to try again.`;
      setCamera("not available");
    }

    async function startCamera() {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        explainCamera({ name: "Unsupported", toString: () => "this page must be opened over HTTPS or on localhost, in a current browser" });
        return null;
      }
      setCamera("asking for permission…", "starting");
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
        const video = $("preview");
        video.srcObject = stream;
        await video.play().catch(() => {});
        setCamera("on");
        return video;
      } catch (error) {
        explainCamera(error);
        return null;
      }
    }

    function ended(detail) {
      if (state.endReported) return;
      state.endReported = true;
      $("camera-ended").hidden = false;
      if (typeof o.onEnded === "function") o.onEnded(detail);
    }

    function onMessage(event) {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === P.types.ACK) {
        state.acked += 1;
        showPaused(Boolean(message.paused));
        if (state.unavailable) {
          state.unavailable = 0;
          state.holdUntil = 0;
          setConnection("connected");
          note("");
        }
        showHint(message.hint);
      } else if (message.type === P.types.ATTEMPT) {
        if (typeof o.onAttempt === "function") o.onAttempt(message);
        else showAttemptPaused(message);
        if (message.ended) {
          // The server closes the socket with 4410 next; the camera goes off now.
          stop("ended", { keepSocket: true });
          ended({ status: message.status, reason: message.reason || "", closeCode: null });
        }
      } else if (message.type === P.types.MESSAGE) {
        if (typeof o.onMessage === "function") o.onMessage(message);
        else showProctorMessage(message);
      } else if (message.type === P.types.THROTTLE) {
        // The server's queue is filling: send less often until it says otherwise.
        setFrameRate(message.fps);
      } else if (message.type === P.types.ERROR && SERVICE_BUSY.has(message.code)) {
        // The queue holds this camera's earlier frames (or everyone's): not the candidate's
        // doing, and not counted as refused. A newer frame goes a little later.
        holdFor(state.paused ? 2000 : 1000);
        note(state.paused ? PAUSED_NOTE : BUSY_NOTE);
      } else if (message.type === P.types.ERROR) {
        state.refused += 1;
        note(`Frame ${message.seq} refused: ${message.code} (${message.detail})`);
        if (message.code === P.errors.UNAVAILABLE) {
          // The server cannot queue frames just now (its Redis restarts): keep the socket, and
          // try again with a newer frame after 1, 2, 4, then every 8 s until one is acked.
          holdFor(Math.min(8000, 1000 * 2 ** state.unavailable));
          state.unavailable += 1;
          setConnection("retrying");
          note("The server cannot take frames right now; retrying by itself.");
        } else if (message.code === P.errors.FRAMES_REFUSED) {
          // The proctoring service refused the camera's last pictures: the gateway takes none
          // for a while (a throttle has slowed the camera already); it starts again by itself.
          note("Your camera's last pictures could not be read. Check that it shows your face; sending starts again by itself.");
        }
      }
      showCount();
    }

    function onClose(event) {
      if (state.ws === event.target) state.ws = null;
      state.closeCode = event.code;
      if (event.code === P.close.ATTEMPT_ENDED) {
        // The attempt ended (its final `attempt` message may have been missed): no reconnecting.
        if (!state.ended) stop("ended");
        ended({ status: null, reason: event.reason || "", closeCode: event.code });
        report();
        return;
      }
      if (state.stopped) { report(); return; }
      if (event.code === P.close.UNAUTHENTICATED || event.code === P.close.FORBIDDEN) {
        stop("refused");
        note(`The server refused the stream: ${event.reason || event.code}. Reload the page to try again.`);
        report();
        return;
      }
      if (event.code === P.close.TOO_MANY_CONNECTIONS) {
        note(`${event.reason || "Too many connections"}. Retrying by itself.`);
      }
      // Exponential backoff with jitter, capped at 30 s: many pages must not reconnect in step.
      const delay = Math.min(30000, 500 * 2 ** state.retry) * (0.5 + Math.random() / 2);
      state.retry += 1;
      setConnection("reconnecting");
      setTimeout(connect, delay);
    }

    function connect() {
      if (state.stopped) return;
      setConnection(state.retry === 0 ? "connecting" : "reconnecting");
      const ws = new WebSocket(socketUrl());
      ws.binaryType = "arraybuffer";
      state.ws = ws;
      ws.onopen = () => {
        state.retry = 0;
        setConnection("connected");
      };
      ws.onmessage = onMessage;
      ws.onclose = onClose;
    }

    // The camera goes off and nothing more is sent. `keepSocket`: the server is about to close
    // the socket itself (the attempt ended), so that its close code is seen; else it closes now.
    function stop(name, { keepSocket = false } = {}) {
      if (state.stopped && name !== "ended") return;
      state.stopped = true;
      if (name === "ended") state.ended = true;
      clearInterval(state.timer);
      clearTimeout(state.timer);
      state.capture = null;
      const video = $("preview");
      if (video.srcObject) {
        for (const track of video.srcObject.getTracks()) track.stop();
        video.srcObject = null;
      }
      setCamera("off");
      setConnection(name);
      const ws = state.ws;
      if (!ws) return;
      const close = () => { if (ws.readyState < WebSocket.CLOSING) ws.close(1000, "the attempt ended"); };
      if (keepSocket) setTimeout(close, END_CLOSE_WAIT_MS);
      else close();
    }

    // While the workers are paused the frames wait in the queue: say so calmly, once, and clear
    // it when an ack comes without the pause.
    function showPaused(paused) {
      if (paused === state.paused) return;
      state.paused = paused;
      const el = $("last-error");
      if (paused) el.textContent = PAUSED_NOTE;
      else if (el.textContent === PAUSED_NOTE || el.textContent === BUSY_NOTE) el.textContent = "";
    }

    // A calm word about the camera picture, from the server's analysis of recent frames.
    function showHint(code) {
      const el = $("hint");
      const text = code ? P.hints[code] || "" : "";
      state.hint = text;
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
        if (!state.capture) return;
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
        const scale = Math.min(1, Math.sqrt(o.maxPixels / (video.videoWidth * video.videoHeight)));
        canvas.width = Math.floor(video.videoWidth * scale);
        canvas.height = Math.floor(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        canvas.toBlob((blob) => {
          if (!blob || state.stopped || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
          state.frameBytes = blob.size;
          blob.arrayBuffer().then((buffer) => {
            if (state.stopped || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
            state.ws.send(buffer);
            state.sent += 1;
            showCount();
          });
        }, "image/jpeg", o.jpegQuality);
      };
      state.timer = setInterval(state.capture, state.intervalMs);
    }

    function markRead(messageId) {
      const ws = state.ws;
      if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ type: P.types.MESSAGE_READ, id: messageId }));
      }
    }

    // Without an `onAttempt` of the host's, a proctor's pause is said here: the camera goes on.
    function showAttemptPaused(message) {
      const el = $("camera-paused");
      const paused = message.status === "paused" && !message.ended;
      el.textContent = paused
        ? `A proctor paused the exam${message.reason ? `: ${message.reason}` : ""}. The clock is stopped and the camera keeps running.`
        : "";
      el.hidden = !paused;
    }

    // Without an `onMessage` of the host's, a proctor's message shows here until read.
    const unread = [];
    function showProctorMessage(message) {
      if (unread.some((m) => m.id === message.id)) return;
      unread.push(message);
      if (unread.length === 1) showNextMessage();
    }
    function showNextMessage() {
      const box = $("camera-message");
      box.hidden = unread.length === 0;
      if (!unread.length) return;
      $("camera-message-body").textContent = unread[0].body;
      box.focus();
    }
    $("camera-message-ok").addEventListener("click", () => {
      const message = unread.shift();
      if (message) markRead(message.id);
      showNextMessage();
    });

    async function begin() {
      const video = await startCamera();
      if (state.stopped) return;
      if (!video) { setConnection("stopped"); return; }
      state.video = video;
      connect();
      captureLoop(video);
    }

    if (o.ended) {
      stop("ended");
      $("camera-ended").hidden = false;
      state.endReported = true;
    } else if (o.consented) {
      begin();
    } else if (o.askConsent) {
      const panel = $("camera-consent");
      const button = $("camera-consent-button");
      $("camera-consent-text").textContent = o.consentText || CONSENT_TEXT;
      panel.hidden = false;
      button.addEventListener("click", async () => {
        button.disabled = true;
        let agreed;
        try {
          agreed = typeof o.onConsent === "function" ? await o.onConsent() : true;
        } catch (error) {
          agreed = false;
          note(`The consent could not be recorded (${error.message || error}). Try again.`);
        }
        if (agreed === false) { button.disabled = false; return; }
        panel.hidden = true;
        setConnection("starting");
        begin();
      });
    }
    report();

    return {
      stop: () => { if (!state.stopped) stop("ended"); },
      markRead,
      get state() {
        return {
          connection: state.connection, camera: state.camera, sent: state.sent, acked: state.acked,
          refused: state.refused, hint: state.hint, closeCode: state.closeCode, ended: state.ended,
        };
      },
    };
  }

  window.ProctoringCamera = { mount, protocol: PROTOCOL, version: 1 };
})();
