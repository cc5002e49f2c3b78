"""Tests for recognition.pipeline.images: decoding, conversion and rejection of uploads."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recognition.pipeline.errors import ImageRejected
from recognition.pipeline.images import load_image, load_image_file
from tests.shared_data import LFW_IMAGES, ORL_DIR

LFW_PHOTO = LFW_IMAGES / "George_W_Bush/George_W_Bush_0001.jpg"
ORL_PGM = ORL_DIR / "s1/1.pgm"

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 20_000_000}


def load(data: bytes, **overrides: int) -> np.ndarray:
    return load_image(data, **{**LIMITS, **overrides})


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def rejection(data: bytes, **overrides: int) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        load(data, **overrides)
    return info.value


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    with Image.open(LFW_PHOTO) as im:
        return im.convert("RGB")


@pytest.fixture(scope="module")
def photo_array(photo: Image.Image) -> np.ndarray:
    return np.asarray(photo)


def assert_rgb(arr: np.ndarray, shape: tuple[int, int]) -> None:
    assert arr.dtype == np.uint8
    assert arr.shape == (*shape, 3)


# --- formats ---------------------------------------------------------------------------


def test_real_jpeg_decodes(photo_array: np.ndarray) -> None:
    arr = load(LFW_PHOTO.read_bytes())
    assert_rgb(arr, (250, 250))
    assert np.array_equal(arr, photo_array)
    assert arr.flags.writeable


@pytest.mark.parametrize(
    ("fmt", "params", "tolerance"),
    [
        ("PNG", {}, 0),
        ("BMP", {}, 0),
        ("PPM", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("WEBP", {"quality": 90}, 12),
        ("JPEG", {"quality": 95}, 6),
    ],
)
def test_formats_round_trip(
    photo: Image.Image, photo_array: np.ndarray, fmt: str, params: dict, tolerance: float
) -> None:
    arr = load(encode(photo, fmt, **params))
    assert_rgb(arr, (250, 250))
    diff = np.abs(arr.astype(int) - photo_array.astype(int)).mean()
    assert diff <= tolerance


def test_real_orl_pgm_decodes_to_grey_rgb() -> None:
    arr = load(ORL_PGM.read_bytes())
    assert_rgb(arr, (112, 92))
    with Image.open(ORL_PGM) as im:
        grey = np.asarray(im)
    for channel in range(3):
        assert np.array_equal(arr[:, :, channel], grey)


def test_pbm_decodes(photo: Image.Image) -> None:
    arr = load(encode(photo.convert("1"), "PPM"))  # Pillow writes mode 1 as P4 (PBM)
    assert_rgb(arr, (250, 250))
    assert set(np.unique(arr)) <= {0, 255}


def test_format_is_sniffed_not_named(tmp_path: Path, photo: Image.Image) -> None:
    misnamed = tmp_path / "face.gif"  # a PNG behind a misleading name
    misnamed.write_bytes(encode(photo, "PNG"))
    assert_rgb(load_image_file(misnamed), (250, 250))


def test_load_image_file_reads_orl() -> None:
    assert_rgb(load_image_file(ORL_PGM), (112, 92))


def test_load_image_file_refuses_large_file_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(LFW_PHOTO.read_bytes())
    with pytest.raises(ImageRejected) as info:
        load_image_file(big, max_bytes=1000, max_pixels=10**6)
    assert info.value.reason == "too_large"


# --- orientation and colour modes --------------------------------------------------------


def test_exif_orientation_is_applied(photo: Image.Image) -> None:
    wide = photo.crop((0, 50, 250, 200))  # 250x150, so a rotation changes the shape
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = encode(wide, "JPEG", quality=95, exif=exif.tobytes())

    stored = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))  # as stored, unrotated
    arr = load(data)
    assert stored.shape == (150, 250, 3)
    assert_rgb(arr, (250, 150))
    assert np.array_equal(arr, np.rot90(stored, k=-1))


def test_greyscale_becomes_rgb(photo: Image.Image) -> None:
    arr = load(encode(photo.convert("L"), "PNG"))
    assert_rgb(arr, (250, 250))
    assert np.array_equal(arr[:, :, 0], arr[:, :, 1]) and np.array_equal(arr[:, :, 1], arr[:, :, 2])
    assert np.array_equal(arr[:, :, 0], np.asarray(photo.convert("L")))


def test_palette_becomes_rgb(photo: Image.Image, photo_array: np.ndarray) -> None:
    arr = load(encode(photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=256), "PNG"))
    assert_rgb(arr, (250, 250))
    assert np.abs(arr.astype(int) - photo_array.astype(int)).mean() < 8


def test_cmyk_jpeg_becomes_rgb(photo: Image.Image, photo_array: np.ndarray) -> None:
    data = encode(photo.convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    arr = load(data)
    assert_rgb(arr, (250, 250))
    assert np.abs(arr.astype(int) - photo_array.astype(int)).mean() < 8


def test_rgba_transparency_is_composited_on_white(photo: Image.Image) -> None:
    rgba = photo.convert("RGBA")
    alpha = np.full((250, 250), 255, np.uint8)
    alpha[:, :100] = 0  # left part fully transparent
    rgba.putalpha(Image.fromarray(alpha))
    arr = load(encode(rgba, "PNG"))
    assert_rgb(arr, (250, 250))
    assert (arr[:, :100] == 255).all()
    assert np.array_equal(arr[:, 100:], np.asarray(photo)[:, 100:])


def test_la_and_palette_transparency_on_white(photo: Image.Image) -> None:
    la = photo.convert("LA")
    la.putalpha(0)
    assert (load(encode(la, "PNG")) == 255).all()

    pal = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    index = pal.getpixel((0, 0))
    data = encode(pal, "PNG", transparency=index)
    arr = load(data)
    assert_rgb(arr, (250, 250))
    assert (arr[0, 0] == 255).all()


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (8, 1))
    im = Image.fromarray(ramp)  # mode I;16
    arr = load(encode(im, "PNG"))
    assert_rgb(arr, (8, 256))
    assert arr[0, 0, 0] == 0 and arr[0, -1, 0] == 255
    assert 120 <= arr[0, 128, 0] <= 135  # mid-grey stays mid-grey


def test_dark_sixteen_bit_png_stays_dark() -> None:
    dark = Image.fromarray(np.full((4, 4), 200, np.uint16))  # 200/65535: nearly black
    assert (load(encode(dark, "PNG")) <= 1).all()


def test_sixteen_bit_pgm() -> None:
    data = b"P5\n4 1\n65535\n" + np.array([0, 257, 32896, 65535], ">u2").tobytes()
    arr = load(data)
    assert_rgb(arr, (1, 4))
    assert arr[0, :, 0].tolist() == [0, 1, 128, 255]


# --- rejections ----------------------------------------------------------------------------


def test_empty_is_rejected() -> None:
    assert rejection(b"").reason == "empty"


@pytest.mark.parametrize(
    "data",
    [
        b"just some text, certainly not a picture\n" * 10,
        np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        b"<html><body>hi</body></html>",
    ],
)
def test_non_images_are_rejected(data: bytes) -> None:
    err = rejection(data)
    assert err.reason == "not_an_image"
    assert err.detail


def test_truncated_jpeg_is_corrupt() -> None:
    data = LFW_PHOTO.read_bytes()
    assert rejection(data[: len(data) // 2]).reason == "corrupt"
    assert rejection(data[:200]).reason == "corrupt"  # header cut off too


def test_truncated_png_is_corrupt(photo: Image.Image) -> None:
    data = encode(photo, "PNG")
    assert rejection(data[: len(data) // 2]).reason == "corrupt"


def test_over_max_bytes_is_rejected_before_decoding() -> None:
    data = LFW_PHOTO.read_bytes()
    err = rejection(data, max_bytes=len(data) - 1)
    assert err.reason == "too_large"
    assert load(data, max_bytes=len(data)).shape == (250, 250, 3)


def _black_png(width: int, height: int) -> bytes:
    """A genuine 1-bit all-black PNG, built row by row so nothing large is allocated."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    row = b"\x00" + bytes((width + 7) // 8)
    comp = zlib.compressobj(9)
    rows_per_block = 1000
    idat = b"".join(comp.compress(row * rows_per_block) for _ in range(height // rows_per_block))
    idat += comp.compress(row * (height % rows_per_block)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _black_png(30000, 30000)


def test_decompression_bomb_is_rejected(bomb: bytes) -> None:
    assert len(bomb) < 200_000  # small on disk, 900 megapixels decoded
    assert rejection(bomb).reason == "too_many_pixels"


def test_bomb_above_pillows_own_limit_is_still_our_code(bomb: bytes) -> None:
    # With a very permissive max_pixels, Pillow's hard limit fires inside Image.open.
    err = rejection(bomb, max_pixels=10**10)
    assert err.reason == "too_many_pixels"


def test_pixel_limit_checked_from_header() -> None:
    # 10000x10000 is between Pillow's warning and error limits: only our check stops it.
    err = rejection(_black_png(10000, 10000), max_pixels=50_000_000)
    assert err.reason == "too_many_pixels"
    assert "10000x10000" in err.detail


def test_pixel_limit_on_ordinary_photo() -> None:
    data = LFW_PHOTO.read_bytes()
    assert rejection(data, max_pixels=250 * 250 - 1).reason == "too_many_pixels"
    assert load(data, max_pixels=250 * 250).shape == (250, 250, 3)


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("TIFF", "TIFF"), ("ICO", "ICO")])
def test_images_in_other_formats_are_unsupported(photo: Image.Image, fmt: str, name: str) -> None:
    err = rejection(encode(photo, fmt))
    assert err.reason == "unsupported_format"
    assert name in err.detail


def test_unknown_reason_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        ImageRejected("nope", "x")
