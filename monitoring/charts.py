"""The home page's chart of answers by outcome, as geometry for an inline SVG drawn server-side:
no script and no CDN, so it renders under the strict CSP (colours are SVG attributes, not styles)."""

from __future__ import annotations

from monitoring.selectors import Answers

COLOURS = {"identified": "#1f7a4d", "match": "#1f7a4d", "unknown": "#8a93a6", "no_match": "#8a93a6",
           "liveness_failed": "#b3261e"}
LABEL_W, BAR_W, ROW_H, BAR_H = 120, 360, 34, 22


def outcome_chart(answers: dict[str, Answers]) -> dict:
    """One stacked bar per (window, kind), each outcome's share of the bar's width; a row with no
    answers is drawn empty with "no answers"."""
    rows = []
    for window, counts in answers.items():
        for kind, by_outcome in (("identify", counts.identify), ("verify", counts.verify)):
            total = sum(by_outcome.values())
            y = len(rows) * ROW_H
            x, segments = LABEL_W, []
            for outcome, count in by_outcome.items():
                width = BAR_W * count / total if total else 0
                if width:
                    segments.append({"x": round(x, 1), "width": round(width, 1), "fill": COLOURS[outcome],
                                     "title": f"{kind} {outcome}: {count} ({count / total:.0%})"})
                x += width
            rows.append({"label": f"{kind}, {window}", "y": y, "text_y": y + BAR_H - 6, "bar_h": BAR_H,
                         "total": total, "segments": segments, "total_x": LABEL_W + BAR_W + 8})
    legend = [{"outcome": name, "fill": fill, "x": LABEL_W + i * 120} for i, (name, fill) in enumerate(
        (("identified / match", COLOURS["identified"]), ("unknown / no match", COLOURS["unknown"]),
         ("liveness failed", COLOURS["liveness_failed"])))]
    height = len(rows) * ROW_H + 24
    return {"rows": rows, "legend": legend, "legend_y": height - 8, "legend_box_y": height - 18,
            "width": LABEL_W + BAR_W + 60, "height": height, "label_w": LABEL_W, "bar_w": BAR_W}
