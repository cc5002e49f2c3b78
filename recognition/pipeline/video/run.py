"""A video file in, the faces followed through it out: decode, detect and embed in batches of
sampled frames, track, with progress and the time each stage took."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from recognition.pipeline.facenet.constants import EMBEDDING_DIM
from recognition.pipeline.faces import FacePipeline
from recognition.pipeline.video.continuity import EmbeddingPlanner
from recognition.pipeline.video.decode import DecodeCounts, VideoInfo, probe_video, sampled_frames
from recognition.pipeline.video.tracking import FaceTracker
from recognition.pipeline.video.tracks import Sighting, Track, sighting_quality

# MTCNN's own last gate is 0.7; a sighting the detector is less sure of than this is not followed (it
# would become a track of its own, and enrollment's quality bar is 0.95).
MIN_DETECTION_PROBABILITY = 0.9
# The callback is called at most this often (plus once at the end): it usually writes a database row.
PROGRESS_INTERVAL_S = 0.25


@dataclass
class Progress:
    share: float  # 0..1 of the duration
    frames_decoded: int  # the sampled frames decoded so far (the ones looked at), not every frame of the file
    faces_found: int


@dataclass
class VideoResult:
    info: VideoInfo
    sample_fps: float
    frames_decoded: int  # sampled frames, as in Progress
    faces_found: int  # faces detected over all sampled frames
    tracks: list[Track]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    faces_embedded: int = 0  # of faces_found: the others reused the previous sample's (continuity.py)


class _Timer:
    def __init__(self) -> None:
        self.seconds = {"decode": 0.0, "detect": 0.0, "embed": 0.0, "track": 0.0}

    def __call__(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - start
        return now



class FaceFollower:
    """Detect, embed and track batches of sampled frames, in time order: the step a video file and a live
    camera share. `min_face_px` drops faces smaller than that (a camera's setting) before they are followed."""

    def __init__(self, pipeline: FacePipeline, *, sample_fps: float, keep_best_frames: bool = False,
                 min_face_px: float = 0.0, max_gap_s: float | None = None) -> None:
        self.pipeline, self.keep_best_frames, self.min_face_px = pipeline, keep_best_frames, min_face_px
        self.timer = _Timer()
        self.tracker = FaceTracker() if max_gap_s is None else FaceTracker(max_gap_s=max_gap_s)
        self.planner = EmbeddingPlanner(sample_fps)
        self.faces_found = self.faces_embedded = 0

    def _kept(self, detection) -> bool:
        return (detection.probability >= MIN_DETECTION_PROBABILITY
                and min(detection.width, detection.height) >= self.min_face_px)

    def step(self, batch: list[tuple[float, np.ndarray]]) -> None:
        """One batch of (time in seconds, RGB frame), later than the batch before."""
        pipeline, planner, timer = self.pipeline, self.planner, self.timer
        times, images = [t for t, _ in batch], [image for _, image in batch]
        start = time.perf_counter()
        detections = [[d for d in found if self._kept(d)] for found in pipeline.detector.detect_many(images)]
        start = timer("detect", start)
        faces = [(image, d) for image, found in zip(images, detections) for d in found]
        crops = [pipeline.crop(image, d) for image, d in faces]
        qualities = [sighting_quality(d, crop, image.shape) for (image, d), crop in zip(faces, crops)]
        to_embed = planner.plan(times, images, detections, crops, qualities)
        start = timer("track", start)
        embedded = (pipeline.embedder.embed(np.stack([crops[k] for k in to_embed])) if to_embed
                    else np.zeros((0, EMBEDDING_DIM), np.float32))
        start = timer("embed", start)
        embeddings, fresh = planner.resolve(embedded), set(to_embed)
        k = 0
        for time_s, image, found in zip(times, images, detections):
            sightings = [Sighting(time_s=time_s, detection=d, embedding=embeddings[k + i], quality=qualities[k + i])
                         for i, d in enumerate(found)]
            self.tracker.update(time_s, sightings, crops[k:k + len(found)], image if self.keep_best_frames else None,
                                fresh=[k + i in fresh for i in range(len(found))])
            k += len(found)
        self.faces_found += len(crops)
        self.faces_embedded += len(to_embed)
        timer("track", start)


def track_video(path: str | os.PathLike, pipeline: FacePipeline, *, sample_fps: float, max_pixels: int,
                batch_frames: int = 8, keep_best_frames: bool = False,
                on_progress: Callable[[Progress], None] | None = None) -> VideoResult:
    """Follow every face through the video at `path` (streamed, never held whole); raises VideoRejected.

    `batch_frames` sampled frames go through the detector together and all their faces through the
    embedder together. `keep_best_frames` keeps each track's best whole frame (for liveness).
    """
    info = probe_video(path, max_pixels=max_pixels)
    counts = DecodeCounts()
    follower = FaceFollower(pipeline, sample_fps=sample_fps, keep_best_frames=keep_best_frames)
    timer, tracker, last_report = follower.timer, follower.tracker, 0.0

    def report(final: bool = False) -> None:
        nonlocal last_report
        now = time.monotonic()
        if on_progress is None or (not final and now - last_report < PROGRESS_INTERVAL_S):
            return
        last_report = now
        share = 1.0 if final else (min(1.0, counts.last_time_s / info.duration_s) if info.duration_s else 0.0)
        on_progress(Progress(share=share, frames_decoded=counts.frames_sampled, faces_found=follower.faces_found))

    run_batch = follower.step
    batch: list[tuple[float, np.ndarray]] = []
    frames = sampled_frames(path, sample_fps=sample_fps, max_pixels=max_pixels, counts=counts)
    try:
        start = time.perf_counter()
        for item in frames:
            timer("decode", start)
            batch.append(item)
            if len(batch) >= batch_frames:
                run_batch(batch)
                batch = []
                report()
            start = time.perf_counter()
        timer("decode", start)
        if batch:
            run_batch(batch)
    finally:
        frames.close()
    report(final=True)
    return VideoResult(info=info, sample_fps=sample_fps, frames_decoded=counts.frames_sampled,
                       faces_found=follower.faces_found, tracks=tracker.finish(), timings=timer.seconds,
                       faces_embedded=follower.faces_embedded)
