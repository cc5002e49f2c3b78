"""A video's results as files: JSON, CSV (one row per track) and WebVTT (who is on screen, one cue per
track). Pure functions of the rows (videos.selectors builds them), so each format is tested directly.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass

UNKNOWN = "unknown"


@dataclass(frozen=True)
class TrackRow:
    """One track as the pages, the API and the exports show it."""

    number: int
    identity_id: int | None
    label: str  # the person's name, or `unknown`
    score: float | None
    threshold: float | None
    decided_by: str
    reason: str
    first_seen_s: float
    last_seen_s: float
    frames_seen: int
    best_time_s: float
    best_box: list[float]
    has_crop: bool


@dataclass(frozen=True)
class VideoSummary:
    id: int
    status: str
    duration_s: float | None
    sample_fps: float | None
    frames_decoded: int
    faces_found: int
    tracks: int
    people_identified: int
    model_version: str
    threshold: float | None


def timecode(seconds: float) -> str:
    """HH:MM:SS.mmm (WebVTT's timestamp; hours grow past two digits rather than wrap)."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def track_end_s(row: TrackRow, *, sample_fps: float | None, duration_s: float | None) -> float:
    """When a track leaves the screen: its last sighting stands for one sample period (a track seen in one
    sample still lasts that long), but never past the video's end."""
    end = row.last_seen_s + (1.0 / sample_fps if sample_fps else 0.0)
    if duration_s is not None:
        end = min(end, max(duration_s, row.last_seen_s))
    return max(end, row.last_seen_s)


def row_dict(row: TrackRow) -> dict:
    """A row as the API and the JSON export show it: the times in seconds and as timecodes."""
    data = asdict(row)
    data["first_seen"] = timecode(row.first_seen_s)
    data["last_seen"] = timecode(row.last_seen_s)
    return data


def as_json(summary: VideoSummary, rows: list[TrackRow]) -> str:
    return json.dumps({"video": asdict(summary), "tracks": [row_dict(row) for row in rows]}, indent=2)


CSV_COLUMNS = ["track", "identity_id", "label", "score", "threshold", "decided_by", "reason", "first_seen_s",
               "first_seen", "last_seen_s", "last_seen", "frames_seen", "best_time_s", "box_x1", "box_y1",
               "box_x2", "box_y2", "has_crop"]


def _cell(text: str) -> str:
    """A name typed by someone, kept from being read as a formula by a spreadsheet (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(rows: list[TrackRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        box = list(row.best_box or [])[:4] + [""] * (4 - len(row.best_box or []))
        writer.writerow([row.number, "" if row.identity_id is None else row.identity_id, _cell(row.label),
                         "" if row.score is None else f"{row.score:.4f}",
                         "" if row.threshold is None else f"{row.threshold:.4f}", row.decided_by, row.reason,
                         f"{row.first_seen_s:.3f}", timecode(row.first_seen_s), f"{row.last_seen_s:.3f}",
                         timecode(row.last_seen_s), row.frames_seen, f"{row.best_time_s:.3f}", *box,
                         "yes" if row.has_crop else "no"])
    return buffer.getvalue()


def _cue_text(text: str) -> str:
    """Cue text cannot hold a blank line, and &, < and > are markup there (so `-->` cannot appear either)."""
    flat = " ".join(text.split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def as_webvtt(rows: list[TrackRow], *, sample_fps: float | None, duration_s: float | None) -> str:
    """Subtitles: one cue per track (`t-<n>`), from its first sighting to its end, saying who it is; cues
    of people on screen together overlap, which WebVTT allows."""
    lines = ["WEBVTT", ""]
    for row in sorted(rows, key=lambda r: (r.first_seen_s, r.number)):
        end = track_end_s(row, sample_fps=sample_fps, duration_s=duration_s)
        if end <= row.first_seen_s:
            end = row.first_seen_s + 0.001  # a cue must end after it starts
        lines += [f"t-{row.number}", f"{timecode(row.first_seen_s)} --> {timecode(end)}",
                  _cue_text(f"{row.label} (track {row.number})"), ""]
    return "\n".join(lines) + "\n"
