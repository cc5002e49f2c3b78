"""Camera-like frames built from real LFW faces, and the .y4m file Chromium's fake camera plays.

Chromium's `--use-file-for-fake-video-capture=clip.y4m` loops a YUV4MPEG2 file: a header line, then
for each frame `FRAME\\n` and the raw I420 planes (Y at full size, then U and V at half width and
height). The kiosk's browser test and bench/kiosk_bench.py use the same frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.video_clips import lfw_photo


def camera_frame(person: str, n: int, *, size=(640, 480), face_px: int = 240, shift: int = 0) -> np.ndarray:
    """An RGB frame: a grey-blue wall with the LFW photo's central face in the middle (moved `shift` px)."""
    width, height = size
    frame = np.empty((height, width, 3), np.uint8)
    frame[...] = (96, 108, 124)
    with Image.open(lfw_photo(person, n)) as image:
        face = np.asarray(image.convert("RGB").crop((45, 45, 205, 205)).resize((face_px, face_px),
                                                                               Image.Resampling.BILINEAR))
    x, y = (width - face_px) // 2 + shift, (height - face_px) // 2
    frame[y:y + face_px, x:x + face_px] = face
    return frame


def write_y4m(path: str | Path, frames: list[np.ndarray], *, fps: int = 10) -> Path:
    """Write RGB frames (even width and height) as an I420 .y4m file, BT.601 full range like JPEG."""
    path = Path(path)
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            ycbcr = np.asarray(Image.fromarray(rgb).convert("YCbCr"))
            # 4:2:0: each chroma sample is the mean of a 2x2 block.
            chroma = ycbcr[:, :, 1:].reshape(height // 2, 2, width // 2, 2, 2).mean(axis=(1, 3))
            out.write(b"FRAME\n")
            out.write(ycbcr[:, :, 0].tobytes())
            out.write(np.round(chroma[..., 0]).astype(np.uint8).tobytes())
            out.write(np.round(chroma[..., 1]).astype(np.uint8).tobytes())
    return path
