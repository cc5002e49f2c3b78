"""Video files: PyAV decoding sampled by time, faces followed across frames, one summary per track.

Django-free like the rest of the pipeline; the videos app runs it in the worker and decides each
track with identify's own code.
"""

from recognition.pipeline.video.decode import (
    CORRUPT,
    NO_FRAMES,
    NO_VIDEO_STREAM,
    NOT_A_VIDEO,
    REJECTION_REASONS,
    RESOLUTION_TOO_LARGE,
    TRUNCATED,
    VideoInfo,
    VideoRejected,
    probe_video,
)
from recognition.pipeline.video.run import Progress, VideoResult, track_video
from recognition.pipeline.video.tracks import Sighting, Track

__all__ = [
    "CORRUPT", "NO_FRAMES", "NO_VIDEO_STREAM", "NOT_A_VIDEO", "REJECTION_REASONS", "RESOLUTION_TOO_LARGE",
    "TRUNCATED", "Progress", "Sighting", "Track", "VideoInfo", "VideoRejected", "VideoResult", "probe_video",
    "track_video",
]
