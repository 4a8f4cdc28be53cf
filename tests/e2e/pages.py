"""What a person does on the pages (log in, start an exam, consent), what the exam page shows,
and the screenshot each scenario leaves of its final state."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

# Observes (never changes) the exam page's camera socket: when each frame left and each reply
# came, in the page's own clock (ms), so that the test can measure the page's pauses.
WATCH_SOCKET = """
(() => {
  const sent = [], replies = [];
  window.cameraSocket = { sent, replies, sockets: 0 };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (!this.watched) {
      this.watched = true;
      window.cameraSocket.sockets += 1;
      this.addEventListener("message", (event) => {
        const message = JSON.parse(event.data);
        replies.push({ at: performance.now(), type: message.type, code: message.code || null });
      });
    }
    sent.push(performance.now());
    return send.call(this, data);
  };
})();
"""


def log_in(page: Page, url: str, username: str, password: str) -> None:
    """Opens `url` and logs in on the login page it sends an anonymous person to."""
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def open_exam(page: Page, title: str) -> str:
    """From the exam list, starts the exam; returns the attempt's id (the queue's client id)."""
    exam = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=title))
    exam.get_by_role("button", name="Start exam").click()
    page.wait_for_url(re.compile(r"/attempts/[0-9a-f-]{36}/$"))
    match = re.search(r"/attempts/([0-9a-f-]{36})/$", page.url)
    assert match, page.url
    return match.group(1)


def consent(page: Page) -> None:
    page.get_by_role("button", name="I agree: start the camera").click()


def take_exam(page: Page, base_url: str, username: str, password: str, title: str) -> str:
    """Logs in, opens the exam and agrees to the camera: the page starts streaming."""
    log_in(page, base_url + "/", username, password)
    attempt_id = open_exam(page, title)
    consent(page)
    return attempt_id


def connection(page: Page) -> str:
    return page.locator("#conn-state").inner_text()


def count(page: Page, name: str) -> int:
    """One of the exam page's counters: sent, acked, refused."""
    return int(page.locator(f"#{name}").inner_text())


def wait_for_count(page: Page, name: str, at_least: int, timeout_ms: float) -> None:
    page.wait_for_function(
        "([name, n]) => Number(document.getElementById(name).textContent) >= n",
        arg=[name, at_least],
        timeout=timeout_ms,
    )


def screenshot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SEVERE = ("serious", "critical")


def axe_violations(page: Page) -> list[str]:
    """Runs axe-core (from npm: `make install`) in the page; returns its serious and critical
    violations, one line each (rule, impact, the first offending elements)."""
    assert AXE.exists(), f"{AXE} is missing: run `make install` (npm ci installs axe-core)"
    page.add_script_tag(content=AXE.read_text())
    violations = page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
        }))"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'])}"
        for v in violations
        if v["impact"] in SEVERE
    ]
