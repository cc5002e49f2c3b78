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


class InputRejected(Exception):
    """An input file cannot be used: `reason` is one of the subclass's `reasons` (a code), `detail` a
    sentence for the user."""

    reasons: frozenset[str] = frozenset()

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in self.reasons:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ImageRejected(InputRejected):
    """An input image cannot be used."""

    reasons = REJECTION_REASONS


class WeightsUnavailable(RuntimeError):
    """A model's weights (or an export of them) cannot be found, fetched or loaded."""
