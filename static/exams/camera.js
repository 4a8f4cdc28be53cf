// The exam page's camera: the embeddable camera (static/proctoring/embed.js, loaded before this
// module) mounted on #camera with the server's settings and protocol (rendered into
// #stream-config), its socket's news passed on to the questions' module as DOM events.

const config = JSON.parse(document.getElementById("stream-config").textContent);
const tell = (name, detail) => document.dispatchEvent(new CustomEvent(name, { detail }));

const camera = window.ProctoringCamera.mount(document.getElementById("camera"), {
  wsPath: config.wsPath,
  server: location.origin,
  consented: config.consented,
  ended: config.ended,
  askConsent: false, // the page's own form asks, and starts the clock
  idPrefix: "", // the page's ids: #conn-state, #sent, …
  fps: config.fps,
  jpegQuality: config.jpegQuality,
  maxPixels: config.maxPixels,
  protocol: config.protocol,
  onAttempt: (message) => tell("exam:attempt", message),
  onMessage: (message) => tell("exam:message", message),
  // Closed with 4410 before a final `attempt` message came: the questions' module asks the
  // server how the attempt ended.
  onEnded: (detail) => { if (!detail.status) tell("exam:socket-ended"); },
});

document.addEventListener("exam:ended", () => camera.stop());
// The exam taker read a proctor's message: the gateway hears of it over the socket when it is open.
document.addEventListener("exam:message-read", (event) => camera.markRead(event.detail.id));
