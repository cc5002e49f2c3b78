"""Reading video files with PyAV (FFmpeg's libraries): the header, then sampled RGB frames, streamed.

Every failure of FFmpeg is mapped to a `VideoRejected` with a reason code: no `av` exception leaves
this module, so a bad upload ends its job with a reason instead of crashing a worker.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from recognition.pipeline.errors import InputRejected

NOT_A_VIDEO = "not_a_video"  # FFmpeg cannot open it
NO_VIDEO_STREAM = "no_video_stream"  # e.g. a sound file
NO_FRAMES = "no_frames"  # zero frames or zero length
RESOLUTION_TOO_LARGE = "resolution_too_large"  # width * height over the limit, judged from the header
CORRUPT = "corrupt"  # decoding fails part-way
TRUNCATED = "truncated"  # the stream ends well before the duration the container announces
REJECTION_REASONS = frozenset({NOT_A_VIDEO, NO_VIDEO_STREAM, NO_FRAMES, RESOLUTION_TOO_LARGE, CORRUPT, TRUNCATED})

# A stream "ends well before" the announced duration when it is short of it by more than both of
# these: a second (containers round durations; the last frame starts one frame period before the
# end) and a tenth of the duration (audio may run longer than the picture by a little).
TRUNCATION_SLACK_S = 1.0
TRUNCATION_SLACK_SHARE = 0.1
# Timestamps are compared with this tolerance, so that frames at exactly k / sample_fps (25 fps
# sampled at 5) are taken despite rounding in the container's time base.
TIME_EPSILON_S = 1e-3


class VideoRejected(InputRejected):
    """A video file that cannot be used (`reason` one of REJECTION_REASONS)."""

    reasons = REJECTION_REASONS


@dataclass(frozen=True)
class VideoInfo:
    container: str
    codec: str
    width: int
    height: int
    duration_s: float | None
    frame_rate: float | None


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        if _is_truncated_iso_file(path):
            raise VideoRejected(TRUNCATED, "The file is cut off: it ends before the end its header announces.") from exc
        raise VideoRejected(NOT_A_VIDEO, "The file is not a video FFmpeg can read.") from exc
    except (OSError, ValueError, UnicodeError) as exc:  # PyAV's other failures while opening
        raise VideoRejected(NOT_A_VIDEO, "The file is not a video FFmpeg can read.") from exc


def _is_truncated_iso_file(path: str | os.PathLike) -> bool:
    """An MP4/MOV whose top-level boxes start well (`ftyp` first) but whose last box runs past the end
    of the file: what a download cut off mid-way looks like when the index (`moov`) was written last,
    which FFmpeg reports only as "invalid data". Reads the boxes' 8- or 16-byte headers, nothing else."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            offset, first = 0, True
            while offset + 8 <= size:
                handle.seek(offset)
                header = handle.read(16)
                length, kind = int.from_bytes(header[:4], "big"), header[4:8]
                if first and kind != b"ftyp":
                    return False
                first = False
                if length == 1 and len(header) == 16:
                    length = int.from_bytes(header[8:16], "big")
                elif length == 0:  # the box runs to the end of the file
                    return False
                if length < 8:
                    return False
                if offset + length > size:
                    return True
                offset += length
    except OSError:
        return False
    return False


def _is_still_image(container) -> bool:
    """FFmpeg reads a photo as a one-frame "video" through its image demuxers (image2, jpeg_pipe,
    png_pipe, ...): a photo is not a video, and identify takes photos."""
    names = str(container.format.name).split(",")
    return any(name in ("image2", "image2pipe") or name.endswith("_pipe") for name in names)


def _video_stream(container) -> av.video.stream.VideoStream:
    if _is_still_image(container):
        raise VideoRejected(NOT_A_VIDEO, "The file is a still image, not a video.")
    if not container.streams.video:
        raise VideoRejected(NO_VIDEO_STREAM, "The file has no video stream (is it a sound file?).")
    return container.streams.video[0]


