"""A face followed through a video: its sightings, how good each is, and what is kept of them.

A track keeps a bounded summary whatever the video's length: its best few sightings (time, box,
embedding, quality), the aligned crop of the best one and, when asked, that sighting's whole frame.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from recognition.pipeline.detection import Detection
from recognition.pipeline.quality import roll_degrees, sharpness, yaw_ratio

# Sightings kept per track for its fused embedding: more than fused_embedding's default 5, so a caller
# may fuse a few more; fixed, so memory does not grow with the video's length.
KEPT_SIGHTINGS = 10

# Quality: each factor is 1 for a face good enough and falls towards 0 as it worsens. The scales are
# the enrollment quality limits (recognition.pipeline.quality.QualityThresholds) stretched: a face
# 112 px high is large enough (FaceNet's crops are 160 px with the margin), a Laplacian variance of 60
# is LFW's median sharpness, yaw 0.40 and roll 25 degrees are enrollment's limits.
FULL_SIZE_PX = 112.0
FULL_SHARPNESS = 60.0
YAW_LIMIT = 0.40
ROLL_LIMIT_DEG = 25.0
# A face cut by the frame's edge (entering or leaving) embeds poorly: it may be kept, never preferred.
CUT_FACE_FACTOR = 0.25


def sighting_quality(detection: Detection, crop: np.ndarray, frame_shape) -> float:
    """How good a sighting is to decide on (0..1): detection probability, size, sharpness and pose."""
    size = min(1.0, min(detection.width, detection.height) / FULL_SIZE_PX)
    sharp = min(1.0, sharpness(crop) / FULL_SHARPNESS)
    yaw = max(0.0, 1.0 - abs(yaw_ratio(detection)) / (2 * YAW_LIMIT))
    roll = max(0.0, 1.0 - abs(roll_degrees(detection)) / (2 * ROLL_LIMIT_DEG))
    height, width = frame_shape[:2]
    x1, y1, x2, y2 = detection.box
    inside = x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height
    return float(detection.probability ** 4 * size * (0.2 + 0.8 * sharp) * yaw * roll
                 * (1.0 if inside else CUT_FACE_FACTOR))


@dataclass
class Sighting:
    time_s: float
    detection: Detection
    embedding: np.ndarray  # (512,) float32, unit length
    quality: float


@dataclass
class Track:
    number: int  # 1.. by first appearance
    first_seen_s: float
    last_seen_s: float
    frames_seen: int
    best: Sighting
    best_crop: np.ndarray  # the best sighting's aligned crop, uint8 RGB
    best_frame: np.ndarray | None = None  # the best sighting's whole frame (only with keep_best_frames)
    # The best KEPT_SIGHTINGS sightings as a min-heap of (quality, order, sighting).
    _kept: list = field(default_factory=list, repr=False)

    def fused_embedding(self, n: int = 5) -> np.ndarray:
        """The unit-length mean of the embeddings of the best `n` sightings (n <= KEPT_SIGHTINGS)."""
        best = self.best_sightings(n)
        mean = np.mean([s.embedding for s in best], axis=0).astype(np.float32)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm > 0 else best[0].embedding.astype(np.float32)

    def best_sightings(self, n: int = KEPT_SIGHTINGS) -> list[Sighting]:
        """The best `n` kept sightings, best first."""
        ranked = sorted(self._kept, key=lambda item: (-item[0], item[1]))
        return [sighting for _, _, sighting in ranked[:max(1, n)]] or [self.best]

    def add(self, sighting: Sighting, crop: np.ndarray, frame: np.ndarray | None, *, keep: bool = True) -> None:
        """Count a sighting; keep it if it is among the best, and its crop (and frame) if it is the best.
        `keep=False`: counted only (its embedding is a predecessor's, see continuity.py)."""
        self.last_seen_s = max(self.last_seen_s, sighting.time_s)
        self.frames_seen += 1
        if not keep:
            return
        entry = (sighting.quality, self.frames_seen, sighting)
        if len(self._kept) < KEPT_SIGHTINGS:
            heapq.heappush(self._kept, entry)
        elif sighting.quality > self._kept[0][0]:
            heapq.heapreplace(self._kept, entry)
        if sighting.quality > self.best.quality:
            self.best = sighting
            self.best_crop = crop.copy()  # not a view: the batch's crops are freed
            self.best_frame = frame.copy() if frame is not None else None

    @classmethod
    def start(cls, number: int, sighting: Sighting, crop: np.ndarray, frame: np.ndarray | None) -> Track:
        track = cls(number=number, first_seen_s=sighting.time_s, last_seen_s=sighting.time_s, frames_seen=1,
                    best=sighting, best_crop=crop.copy(), best_frame=frame.copy() if frame is not None else None)
        track._kept.append((sighting.quality, 1, sighting))
        return track
