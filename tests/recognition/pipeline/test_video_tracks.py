"""Faces followed through clips built from real LFW faces: tracks, their times, cuts, gaps, occlusion.

Faces appear and leave fully inside the frame, so the truth is exact: a face on screen over
[start, end) is first sampled at the first k / sample_fps >= start and last at the last one < end;
the tracks must match those within one sample period.
"""

import math

import numpy as np
import pytest

from recognition.pipeline.video import Progress, VideoRejected, track_video
from recognition.runtime import get_pipeline
from tests.video_clips import Appearance, lfw_photo, random_bytes, truncated_copy, write_clip

FPS = 5.0
PERIOD = 1.0 / FPS
MAX_PIXELS = 40_000_000
SIZE = (640, 360)


def face(person, start, end, start_xy, end_xy=None, size=140):
    return Appearance(lfw_photo(person), start, end, start_xy, end_xy or start_xy, size)


def truth(appearance):
    first = math.ceil(appearance.start_s * FPS - 1e-6) / FPS
    last = (math.ceil(appearance.end_s * FPS - 1e-6) - 1) / FPS
    return first, last


def assert_times(track, appearance):
    first, last = truth(appearance)
    assert abs(track.first_seen_s - first) <= PERIOD + 1e-6, (track.first_seen_s, first)
    assert abs(track.last_seen_s - last) <= PERIOD + 1e-6, (track.last_seen_s, last)


@pytest.fixture(scope="module")
def pipeline():
    return get_pipeline()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("tracks")


def run(pipeline, path, **kwargs):
    return track_video(path, pipeline, sample_fps=FPS, max_pixels=MAX_PIXELS, **kwargs)


def test_one_person_walking_through_is_one_track_with_its_times(pipeline, folder):
    walk = face("Colin_Powell", 0.5, 3.3, (30, 40), (450, 180))
    progress: list[Progress] = []
    result = run(pipeline, write_clip(folder / "walk.mp4", [walk], duration_s=4.0, size=SIZE),
                 on_progress=progress.append, keep_best_frames=True)

    assert len(result.tracks) == 1
    track = result.tracks[0]
    assert track.number == 1
    assert_times(track, walk)
    assert track.frames_seen >= 13  # 14 sampled frames show the face
    assert result.frames_decoded == 20 and result.faces_found >= track.frames_seen
    assert result.info.duration_s == 4.0 and result.sample_fps == FPS
    assert set(result.timings) == {"decode", "detect", "embed", "track"}
    assert all(seconds >= 0 for seconds in result.timings.values())
    assert track.best_crop.shape == (160, 160, 3) and track.best_crop.dtype == np.uint8
    assert track.best_frame is not None and track.best_frame.shape == (360, 640, 3)
    fused = track.fused_embedding()
    assert fused.shape == (512,) and abs(float(np.linalg.norm(fused)) - 1.0) < 1e-5
    assert float(fused @ track.best.embedding) > 0.9
    # A face plainly the previous sample's reuses its embedding (continuity.py), but not all of them.
    assert 0 < result.faces_embedded < result.faces_found
    assert progress and progress[-1].share == 1.0 and progress[-1].frames_decoded == 20
    assert [p.share for p in progress] == sorted(p.share for p in progress)


def test_two_people_at_once_are_two_tracks_numbered_by_first_appearance(pipeline, folder):
    first = face("Serena_Williams", 0.0, 3.0, (20, 30), (200, 60))
    second = face("Hugo_Chavez", 0.6, 2.6, (460, 200), (330, 180))
    result = run(pipeline, write_clip(folder / "two.mp4", [second, first], duration_s=3.4, size=SIZE))

    assert len(result.tracks) == 2
    by_number = {track.number: track for track in result.tracks}
    assert_times(by_number[1], first)
    assert_times(by_number[2], second)
    assert by_number[1].best_frame is None  # only with keep_best_frames


def test_a_cut_to_someone_else_in_the_same_place_starts_a_new_track(pipeline, folder):
    before = face("Tony_Blair", 0.0, 2.0, (250, 100))
    after = face("Gerhard_Schroeder", 2.0, 4.0, (250, 100))
    result = run(pipeline, write_clip(folder / "cut.mp4", [before, after], duration_s=4.0, size=SIZE, cuts=(2.0,)))

    assert len(result.tracks) == 2
    assert_times(result.tracks[0], before)
    assert_times(result.tracks[1], after)
    assert float(result.tracks[0].fused_embedding() @ result.tracks[1].fused_embedding()) < 0.6


def test_someone_else_taking_a_face_s_place_without_a_cut_starts_a_new_track(pipeline, folder):
    # Same background, same place, from one sample to the next: only the face itself tells them apart.
    before = face("Tony_Blair", 0.0, 2.0, (250, 100))
    after = face("Gerhard_Schroeder", 2.0, 4.0, (250, 100))
    result = run(pipeline, write_clip(folder / "swap.mp4", [before, after], duration_s=4.0, size=SIZE))

    assert len(result.tracks) == 2
    assert_times(result.tracks[0], before)
    assert_times(result.tracks[1], after)


def test_a_short_gap_keeps_the_track_and_a_long_absence_starts_another(pipeline, folder):
    # Off screen 0.6 s (three samples missed), then 2.4 s (longer than the tracker's 1 s gap).
    spans = [(0.0, 1.0), (1.6, 2.6), (5.0, 6.0)]
    visits = [face("Junichiro_Koizumi", s, e, (200, 80), (260, 100)) for s, e in spans]
    result = run(pipeline, write_clip(folder / "gaps.mp4", visits, duration_s=6.4, size=SIZE))

    assert len(result.tracks) == 2
    first, second = result.tracks
    assert abs(first.first_seen_s - truth(visits[0])[0]) <= PERIOD + 1e-6
    assert abs(first.last_seen_s - truth(visits[1])[1]) <= PERIOD + 1e-6
    assert_times(second, visits[2])


def test_a_face_hidden_by_another_passing_in_front_stays_one_track(pipeline, folder):
    behind = face("John_Ashcroft", 0.0, 4.0, (260, 110))
    # Later appearances are drawn on top: this one crosses over the first between ~1.4 s and ~2.6 s.
    passing = face("Jean_Chretien", 0.4, 3.6, (10, 100), (500, 120))
    result = run(pipeline, write_clip(folder / "occlusion.mp4", [behind, passing], duration_s=4.0, size=SIZE))

    assert len(result.tracks) == 2
    behind_track, passing_track = result.tracks
    assert_times(behind_track, behind)
    assert_times(passing_track, passing)


def test_a_bad_file_fails_with_its_reason_before_any_work(pipeline, folder):
    with pytest.raises(VideoRejected) as rejected:
        run(pipeline, random_bytes(folder / "noise.mp4"))
    assert rejected.value.reason == "not_a_video"


def test_a_file_cut_off_after_its_index_fails_as_truncated_once_its_frames_run_out(pipeline, folder):
    whole = write_clip(folder / "whole.mp4", [face("Colin_Powell", 0.0, 6.0, (100, 60))], duration_s=6.0,
                       size=(320, 240), faststart=True)
    progress: list[Progress] = []
    with pytest.raises(VideoRejected) as rejected:
        run(pipeline, truncated_copy(whole, folder / "cut.mp4"), on_progress=progress.append, batch_frames=2)
    assert rejected.value.reason == "truncated"
    assert progress and progress[-1].share < 0.75  # its header was fine: the frames ran out part-way
