"""The throughput chart as plain numbers: per minute, frames received (drawn as an area, so that
a line on top of it never hides it), completed, delivered late (backfill, among the completed),
failed and expired (dropped past the backfill horizon), as SVG points drawn by the admin page's
template (and redrawn by its script), with each series' total."""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT, PAD = 720, 160, 24
LEGEND_X, LEGEND_STEP = 130, 118
# (field of the minute hash, label, drawn as an area). A new series is one entry here and one
# field in `stats.MINUTE_FIELDS`: the template and queue_admin.js draw whatever they are given.
SERIES: tuple[tuple[str, str, bool], ...] = (
    ("received", "received", True),
    ("completed", "completed", False),
    ("late", "late", False),
    ("failed", "failed", False),
    ("stale", "expired", False),
)


def throughput_chart(rows: list[dict[str, Any]], width: int = WIDTH, height: int = HEIGHT) -> dict[str, Any]:
    """Points for each series over `rows` (oldest first), scaled to the largest value; an area
    series' points are closed down to the baseline."""
    top = max([1, *(row.get(name, 0) for row in rows for name, _, _ in SERIES)])
    step = (width - 2 * PAD) / max(1, len(rows) - 1)
    plot_height = height - 2 * PAD
    baseline = f"{PAD + plot_height:.1f}"

    def point(index: int, value: int) -> str:
        return f"{PAD + index * step:.1f},{PAD + plot_height * (1 - value / top):.1f}"

    def points(name: str, area: bool) -> str:
        line = " ".join(point(i, row.get(name, 0)) for i, row in enumerate(rows))
        if not area or not rows:
            return line
        last = f"{PAD + (len(rows) - 1) * step:.1f}"
        return f"{PAD:.1f},{baseline} {line} {last},{baseline}"

    series = [
        {
            "name": name,
            "label": label,
            "area": area,
            "points": points(name, area),
            "total": sum(row.get(name, 0) for row in rows),
            "legend_x": LEGEND_X + index * LEGEND_STEP,
        }
        for index, (name, label, area) in enumerate(SERIES)
    ]
    return {
        "width": width,
        "height": height,
        "max": top,
        "series": series,
        "points": {entry["name"]: entry["points"] for entry in series},
        "totals": {entry["name"]: entry["total"] for entry in series},
        "first": rows[0]["minute"][11:16] if rows else "",
        "last": rows[-1]["minute"][11:16] if rows else "",
    }
