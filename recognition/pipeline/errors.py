"""Domain exceptions of the face pipeline (no Django; the web layer maps them to responses)."""

from __future__ import annotations

from typing import Final

# Machine-readable reasons an uploaded image is refused.
EMPTY: Final = "empty"
TOO_LARGE: Final = "too_large"  # more bytes than allowed
NOT_AN_IMAGE: Final = "not_an_image"
UNSUPPORTED_FORMAT: Final = "unsupported_format"  # an image, but not a format we accept
CORRUPT: Final = "corrupt"  # truncated or undecodable
TOO_MANY_PIXELS: Final = "too_many_pixels"  # decompression bomb guard

REJECTION_REASONS: Final = frozenset(
    {EMPTY, TOO_LARGE, NOT_AN_IMAGE, UNSUPPORTED_FORMAT, CORRUPT, TOO_MANY_PIXELS}
)


class ImageRejected(Exception):
    """An input image cannot be used; `reason` is a code, `detail` a human message."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REJECTION_REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class WeightsUnavailable(RuntimeError):
    """A model's weights (or an export of them) cannot be found, fetched or loaded."""