def _duration_s(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _frame_rate(stream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < float(rate) < 1000:
            return float(rate)
    return None


def _info(container, stream, max_pixels: int) -> VideoInfo:
    context = stream.codec_context
    width, height = int(context.width or 0), int(context.height or 0)
    info = VideoInfo(container=str(container.format.name), codec=str(context.name), width=width, height=height,
                     duration_s=_duration_s(container, stream), frame_rate=_frame_rate(stream))
    if width * height > max_pixels:
        raise VideoRejected(RESOLUTION_TOO_LARGE, f"The video is {width}x{height} pixels; at most {max_pixels:,} "
                                                  "pixels a frame are accepted.")
    # MP4 and Matroska drop an empty track; an AVI keeps one with no frame and no length.
    if (stream.frames or 0) == 0 and not info.duration_s:
        raise VideoRejected(NO_FRAMES, "The video has no frames.")
    return info


def probe_video(path: str | os.PathLike, *, max_pixels: int) -> VideoInfo:
    """What the header says (container, codec, size, duration, frame rate); decodes nothing."""
    container = _open(path)
    try:
        return _info(container, _video_stream(container), max_pixels)
    finally:
        container.close()


def _next_sample_time(t: float, sample_fps: float) -> float:
    """The first sampling instant k / sample_fps after time t."""
    return (math.floor(t * sample_fps + TIME_EPSILON_S) + 1) / sample_fps


@dataclass
class DecodeCounts:
    """What the decoder has got through so far (read by the caller for progress)."""

    frames_read: int = 0  # every decoded frame
    frames_sampled: int = 0
    last_time_s: float = 0.0


def sampled_frames(path: str | os.PathLike, *, sample_fps: float, max_pixels: int,
                   counts: DecodeCounts | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds from the stream's start, (H, W, 3) uint8 RGB) for the first frame at or after
    each instant k / sample_fps, streamed from the file.

    Sampled by timestamp, not by frame count, so a variable frame rate samples evenly in time. Only
    sampled frames are converted to RGB (the costly step); the others are decoded (inter-coded frames
    need their predecessors) and dropped. The decoder runs on FFmpeg's frame and slice threads.

    Measured on 1280x720 H.264: decoding takes ~0.9 ms a frame, the RGB conversion ~2 ms. FFmpeg's
    `skip_frame = "NONREF"` would spare decoding the B-frames (half the frames with x264's default
    presets) but moves a sample to the next kept frame, and what it discards depends on the codec:
    decoding is under a tenth of the job's time (bench/video_bench.py), so every frame is decoded.
    """
    if sample_fps <= 0:
        raise ValueError("sample_fps must be positive")
    counts = counts if counts is not None else DecodeCounts()
    container = _open(path)
    try:
        stream = _video_stream(container)
        info = _info(container, stream, max_pixels)
        stream.thread_type = "AUTO"
        time_base = stream.time_base or Fraction(1, 1)
        start = stream.start_time or 0
        step = 1.0 / info.frame_rate if info.frame_rate else 1.0 / sample_fps
        next_t, last_t = 0.0, None
        try:
            for frame in container.decode(stream):
                if frame.pts is not None:
                    t = float((frame.pts - start) * time_base)
                else:  # no timestamp: one frame period after the previous frame
                    t = 0.0 if last_t is None else last_t + step
                last_t = t
                counts.frames_read += 1
                counts.last_time_s = t
                if t + TIME_EPSILON_S < next_t:
                    continue
                if frame.width * frame.height > max_pixels:  # the picture grew mid-stream
                    raise VideoRejected(RESOLUTION_TOO_LARGE, f"A frame is {frame.width}x{frame.height} pixels; "
                                                              f"at most {max_pixels:,} pixels are accepted.")
                rgb = frame.to_ndarray(format="rgb24")
                next_t = _next_sample_time(t, sample_fps)
                counts.frames_sampled += 1
                yield max(t, 0.0), rgb
        except av.error.FFmpegError as exc:
            raise VideoRejected(CORRUPT, f"Decoding failed after {counts.frames_read} frames: the file is "
                                         "damaged.") from exc
        except (OSError, ValueError, MemoryError) as exc:
            raise VideoRejected(CORRUPT, f"Decoding failed after {counts.frames_read} frames.") from exc
        if counts.frames_read == 0:
            raise VideoRejected(NO_FRAMES, "The video has no frame that can be decoded.")
        if info.duration_s and last_t is not None:
            missing = info.duration_s - (last_t + step)
            if missing > max(TRUNCATION_SLACK_S, TRUNCATION_SLACK_SHARE * info.duration_s):
                raise VideoRejected(TRUNCATED, f"The video stops at {last_t + step:.1f} s of the "
                                               f"{info.duration_s:.1f} s its header announces: it is cut off.")
    finally:
        container.close()
