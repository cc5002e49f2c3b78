"""The exports as pure functions of the rows: JSON, CSV and WebVTT parse back to the rows they were built from."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from videos.exports import TrackRow, VideoSummary, as_csv, as_json, as_webvtt, timecode, track_end_s

ROWS = [
    TrackRow(number=1, identity_id=7, label="Ada Lovelace", score=0.8123, threshold=0.45, decided_by="score",
             reason="", first_seen_s=0.4, last_seen_s=1.8, frames_seen=8, best_time_s=1.2,
             best_box=[10.0, 20.0, 110.0, 140.0], has_crop=True),
    TrackRow(number=2, identity_id=None, label="unknown", score=0.21, threshold=0.45, decided_by="score",
             reason="below_threshold", first_seen_s=1.0, last_seen_s=3.6, frames_seen=14, best_time_s=2.0,
             best_box=[300.5, 40.0, 380.0, 150.0], has_crop=False),
    # One sample only, and a name with markup and a formula in it.
    TrackRow(number=3, identity_id=9, label="=HYPERLINK(\"x\") <b>&co</b> -->", score=0.9, threshold=0.45,
             decided_by="score+classifier", reason="", first_seen_s=4.0, last_seen_s=4.0, frames_seen=1,
             best_time_s=4.0, best_box=[1, 2, 3, 4], has_crop=True),
]
SUMMARY = VideoSummary(id=5, status="done", duration_s=4.1, sample_fps=5.0, frames_decoded=21, faces_found=23,
                       tracks=3, people_identified=2, model_version="facenet-1", threshold=0.45)


@pytest.mark.parametrize("seconds, expected", [
    (0, "00:00:00.000"), (0.4, "00:00:00.400"), (61.2345, "00:01:01.234"), (3661.5, "01:01:01.500"),
    (59.9996, "00:01:00.000"), (-0.1, "00:00:00.000"), (360000, "100:00:00.000"),
])
def test_timecodes_are_hours_minutes_seconds_and_milliseconds(seconds, expected):
    assert timecode(seconds) == expected


def test_a_track_lasts_one_sample_period_past_its_last_sighting_but_not_past_the_end():
    assert track_end_s(ROWS[0], sample_fps=5.0, duration_s=4.1) == pytest.approx(2.0)
    assert track_end_s(ROWS[2], sample_fps=5.0, duration_s=4.1) == pytest.approx(4.1)
    assert track_end_s(ROWS[2], sample_fps=None, duration_s=None) == 4.0


def test_the_json_export_holds_the_summary_and_every_row():
    document = json.loads(as_json(SUMMARY, ROWS))
    assert document["video"]["tracks"] == 3 and document["video"]["people_identified"] == 2
    assert document["video"]["duration_s"] == 4.1
    assert [t["number"] for t in document["tracks"]] == [1, 2, 3]
    first = document["tracks"][0]
    assert first["identity_id"] == 7 and first["label"] == "Ada Lovelace" and first["score"] == 0.8123
    assert (first["first_seen"], first["last_seen"]) == ("00:00:00.400", "00:00:01.800")
    assert first["best_box"] == [10.0, 20.0, 110.0, 140.0] and first["has_crop"] is True
    assert document["tracks"][1]["identity_id"] is None and document["tracks"][1]["reason"] == "below_threshold"


def test_the_csv_export_has_one_row_per_track_and_no_formula():
    rows = list(csv.DictReader(io.StringIO(as_csv(ROWS))))
    assert [row["track"] for row in rows] == ["1", "2", "3"]
    assert rows[0]["label"] == "Ada Lovelace" and rows[0]["identity_id"] == "7" and rows[0]["score"] == "0.8123"
    assert (rows[0]["first_seen_s"], rows[0]["first_seen"], rows[0]["last_seen"]) == ("0.400", "00:00:00.400",
                                                                                      "00:00:01.800")
    assert [rows[1][k] for k in ("box_x1", "box_y1", "box_x2", "box_y2")] == ["300.5", "40.0", "380.0", "150.0"]
    assert rows[1]["identity_id"] == "" and rows[1]["label"] == "unknown" and rows[1]["has_crop"] == "no"
    assert rows[2]["label"].startswith("'=")  # a spreadsheet shows it as text


def parse_webvtt(text: str) -> list[dict]:
    """Cues of a WebVTT file (identifier, start, end, text), by the format's rules."""
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for block in text.split("\n\n")[1:]:
        if not block.strip():
            continue
        ident, timing, *body = block.split("\n")
        match = re.fullmatch(r"(\d{2,}:\d{2}:\d{2}\.\d{3}) --> (\d{2,}:\d{2}:\d{2}\.\d{3})", timing)
        assert match, timing
        cues.append({"id": ident, "start": match[1], "end": match[2], "text": "\n".join(body)})
    return cues


def test_the_webvtt_export_has_one_cue_per_track_saying_who_is_on_screen():
    cues = parse_webvtt(as_webvtt(ROWS, sample_fps=5.0, duration_s=4.1))
    assert [cue["id"] for cue in cues] == ["t-1", "t-2", "t-3"]
    assert (cues[0]["start"], cues[0]["end"], cues[0]["text"]) == ("00:00:00.400", "00:00:02.000",
                                                                    "Ada Lovelace (track 1)")
    assert (cues[1]["start"], cues[1]["end"]) == ("00:00:01.000", "00:00:03.800")  # overlaps track 1
    assert cues[1]["text"] == "unknown (track 2)"
    # The one-sample track ends after it starts, at the video's end; its markup is escaped text.
    assert (cues[2]["start"], cues[2]["end"]) == ("00:00:04.000", "00:00:04.100")
    assert "<" not in cues[2]["text"] and "-->" not in cues[2]["text"] and "&amp;co" in cues[2]["text"]


def test_a_cue_always_ends_after_it_starts():
    cues = parse_webvtt(as_webvtt(ROWS[2:], sample_fps=None, duration_s=None))
    assert cues[0]["start"] < cues[0]["end"]


def test_no_tracks_still_make_valid_files():
    assert parse_webvtt(as_webvtt([], sample_fps=5.0, duration_s=1.0)) == []
    assert list(csv.DictReader(io.StringIO(as_csv([])))) == []
    assert json.loads(as_json(SUMMARY, []))["tracks"] == []
