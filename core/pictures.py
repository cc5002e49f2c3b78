"""Pictures: an RGB array (a face crop) as PNG bytes, and for the pages a photo with its faces boxed and
labelled, as a PNG data URI."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Pictures are shown with their longer side in this range: small probes are enlarged so
# the labels stay readable on a phone, large ones shrunk so the page stays light.
PICTURE_MIN_SIDE_PX = 480
PICTURE_MAX_SIDE_PX = 800
KNOWN_COLOUR = (6, 118, 71)  # --ok of site.css
UNKNOWN_COLOUR = (180, 35, 24)  # --bad


def png_bytes(picture: np.ndarray | Image.Image) -> bytes:
    """A uint8 RGB array (or a PIL image) as PNG: the one encoding of stored face crops."""
    buf = io.BytesIO()
    (picture if isinstance(picture, Image.Image) else Image.fromarray(picture)).save(buf, format="PNG")
    return buf.getvalue()


def annotated_picture(image: np.ndarray, faces: list[tuple[list[float], str, bool]]) -> str:
    """A copy of `image` with each (box, label, known) drawn on it, as a PNG data URI."""
    picture = Image.fromarray(image)
    long_side = max(picture.size)
    scale = min(max(long_side, PICTURE_MIN_SIDE_PX), PICTURE_MAX_SIDE_PX) / long_side
    if scale != 1:
        picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                                 Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(picture)
    line_px = max(2, round(max(picture.size) / 250))
    font = ImageFont.load_default(size=max(12, round(max(picture.size) / 30)))
    pad = max(2, line_px)
    for box, label, known in faces:
        x1, y1, x2, y2 = (v * scale for v in box)
        colour = KNOWN_COLOUR if known else UNKNOWN_COLOUR
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=line_px)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        width, height = right - left + 2 * pad, bottom - top + 2 * pad
        # The label sits above the box, or inside its top edge when the box touches the top.
        ty = y1 - height if y1 - height >= 0 else max(y1, 0)
        tx = max(0, min(x1, picture.width - width))
        draw.rectangle([tx, ty, tx + width, ty + height], fill=colour)
        draw.text((tx + pad - left, ty + pad - top), label, fill=(255, 255, 255), font=font)
    return "data:image/png;base64," + base64.b64encode(png_bytes(picture)).decode("ascii")
