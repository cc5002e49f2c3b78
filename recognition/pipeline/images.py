"""Decode untrusted image bytes into an RGB uint8 array, with size and format guards.

The format is sniffed from the bytes by Pillow (never from a file name). Byte size is
checked before decoding and pixel count from the header before the full decode, so a
decompression bomb is refused without allocating its pixels.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Final

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import (
    CORRUPT,
    EMPTY,
    NOT_AN_IMAGE,
    TOO_LARGE,
    TOO_MANY_PIXELS,
    UNSUPPORTED_FORMAT,
    ImageRejected,
)

# Pillow plugins we decode with. PPM covers PGM/PPM/PBM. The JPEG plugin also opens
# multi-picture JPEGs (MPO, written by many phone cameras); we use their first picture.
ACCEPTED_FORMATS: Final = ("JPEG", "PNG", "WEBP", "BMP", "PPM")
# File names dataset folders use for those formats (PPM covers PGM, as in ORL).
IMAGE_SUFFIXES: Final = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".pgm", ".ppm"})
# The media type a photo of each format is stored and served as, decided from its bytes.
# MPO (the JPEG plugin's multi-picture files) is a JPEG to every browser.
CONTENT_TYPES: Final = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
                        "BMP": "image/bmp", "PPM": "image/x-portable-anymap"}

# Sensible limits for callers that have no settings of their own.
DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS: Final = 40_000_000

_WHITE: Final = (255, 255, 255, 255)


def load_image(data: bytes, *, max_bytes: int, max_pixels: int) -> np.ndarray:
    """Decode `data` to an (H, W, 3) uint8 RGB array, upright per its EXIF orientation.

    Raises ImageRejected with reason empty, too_large, not_an_image, unsupported_format,
    corrupt or too_many_pixels.
    """
    if not data:
        raise ImageRejected(EMPTY, "no image data")
    if len(data) > max_bytes:
        raise ImageRejected(TOO_LARGE, f"{len(data)} bytes exceeds the limit of {max_bytes}")

    im = _open_header(data)
    try:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ImageRejected(CORRUPT, f"image has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise ImageRejected(
                TOO_MANY_PIXELS,
                f"{width}x{height} = {width * height} pixels exceeds the limit of {max_pixels}",
            )
        try:
            with warnings.catch_warnings():
                # Our own max_pixels is the authority; Pillow's global warning is noise here.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im.load()
        except Image.DecompressionBombError as exc:
            raise ImageRejected(TOO_MANY_PIXELS, str(exc)) from exc
        except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, EOFError...
            raise ImageRejected(CORRUPT, f"{im.format} data cannot be decoded: {exc}") from exc

        return _to_rgb_array(_upright(im))
    finally:
        im.close()


def sniff_content_type(data: bytes) -> str:
    """The media type of `data` (a value of CONTENT_TYPES), from its bytes, never from a name.

    Reads the header only. Raises ImageRejected (empty, not_an_image, unsupported_format,
    corrupt) for what load_image would refuse as such.
    """
    if not data:
        raise ImageRejected(EMPTY, "no image data")
    im = _open_header(data)
    try:
        return CONTENT_TYPES.get(im.format, "application/octet-stream")
    finally:
        im.close()


def load_image_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Read a file (at most max_bytes + 1 bytes, so a huge file is not slurped) and decode it."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    return load_image(data, max_bytes=max_bytes, max_pixels=max_pixels)


def _open_header(data: bytes) -> Image.Image:
    """Open lazily (header only) with our accepted plugins; classify what we refuse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        # Only reached when max_pixels is above Pillow's own hard limit.
        raise ImageRejected(TOO_MANY_PIXELS, str(exc)) from exc
    except UnidentifiedImageError:
        if _looks_like_accepted(data):
            # The signature is one of ours but the header is unreadable: a damaged file.
            raise ImageRejected(CORRUPT, "image header is truncated or damaged") from None
    except Exception as exc:  # a header of an accepted format that fails to parse
        raise ImageRejected(CORRUPT, f"image header cannot be parsed: {exc}") from exc

    # Not one of ours: ask all plugins only to name it (header parse, never decoded).
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            other = Image.open(io.BytesIO(data))
    except Exception:
        raise ImageRejected(NOT_AN_IMAGE, "data is not a recognised image") from None
    fmt = other.format
    other.close()
    raise ImageRejected(
        UNSUPPORTED_FORMAT,
        f"{fmt} images are not accepted; use JPEG, PNG, WebP, BMP or PGM/PPM",
    )


def _looks_like_accepted(data: bytes) -> bool:
    """Whether the leading bytes carry the signature of an accepted format."""
    Image.init()
    prefix = data[:16]
    for fmt in ACCEPTED_FORMATS:
        _factory, accept = Image.OPEN[fmt]
        try:
            if accept is not None and accept(prefix):
                return True
        except Exception:
            continue
    return False


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(im) or im
    except Exception:
        return im


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to RGB uint8; transparency is composited on white."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        grey = _wide_grey_to_uint8(np.asarray(im), sixteen_bit=mode.startswith("I;16"))
        return np.repeat(grey[:, :, None], 3, axis=2)

    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, _WHITE)
        im = Image.alpha_composite(base, rgba)
    if im.mode != "RGB":
        im = im.convert("RGB")  # L, 1, P, CMYK, YCbCr, RGBA after compositing...
    return np.array(im, dtype=np.uint8)  # a writable copy, independent of Pillow


def _wide_grey_to_uint8(arr: np.ndarray, *, sixteen_bit: bool) -> np.ndarray:
    """Map 16/32-bit or float greyscale to 0..255 (Pillow's convert('L') would clip)."""
    a = arr.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    if sixteen_bit or (lo >= 0 and 255 < hi <= 65535):
        scaled = a / 257.0  # full 16-bit range
    elif lo >= 0 and hi <= 255:
        scaled = a  # 8-bit values stored in a wide mode
    elif hi > lo:
        scaled = (a - lo) * (255.0 / (hi - lo))
    else:
        scaled = np.zeros_like(a)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
