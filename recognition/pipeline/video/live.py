"""Live streams (RTSP, HTTP(S) MJPEG or MPEG-TS, or a file played at its own pace for testing): read
with PyAV on a thread of their own, sampled by wall clock, reconnected with backoff when they fail.

The URL may carry credentials: it is never put in an error, a state or a log line here. FFmpeg's
errors name the URL they failed on, so only their class and `strerror` are kept.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

UNREACHABLE = "unreachable"  # nothing answers, refused, timed out, or the server said no (HTTP 4xx/5xx)
NOT_A_STREAM = "not_a_stream"  # something answered, but no video FFmpeg can read
NO_VIDEO_STREAM = "no_video_stream"
RESOLUTION_TOO_LARGE = "resolution_too_large"
STREAM_ENDED = "stream_ended"  # the server closed it (a file's end)
STREAM_BROKEN = "stream_broken"  # decoding failed, or it sent nothing for the read timeout

PROTOCOLS = {"rtsp": "rtsp,rtp,udp,tcp,tls,srtp", "rtsps": "rtsp,rtsps,rtp,udp,tcp,tls,srtp",
             "http": "http,tcp", "https": "https,http,tcp,tls"}
TLS_SCHEMES = ("https", "rtsps")


class StreamFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _safe(exc: BaseException) -> str:
    """What went wrong, without the URL FFmpeg's message carries."""
    strerror = getattr(exc, "strerror", None)
    return f"{type(exc).__name__}: {strerror}" if strerror else type(exc).__name__


def open_stream(url: str, *, timeout_s: float, tls_ca_file: str | None = None):
    """The opened container, and whether it is a file. Over TLS (https, rtsps) the server's certificate
    is verified against `tls_ca_file` and must name the URL's host (FFmpeg verifies nothing by default,
    which would hand the URL's credentials to whoever answers); None: not verified."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    options = {"protocol_whitelist": PROTOCOLS.get(scheme, "file")}
    if scheme.startswith("rtsp"):
        options["rtsp_transport"] = "tcp"
    tls = scheme in TLS_SCHEMES
    if tls and tls_ca_file is not None:
        options.update(tls_verify="1", ca_file=tls_ca_file)
    try:
        container = av.open(url, mode="r", options=options, timeout=(timeout_s, timeout_s),
                            metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise StreamFailed(NOT_A_STREAM, "It answered, but not with a video stream FFmpeg can read.") from exc
    except (av.error.FFmpegError, OSError) as exc:
        hint = (" Over TLS its certificate must name the host and chain to a trusted CA."
                if tls and tls_ca_file is not None else "")
        raise StreamFailed(UNREACHABLE, f"The stream could not be opened ({_safe(exc)}).{hint}") from exc
    if not container.streams.video:
        container.close()
        raise StreamFailed(NO_VIDEO_STREAM, "The stream has no video.")
    return container, scheme == "file"


def sampled_live_frames(url: str, *, sample_fps: float, timeout_s: float, max_pixels: int,
                        stop: threading.Event, tls_ca_file: str | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(wall time, RGB frame) at most `sample_fps` a second, from the frames as they arrive (a file is
    played at its own pace, by its timestamps). Raises StreamFailed when it fails or ends."""
    container, is_file = open_stream(url, timeout_s=timeout_s, tls_ca_file=tls_ca_file)
    period = 1.0 / sample_fps
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        started, first_pts, due = time.time(), None, None
        try:
            for frame in container.decode(stream):
                if stop.is_set():
                    return
                if frame.width * frame.height > max_pixels:
                    raise StreamFailed(RESOLUTION_TOO_LARGE, f"Frames are {frame.width}x{frame.height}; at most "
                                                             f"{max_pixels:,} pixels are read.")
                if is_file and frame.time is not None:
                    first_pts = frame.time if first_pts is None else first_pts
                    time.sleep(max(0.0, started + frame.time - first_pts - time.time()))
                now = time.time()
                if due is not None and now + 1e-3 < due:
                    continue
                # Every period from the first frame; after a stall, never two samples closer than half a period.
                due = now + period if due is None else max(due + period, now + period / 2)
                yield now, frame.to_ndarray(format="rgb24")
        except StreamFailed:
            raise
        except (av.error.FFmpegError, OSError) as exc:
            raise StreamFailed(STREAM_BROKEN, f"The stream broke off ({_safe(exc)}).") from exc
        raise StreamFailed(STREAM_ENDED, "The stream ended.")
    finally:
        container.close()


@dataclass
class ReaderState:
    state: str = "connecting"  # connecting | connected | error
    last_frame_at: float | None = None  # wall time
    error_code: str = ""
    error_detail: str = ""
    reconnects: int = 0
    frames: int = 0  # sampled, in all


class StreamReader:
    """One camera's stream on a daemon thread: sampled frames into a short queue (the oldest dropped
    when the consumer lags, so it always works on the present), reconnected after 1 s, 2 s, 4 s ...
    up to `max_backoff_s` while it fails; the backoff starts again once frames flow."""

    def __init__(self, url: str, *, sample_fps: float, timeout_s: float, max_backoff_s: float, max_pixels: int,
                 queue_s: float = 2.0, tls_ca_file: str | None = None) -> None:
        self.url, self.sample_fps, self.timeout_s, self.tls_ca_file = url, sample_fps, timeout_s, tls_ca_file
        self.max_backoff_s, self.max_pixels = max_backoff_s, max_pixels
        self.frames: collections.deque = collections.deque(maxlen=max(2, round(queue_s * sample_fps)))
        self.state = ReaderState()
        self.dropped = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="camera-stream", daemon=True)

    def start(self) -> StreamReader:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()

    def take(self) -> list[tuple[float, np.ndarray]]:
        """The frames read since the last call, oldest first."""
        taken = []
        while True:
            try:
                taken.append(self.frames.popleft())
            except IndexError:
                return taken

    def _run(self) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                for item in sampled_live_frames(self.url, sample_fps=self.sample_fps, timeout_s=self.timeout_s,
                                                max_pixels=self.max_pixels, stop=self.stop_event,
                                                tls_ca_file=self.tls_ca_file):
                    if len(self.frames) == self.frames.maxlen:
                        self.dropped += 1
                    self.frames.append(item)
                    state = self.state
                    state.state, state.last_frame_at, state.frames = "connected", item[0], state.frames + 1
                    state.error_code = state.error_detail = ""
                    backoff = 1.0
                return  # stopped
            except StreamFailed as exc:
                self.state.state, self.state.error_code, self.state.error_detail = "error", exc.reason, exc.detail
            except Exception as exc:  # never let the thread die: the camera is retried
                self.state.state, self.state.error_code = "error", STREAM_BROKEN
                self.state.error_detail = f"Reading failed ({type(exc).__name__})."
            if self.stop_event.wait(backoff):
                return
            backoff = min(backoff * 2, self.max_backoff_s)
            self.state.reconnects += 1
