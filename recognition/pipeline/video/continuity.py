"""Which faces of a batch need an embedding: most sampled faces are plainly the face of the frame before,
a little further along, and embedding them again would repeat an answer the tracker already has.

Embedding was the costliest stage on CPU (bench/video_bench.py: 53% of the time when every face was
embedded), so a face is embedded unless it is *plainly* the previous sample's face: the previous sample
is one period back, the frame did not cut (its thumbnail barely changed), the face's box overlaps
where the previous face was heading and no other face is near either, the face's own thumbnail barely
changed, it is at most 10% better a sighting than the best of its run (so a track's best sighting is
embedded, or one within 10% of it), and its run of such faces is short (one embedding a second at
least). Such a face reuses its predecessor's embedding for the assignment and is counted in its track
(times, frames), but is not one of the sightings the track's fused embedding is made of.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recognition.pipeline.detection import Detection
from recognition.pipeline.quality import box_overlap

# Grey thumbnail changes, mean levels of 255, measured by bench/video_bench.py --continuity (12 clips
# of LFW faces moving, then another person in the same place, with and without a cut): a 32x18 frame
# thumbnail changes by 1.0-12.1 (median 2.5) between samples of one shot, 28.9-34.8 across a cut; a
# 16x16 face-crop thumbnail by 0.9-27.2 (median 6.4) for the same face, 27.8-72.8 (median 47.5) for
# another person in its place. The limits sit well under the cut and swap minimums: a same-face pair
# over them is merely embedded again.
MAX_FRAME_CHANGE = 15.0
MAX_FACE_CHANGE = 15.0
MIN_OVERLAP = 0.5  # with the predecessor
MAX_OTHER_OVERLAP = 0.1  # with any other face of either frame
MAX_RUN = 4  # reused embeddings in a row; at 5 fps one face in five is embedded at least
QUALITY_MARGIN = 1.10  # a face this much better than its run's best is embedded (a new best sighting)


def thumbnail(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2  # heavy: imported with the first video, not with the pipeline

    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b)))


@dataclass
class _Seen:
    detection: Detection
    face: np.ndarray  # thumbnail of its crop
    run: int  # reused embeddings before it in its run (0: embedded)
    run_best: float  # best quality of its run
    source: int | np.ndarray  # row of this batch's embeddings, or the embedding itself (earlier batch)
    shift: tuple[float, float] = (0.0, 0.0)  # how far its box moved since the sample before, px

    def expected_box(self) -> tuple[float, float, float, float]:
        """Where it should be one sample later, moving on as it did."""
        x1, y1, x2, y2 = self.detection.box
        dx, dy = self.shift
        return (x1 + dx, y1 + dy, x2 + dx, y2 + dy)


class EmbeddingPlanner:
    """Carries the last sample's faces from batch to batch; `plan` then `resolve`, once per batch."""

    def __init__(self, sample_fps: float) -> None:
        self.period_s = 1.0 / sample_fps
        self._time: float | None = None
        self._frame: np.ndarray | None = None
        self._seen: list[_Seen] = []
        self._sources: list[int | np.ndarray] = []

    def _predecessor(self, detection: Detection, others: list[Detection]) -> _Seen | None:
        candidates = [s for s in self._seen if box_overlap(s.expected_box(), detection.box) >= MIN_OVERLAP]
        if len(candidates) != 1:
            return None
        previous = candidates[0]
        crowded = (any(box_overlap(s.expected_box(), detection.box) > MAX_OTHER_OVERLAP
                       for s in self._seen if s is not previous)
                   or any(box_overlap(o.box, previous.expected_box()) > MAX_OTHER_OVERLAP
                          for o in others if o is not detection))
        return None if crowded else previous

    def plan(self, times: list[float], frames: list[np.ndarray], detections: list[list[Detection]],
             crops: list[np.ndarray], qualities: list[float]) -> list[int]:
        """The indices (into the batch's faces, frame by frame) of the crops to embed."""
        to_embed: list[int] = []
        self._sources = []
        k = 0
        for time_s, frame, found in zip(times, frames, detections):
            frame_thumb = thumbnail(frame, (32, 18))
            continuous = (self._time is not None and time_s - self._time <= 1.5 * self.period_s
                          and self._frame is not None and change(frame_thumb, self._frame) <= MAX_FRAME_CHANGE)
            seen: list[_Seen] = []
            for detection in found:
                face = thumbnail(crops[k], (16, 16))
                previous = self._predecessor(detection, found) if continuous else None
                if (previous is not None and previous.run < MAX_RUN and change(face, previous.face) <= MAX_FACE_CHANGE
                        and qualities[k] <= QUALITY_MARGIN * previous.run_best):
                    entry = _Seen(detection, face, previous.run + 1, previous.run_best, previous.source)
                else:
                    entry = _Seen(detection, face, 0, qualities[k], len(to_embed))
                    to_embed.append(k)
                # How it moved, from the face nearest where one was expected: the next sample's expectation.
                overlaps = [box_overlap(s.expected_box(), detection.box) for s in self._seen]
                if continuous and overlaps and max(overlaps) > MIN_OVERLAP / 2:
                    nearest = self._seen[int(np.argmax(overlaps))]
                    (px, py), (cx, cy) = nearest.detection.center, detection.center
                    entry.shift = (cx - px, cy - py)
                seen.append(entry)
                self._sources.append(entry.source)
                k += 1
            self._time, self._frame, self._seen = time_s, frame_thumb, seen
        return to_embed

    def resolve(self, embeddings: np.ndarray) -> list[np.ndarray]:
        """Each face's embedding (its own or its predecessor's), given the embedded rows."""
        resolved = [embeddings[s] if isinstance(s, int) else s for s in self._sources]
        for entry in self._seen:  # the next batch reuses these as arrays
            if isinstance(entry.source, int):
                entry.source = embeddings[entry.source]
        return resolved
