"""The throughput chart as plain numbers: SVG polyline points for frames received, completed
and failed per minute, drawn by the admin page's template (and redrawn by its script)."""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT, PAD = 720, 160, 24
SERIES = ("received", "completed", "failed")


def throughput_chart(rows: list[dict[str, Any]], width: int = WIDTH, height: int = HEIGHT) -> dict[str, Any]:
    """Points for each series over `rows` (oldest first), scaled to the largest value."""
    top = max([1, *(row[name] for row in rows for name in SERIES)])
    step = (width - 2 * PAD) / max(1, len(rows) - 1)
    plot_height = height - 2 * PAD

    def point(index: int, value: int) -> str:
        return f"{PAD + index * step:.1f},{PAD + plot_height * (1 - value / top):.1f}"

    return {
        "width": width,
        "height": height,
        "max": top,
        "points": {name: " ".join(point(i, row[name]) for i, row in enumerate(rows)) for name in SERIES},
        "first": rows[0]["minute"][11:16] if rows else "",
        "last": rows[-1]["minute"][11:16] if rows else "",
    }
