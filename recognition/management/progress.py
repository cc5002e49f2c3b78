"""Shared bits of the pipeline commands: progress bars and the skipped-files summary."""

from __future__ import annotations

from collections import Counter

from tqdm import tqdm


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
