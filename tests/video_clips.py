"""Video clips built from real LFW faces with known ground truth, for the video tests and bench.

A clip is a background (a soft gradient that changes at each `cut`) over which face photos enter,
move in a straight line and leave at known times. Written with PyAV (FFmpeg's libraries), H.264
in MP4 by default. The broken files the worker must refuse are built here too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.shared_data import LFW_IMAGES


def lfw_photo(person: str, n: int = 1) -> Path:
    return LFW_IMAGES / person / f"{person}_{n:04d}.jpg"


@dataclass(frozen=True)
class Appearance:
    """A face photo on screen from `start_s` to `end_s` (exclusive), its top-left corner moving from
    `start_xy` to `end_xy`; pasted as a `size`-pixel square (the LFW photo's central 170 px)."""

    photo: Path
    start_s: float
    end_s: float
    start_xy: tuple[float, float]
    end_xy: tuple[float, float]
    size: int = 160

    def position(self, t: float) -> tuple[int, int]:
        share = (t - self.start_s) / max(self.end_s - self.start_s, 1e-9)
        return (round(self.start_xy[0] + share * (self.end_xy[0] - self.start_xy[0])),
                round(self.start_xy[1] + share * (self.end_xy[1] - self.start_xy[1])))


def background(width: int, height: int, scene: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.array([(60, 90, 120), (150, 120, 70), (70, 130, 80), (110, 80, 140)][scene % 4], np.float32)
    shade = 0.6 + 0.4 * (xs / width) * (0.5 + ys / (2 * height))
    return np.clip(base[None, None, :] * shade[..., None] + 30, 0, 255).astype(np.uint8)


def face_tile(photo: Path, size: int) -> np.ndarray:
    with Image.open(photo) as image:
        rgb = image.convert("RGB")
        w, h = rgb.size
        side = min(170, w, h)
        box = ((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2)
        return np.asarray(rgb.crop(box).resize((size, size), Image.Resampling.BILINEAR))


def paste(frame: np.ndarray, tile: np.ndarray, x: int, y: int) -> None:
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + tile.shape[1], w), min(y + tile.shape[0], h)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = tile[y0 - y:y1 - y, x0 - x:x1 - x]


def clip_frames(appearances, *, duration_s: float, size=(640, 360), fps: int = 25, cuts=()):
    """The clip's RGB frames, one per 1/fps s, generated as they are written (never held whole)."""
    yield from frames_at([index / fps for index in range(round(duration_s * fps))], appearances, size=size,
                         cuts=cuts)


def frames_at(times: Sequence[float], appearances, *, size=(640, 360), cuts=()):
    """The clip's RGB frames at the given instants (s), in order."""
    width, height = size
    tiles = {(a.photo, a.size): face_tile(a.photo, a.size) for a in appearances}
    backgrounds: dict[int, np.ndarray] = {}
    for t in times:
        scene = sum(t >= cut for cut in cuts)
        if scene not in backgrounds:
            backgrounds[scene] = background(width, height, scene)
        frame = backgrounds[scene].copy()
        for a in appearances:
            if a.start_s <= t < a.end_s:
                paste(frame, tiles[(a.photo, a.size)], *a.position(t))
        yield frame


def write_clip(path: str | os.PathLike, appearances=(), *, duration_s: float, size=(640, 360), fps: int = 25,
               cuts=(), codec: str = "libx264", faststart: bool = False) -> Path:
    """Encode the clip (MP4/MKV/WebM/AVI/MOV by the file's suffix) and return its path. `faststart`
    (MP4/MOV): the index first, as streaming sites write it (a truncated copy then still opens)."""
    path = Path(path)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "23"}
        for pixels in clip_frames(appearances, duration_s=duration_s, size=size, fps=fps, cuts=cuts):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def write_vfr_clip(path: str | os.PathLike, appearances=(), *, frame_times: Sequence[float], size=(640, 360),
                   cuts=()) -> Path:
    """An H.264 MP4 with a variable frame rate: one frame at each of `frame_times` (s, increasing,
    millisecond timestamps), as phones record when the light or the load changes."""
    path = Path(path)
    millisecond = Fraction(1, 1000)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = millisecond
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for t, pixels in zip(frame_times, frames_at(frame_times, appearances, size=size, cuts=cuts)):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), millisecond
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


# --- files the worker must refuse, each with its reason ---------------------------------------


def truncated_copy(source: Path, path: Path, keep: float = 0.5) -> Path:
    """The first `keep` of a clip's bytes: an MP4 cut off mid-download."""
    data = source.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


def damaged_copy(source: Path, path: Path, at: float = 0.5, n: int = 3000, seed: int = 1) -> Path:
    """The clip with `n` random bytes written over it at `at` of its length: damage in transit or on disk."""
    data = bytearray(source.read_bytes())
    start = int(len(data) * at)
    data[start:start + n] = np.random.default_rng(seed).bytes(n)
    path.write_bytes(bytes(data))
    return path


def random_bytes(path: Path, n: int = 200_000, seed: int = 0) -> Path:
    path.write_bytes(np.random.default_rng(seed).bytes(n))
    return path


def zero_frames(path: Path, size=(320, 240)) -> Path:
    """An AVI with a video stream and not one frame in it (MP4 and Matroska drop an empty track)."""
    assert path.suffix == ".avi"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        container.start_encoding()
        container.mux(stream.encode(None))
    return path


def audio_only(path: Path, duration_s: float = 1.0, rate: int = 44100) -> Path:
    """A sound file (a 440 Hz tone) in a video container: no video stream at all."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=rate)
        samples = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(duration_s * rate)) / rate)).astype(np.float32)
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, len(samples), frame_size):
            chunk = samples[start:start + frame_size]
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def huge_header(path: Path, side: int = 16000) -> Path:
    """A Matroska file whose header claims a `side`×`side` picture (its frames are 320×256): what a
    decoder would have to allocate is decided from the header, so this must be refused from it."""
    assert path.suffix == ".mkv"
    write_clip(path, duration_s=0.2, size=(320, 256), fps=5, codec="ffv1")
    data = path.read_bytes()
    # EBML PixelWidth (0xB0) and PixelHeight (0xBA), each a 2-byte unsigned integer here.
    width, height = b"\xb0\x82" + (320).to_bytes(2, "big"), b"\xba\x82" + (256).to_bytes(2, "big")
    assert data.count(width) == 1 and data.count(height) == 1, "unexpected Matroska layout"
    claimed = side.to_bytes(2, "big")
    path.write_bytes(data.replace(width, b"\xb0\x82" + claimed).replace(height, b"\xba\x82" + claimed))
    return path
