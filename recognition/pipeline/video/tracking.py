"""Following faces across sampled frames: the Hungarian assignment of each frame's faces to the open
tracks, on a cost from box overlap and embedding similarity, gated so that someone else never
continues a person's track.

The assignment is SciPy's `linear_sum_assignment` (a well-kept solver). `norfair`, the tracking
library the issue names, requires numpy<2, which the platform cannot go back to; ByteTrack
(`supervision`) matches on boxes only, and a cut to a different person at the same place must be
told apart by the face, so the cost here weighs both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from recognition.pipeline.detection import Box
from recognition.pipeline.quality import box_overlap
from recognition.pipeline.video.tracks import Sighting, Track

# Gates on the cosine similarity of FaceNet embeddings (casia-webface weights), measured by
# bench/video_bench.py --similarities on LFW faces:
#   same face, a clip's sampled frames vs its first     n=456     min 0.89, median 0.98
#   different people in the same clips                  n=24,000  median 0.04, 99.9% 0.50, max 0.53
#   same person, two different LFW photos               n=300     1% 0.33, median 0.71
#   different people, LFW photos                        n=499,500 median 0.04, 99.9% 0.49, max 0.69;
#                                                       5e-5 of them >= 0.60, none >= 0.70
# - NEAR: a face where the track's face was expected (boxes overlap) continues it from 0.60: above
#   99.99% of different-people pairs, so a cut to someone else in the same place starts a new track,
#   and far below the same face from frame to frame (min 0.89), leaving room for real changes of pose
#   and light (two photos of one person taken on different days: median 0.71).
SIMILARITY_NEAR = 0.60
# - FAR: a face found elsewhere (after an occlusion, a jump, a missed detection while moving) continues
#   a track only above every different-people pair measured: nothing but the face speaks for it.
SIMILARITY_FAR = 0.70
# Boxes "overlap" from this intersection over union with where the track was predicted to be.
MIN_OVERLAP = 0.10
# A track not seen for longer than this is closed: a person leaving and coming back later is a new
# track (the decision is per track, so they are identified twice, not mixed up).
MAX_GAP_S = 1.0
# The cost's mix: similarity decides, overlap breaks near-ties between two look-alikes.
OVERLAP_WEIGHT = 0.3
_FORBIDDEN = 1e6


@dataclass
class _Open:
    """An open track and what matching needs of it: where it was, how it moves, what it looks like."""

    track: Track
    box: Box
    time_s: float
    velocity: tuple[float, float]  # px/s of the box centre
    appearance: np.ndarray  # unit mean of its recent embeddings
    last_embedding: np.ndarray

    def predicted_box(self, time_s: float) -> Box:
        dt = time_s - self.time_s
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        x1, y1, x2, y2 = self.box
        return (x1 + dx, y1 + dy, x2 + dx, y2 + dy)

    def similarity(self, embedding: np.ndarray) -> float:
        return max(float(embedding @ self.appearance), float(embedding @ self.last_embedding))

    def update(self, sighting: Sighting, fresh: bool) -> None:
        (ox, oy), (nx, ny) = _centre(self.box), _centre(sighting.detection.box)
        dt = sighting.time_s - self.time_s
        if dt > 0:
            vx, vy = self.velocity
            self.velocity = (0.5 * vx + 0.5 * (nx - ox) / dt, 0.5 * vy + 0.5 * (ny - oy) / dt)
        self.box, self.time_s = sighting.detection.box, sighting.time_s
        if not fresh:  # the predecessor's embedding, already counted
            return
        mean = 0.8 * self.appearance + 0.2 * sighting.embedding
        self.appearance = mean / max(float(np.linalg.norm(mean)), 1e-12)
        self.last_embedding = sighting.embedding


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0


class FaceTracker:
    """Feed it each sampled frame's sightings in time order; `finish()` returns every track, numbered
    by first appearance."""

    def __init__(self, *, max_gap_s: float = MAX_GAP_S, similarity_near: float = SIMILARITY_NEAR,
                 similarity_far: float = SIMILARITY_FAR, min_overlap: float = MIN_OVERLAP) -> None:
        self.max_gap_s = max_gap_s
        self.similarity_near = similarity_near
        self.similarity_far = similarity_far
        self.min_overlap = min_overlap
        self._open: list[_Open] = []
        self._closed: list[Track] = []
        self._count = 0

    def cost(self, candidate: _Open, sighting: Sighting) -> float:
        """The assignment cost of a sighting to an open track, _FORBIDDEN outside the gates."""
        similarity = candidate.similarity(sighting.embedding)
        overlap = box_overlap(candidate.predicted_box(sighting.time_s), sighting.detection.box)
        allowed = similarity >= (self.similarity_near if overlap >= self.min_overlap else self.similarity_far)
        return (1.0 - similarity) + OVERLAP_WEIGHT * (1.0 - overlap) if allowed else _FORBIDDEN

    def update(self, time_s: float, sightings: list[Sighting], crops: list[np.ndarray],
               frame: np.ndarray | None = None, fresh: list[bool] | None = None) -> None:
        """One sampled frame: its sightings (with their crops; `frame` is kept for a new best). `fresh`:
        per sighting, False where its embedding is its predecessor's (continuity.py): it is counted,
        not kept among the sightings a track is decided on."""
        fresh = fresh if fresh is not None else [True] * len(sightings)
        expired = [c for c in self._open if time_s - c.time_s > self.max_gap_s + 1e-6]
        self._closed.extend(c.track for c in expired)
        self._open = [c for c in self._open if time_s - c.time_s <= self.max_gap_s + 1e-6]
        matched: dict[int, int] = {}
        if self._open and sightings:
            costs = np.array([[self.cost(c, s) for s in sightings] for c in self._open])
            for row, col in zip(*linear_sum_assignment(costs)):
                if costs[row, col] < _FORBIDDEN:
                    matched[int(col)] = int(row)
        for index, (sighting, crop) in enumerate(zip(sightings, crops)):
            if index in matched:
                candidate = self._open[matched[index]]
                candidate.track.add(sighting, crop, frame, keep=fresh[index])
                candidate.update(sighting, fresh[index])
            else:
                self._count += 1
                track = Track.start(self._count, sighting, crop, frame)
                self._open.append(_Open(track=track, box=sighting.detection.box, time_s=time_s, velocity=(0.0, 0.0),
                                        appearance=sighting.embedding, last_embedding=sighting.embedding))

    def open_tracks(self) -> list[Track]:
        """The tracks still followed (a live stream decides them before they end)."""
        return [candidate.track for candidate in self._open]

    def pop_closed(self, time_s: float | None = None) -> list[Track]:
        """The tracks closed so far (and, given the time now, those unseen for longer than the gap), forgotten
        here: a live stream has no end, so its closed tracks must not pile up."""
        if time_s is not None:
            gone = [c for c in self._open if time_s - c.time_s > self.max_gap_s + 1e-6]
            self._open = [c for c in self._open if c not in gone]
            self._closed.extend(c.track for c in gone)
        closed, self._closed = self._closed, []
        return closed

    def finish(self) -> list[Track]:
        tracks = self._closed + [candidate.track for candidate in self._open]
        self._open, self._closed = [], []
        return sorted(tracks, key=lambda track: track.number)
