"""The tracker's gates on real LFW embeddings, frame by frame, and what a track keeps of a long stay."""

import numpy as np
import pytest

from recognition.pipeline.detection import Detection
from recognition.pipeline.video.tracking import FaceTracker
from recognition.pipeline.video.tracks import KEPT_SIGHTINGS, Sighting
from recognition.runtime import get_pipeline, read_image_file
from tests.video_clips import lfw_photo


@pytest.fixture(scope="module")
def faces():
    """(detection, crop, embedding) of LFW photos, by (person, photo number)."""
    pipeline = get_pipeline()
    keys = [("Colin_Powell", 1), ("Colin_Powell", 2), ("Tony_Blair", 1), ("George_W_Bush", 1), ("George_W_Bush", 2)]
    found = pipeline.process([read_image_file(str(lfw_photo(p, n))) for p, n in keys], select="center")
    return {key: f[0] for key, f in zip(keys, found)}


def box_at(x: float, y: float, side: float = 100.0) -> Detection:
    marks = tuple((x + side * fx, y + side * fy) for fx, fy in ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8),
                                                                  (0.65, 0.8)))
    return Detection(box=(x, y, x + side, y + side), probability=0.999, landmarks=marks)


def sighting_at(time_s, detection, embedding, quality):
    return Sighting(time_s=time_s, detection=detection, embedding=embedding, quality=quality)


def feed(tracker, time_s, *entries):
    """entries: (face, x, y) per face in this frame."""
    sightings = [sighting_at(time_s, box_at(x, y), face.embedding, quality=0.5) for face, x, y in entries]
    tracker.update(time_s, sightings, [face.crop for face, _, _ in entries])


def test_someone_else_in_the_same_box_never_continues_the_track(faces):
    tracker = FaceTracker()
    for k in range(5):
        feed(tracker, k * 0.2, (faces["Colin_Powell", 1], 100, 100))
    for k in range(5, 10):  # a cut: another person exactly where he was
        feed(tracker, k * 0.2, (faces["Tony_Blair", 1], 100, 100))
    tracks = tracker.finish()
    assert [(t.first_seen_s, t.last_seen_s, t.frames_seen) for t in tracks] == [(0.0, 0.8, 5), (1.0, 1.8, 5)]


def test_two_faces_swapping_places_keep_their_tracks(faces):
    colin, bush = faces["Colin_Powell", 1], faces["George_W_Bush", 1]
    tracker = FaceTracker()
    feed(tracker, 0.0, (colin, 100, 100), (bush, 400, 100))
    # Each is now where the other was (overlap says swap, the faces say otherwise).
    feed(tracker, 0.2, (colin, 400, 100), (bush, 100, 100))
    first, second = tracker.finish()
    assert first.frames_seen == second.frames_seen == 2
    assert [s.embedding is colin.embedding for s in first.best_sightings()] == [True, True]
    assert [s.embedding is bush.embedding for s in second.best_sightings()] == [True, True]
    assert [s.detection.box[0] for s in sorted(first.best_sightings(), key=lambda s: s.time_s)] == [100, 400]


def test_the_same_person_continues_after_a_short_gap_and_not_after_a_long_one(faces):
    tracker = FaceTracker()
    feed(tracker, 0.0, (faces["George_W_Bush", 1], 100, 100))
    feed(tracker, 0.8, (faces["George_W_Bush", 1], 130, 100))  # missed for 0.6 s: same track
    feed(tracker, 3.0, (faces["George_W_Bush", 1], 130, 100))  # gone 2.2 s, over the 1 s gap: a new one
    assert [t.frames_seen for t in tracker.finish()] == [2, 1]


def test_a_track_keeps_a_bounded_summary_however_long_it_lasts(faces):
    tracker = FaceTracker()
    colin = faces["Colin_Powell", 1]
    for k in range(500):
        sighting = sighting_at(k * 0.2, box_at(100 + k % 7, 100), colin.embedding, quality=(k % 50) / 50)
        tracker.update(k * 0.2, [sighting], [colin.crop])
    (track,) = tracker.finish()
    assert track.frames_seen == 500 and track.last_seen_s == pytest.approx(99.8)
    assert len(track.best_sightings(100)) == KEPT_SIGHTINGS
    assert track.best.quality == pytest.approx(49 / 50) and track.best_frame is None
    np.testing.assert_allclose(np.linalg.norm(track.fused_embedding(5)), 1.0, atol=1e-6)
