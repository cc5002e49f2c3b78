"""Shared bits of the pipeline commands: image loading with settings' limits, progress bars."""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from tqdm import tqdm

from recognition.pipeline.images import load_image_file


def load_with_limits(path: str):
    return load_image_file(path, max_bytes=settings.FACEREC_MAX_UPLOAD_BYTES,
                           max_pixels=settings.FACEREC_MAX_IMAGE_PIXELS)


def progress_bar(total: int, desc: str, stream) -> tqdm:
    return tqdm(total=total, desc=desc, unit="img", file=stream, dynamic_ncols=True)


def skipped_summary(skipped: dict[str, str], show: int = 20) -> list[str]:
    """Lines: count per reason, then the first few files with their reason."""
    if not skipped:
        return ["skipped: none"]
    counts = Counter(skipped.values())
    lines = ["skipped: " + ", ".join(f"{reason} {n}" for reason, n in counts.most_common())]
    for path, reason in sorted(skipped.items())[:show]:
        lines.append(f"  {reason}: {path}")
    if len(skipped) > show:
        lines.append(f"  ... and {len(skipped) - show} more")
    return lines
