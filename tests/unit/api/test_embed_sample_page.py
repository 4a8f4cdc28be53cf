"""docs/integration.md shows the sample platform page that the browser tests drive
(docs/samples/embed.html): the page a platform developer copies is the page that was tested."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_guide_shows_the_tested_sample_page_word_for_word() -> None:
    guide = (DOCS / "integration.md").read_text()
    shown = re.findall(r"```html\n(.*?)```", guide, re.S)
    assert shown == [(DOCS / "samples" / "embed.html").read_text()]


def test_the_sample_page_loads_the_camera_from_the_proctoring_site_and_mounts_it_with_ws_path() -> None:
    page = (DOCS / "samples" / "embed.html").read_text()
    assert '<script src="{{ PROCTORING_SITE }}/static/proctoring/embed.js"></script>' in page
    assert 'data-ws-path="{{ WS_PATH }}"' in page
    assert "ProctoringCamera.mount(" in page
