// The exam's clock on the page: the time left, from the server's `seconds_left` (counted from when
// the server wrote it, so the computer's own clock does not matter), ticking between updates.
// The visible timer is not a live region (it changes every second); `announce` speaks at
// intervals and on changes instead.

const MINUTE = 60;
// Spoken when the time left crosses one of these (seconds): every 10 minutes, then 5 and 1.
const MILESTONES = [5 * MINUTE, MINUTE];
const EVERY = 10 * MINUTE;

export function formatTime(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function spokenTime(seconds) {
  const minutes = Math.ceil(Math.max(0, seconds) / MINUTE);
  if (minutes <= 1) return seconds > 0 ? "less than a minute left" : "no time left";
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const parts = [];
  if (h) parts.push(`${h} hour${h > 1 ? "s" : ""}`);
  if (m) parts.push(`${m} minute${m > 1 ? "s" : ""}`);
  return `${parts.join(" ")} left`;
}

// Which milestone (or 10-minute mark) lies in (after, before]: the one to speak, or null.
export function crossed(before, after) {
  for (const mark of MILESTONES) if (before > mark && after <= mark) return mark;
  const mark = Math.floor(before / EVERY) * EVERY;
  if (mark >= EVERY && before > mark && after <= mark) return mark;
  return null;
}

export class Clock {
  constructor({ display, announcer, onZero }) {
    this.display = display;
    this.announcer = announcer;
    this.onZero = onZero;
    this.endsAt = null; // performance.now() when the time runs out; null: not running
    this.frozen = null; // seconds left while paused
    this.last = null;
    this.timer = setInterval(() => this.tick(), 1000);
  }

  // From the server: seconds left (null: no clock yet) and whether the clock stands still.
  set(secondsLeft, running) {
    if (secondsLeft === null || secondsLeft === undefined) {
      this.endsAt = null;
      this.frozen = null;
    } else if (running) {
      this.endsAt = performance.now() + secondsLeft * 1000;
      this.frozen = null;
    } else {
      this.endsAt = null;
      this.frozen = secondsLeft;
    }
    this.tick(true);
  }

  left() {
    if (this.endsAt !== null) return Math.max(0, (this.endsAt - performance.now()) / 1000);
    return this.frozen;
  }

  tick(quiet = false) {
    const left = this.left();
    this.display.textContent = left === null ? "–" : formatTime(left);
    if (left === null) return;
    if (!quiet && this.last !== null) {
      const mark = crossed(this.last, left);
      if (mark !== null) this.say(spokenTime(mark));
    }
    this.last = left;
    if (this.endsAt !== null && left <= 0) {
      this.endsAt = null;
      this.frozen = 0;
      this.onZero();
    }
  }

  say(text) {
    // The same words twice would not be read again: clear first, then set.
    this.announcer.textContent = "";
    setTimeout(() => { this.announcer.textContent = text; }, 50);
  }

  stop() {
    clearInterval(this.timer);
    this.endsAt = null;
  }
}
