"""The embeddable camera (static/proctoring/embed.js) carries its own copy of the protocol's
names, since a page on another origin has no config rendered by this site: it must be the
protocol `proctoring.core.protocol` defines."""

from __future__ import annotations

import json
import re
from pathlib import Path

from proctoring.core import protocol

EMBED = Path(__file__).resolve().parents[3] / "static" / "proctoring" / "embed.js"
COPY = re.compile(r"/\* protocol:begin \*/\s*const PROTOCOL = (\{.*?\});\s*/\* protocol:end \*/", re.S)


def test_embed_scripts_protocol_is_the_servers() -> None:
    match = COPY.search(EMBED.read_text())
    assert match, f"{EMBED} lost its /* protocol:begin */ … /* protocol:end */ block"
    assert json.loads(match.group(1)) == protocol.as_json_data()


def test_embed_script_needs_no_module_loader_and_reaches_nothing_but_its_own_site() -> None:
    script = EMBED.read_text()
    # A classic script any page can include: no import/export, one global.
    assert not re.search(r"^\s*(import|export)\b", script, re.M)
    assert "window.ProctoringCamera = " in script
    assert not re.search(r"https?://", script), "a CDN or fixed address in embed.js"
