"""LFW pairs files: View 2 ``pairs.txt`` (10 folds) and View 1 ``pairsDev{Train,Test}.txt``.

Format (LFW README, section 3): a header line, then per fold N matched lines
``name n1 n2`` followed by N mismatched lines ``name1 n1 name2 n2``. The header is
``<folds> <N>`` for View 2 and just ``<N>`` for View 1 (read as a single fold 0).
Images live at ``<image_dir>/<Name>/<Name>_<NNNN>.jpg``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "IMAGE_SUBDIRS",
    "Pair",
    "image_path",
    "missing_images",
    "read_pairs",
    "resolve_image_dir",
    "unique_images",
]

# Image folders a dataset root may hold, tried in order.
IMAGE_SUBDIRS: tuple[str, ...] = ("lfw-deepfunneled", "lfw")


@dataclass(frozen=True)
class Pair:
    """One verification pair; ``fold`` is 0 for View 1 files."""

    path_a: Path
    path_b: Path
    same: bool
    fold: int


def resolve_image_dir(lfw_dir: str | Path) -> Path:
    """The image folder: ``lfw_dir/lfw-deepfunneled`` (or ``/lfw``) if present, else ``lfw_dir``."""
    root = Path(lfw_dir)
    for sub in IMAGE_SUBDIRS:
        if (root / sub).is_dir():
            return root / sub
    return root


def image_path(image_dir: str | Path, name: str, number: int) -> Path:
    """``<image_dir>/<name>/<name>_<number:04d>.jpg``."""
    return Path(image_dir) / name / f"{name}_{number:04d}.jpg"


def _parse_int(token: str, path: Path, line_no: int, what: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise ValueError(f"{path}:{line_no}: {what} is not an integer: {token!r}") from None
    if value < 1:
        raise ValueError(f"{path}:{line_no}: {what} must be >= 1, got {value}")
    return value


def read_pairs(pairs_file: str | Path, lfw_dir: str | Path | None = None, *,
               check_exists: bool = False) -> list[Pair]:
    """Parse an LFW pairs file into :class:`Pair` objects, in file order.

    ``lfw_dir`` is the dataset root (holding ``lfw-deepfunneled/``) or the image folder
    itself; it defaults to the folder of ``pairs_file``. Raises ValueError naming the
    line on a malformed file and, with ``check_exists``, FileNotFoundError naming
    missing images.
    """
    path = Path(pairs_file)
    image_dir = resolve_image_dir(path.parent if lfw_dir is None else lfw_dir)
    # Trailing blank lines are common; blank lines elsewhere are an error below.
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{path}:1: empty pairs file")

    header = lines[0].split()
    if len(header) == 2:  # View 2: "<folds> <pairs per class per fold>"
        n_folds = _parse_int(header[0], path, 1, "number of folds")
        per_class = _parse_int(header[1], path, 1, "pairs per class")
    elif len(header) == 1:  # View 1: "<pairs per class>"
        n_folds, per_class = 1, _parse_int(header[0], path, 1, "pairs per class")
    else:
        raise ValueError(
            f"{path}:1: header must be '<folds> <pairs>' or '<pairs>', got {lines[0]!r}")

    expected = 1 + n_folds * 2 * per_class
    if len(lines) != expected:
        # Point at the first missing line, or the first surplus one.
        bad = len(lines) + 1 if len(lines) < expected else expected + 1
        raise ValueError(f"{path}:{bad}: header promises {expected - 1} pair lines, "
                         f"file has {len(lines) - 1}")

    pairs: list[Pair] = []
    for idx in range(1, expected):
        line_no = idx + 1
        fold, within = divmod(idx - 1, 2 * per_class)
        same = within < per_class
        tok = lines[idx].split()
        if same:
            if len(tok) != 3:
                raise ValueError(
                    f"{path}:{line_no}: matched pair needs 'name n1 n2', got {lines[idx]!r}")
            name_a, name_b = tok[0], tok[0]
            n_a = _parse_int(tok[1], path, line_no, "image number")
            n_b = _parse_int(tok[2], path, line_no, "image number")
        else:
            if len(tok) != 4:
                raise ValueError(f"{path}:{line_no}: mismatched pair needs "
                                 f"'name1 n1 name2 n2', got {lines[idx]!r}")
            name_a, name_b = tok[0], tok[2]
            n_a = _parse_int(tok[1], path, line_no, "image number")
            n_b = _parse_int(tok[3], path, line_no, "image number")
        for name in (name_a, name_b):
            # A person's folder name, never a path: a pairs file cannot reach outside its images.
            if name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
                raise ValueError(f"{path}:{line_no}: {name!r} is not a person's folder name")
        pairs.append(Pair(image_path(image_dir, name_a, n_a),
                          image_path(image_dir, name_b, n_b), same, fold))

    if check_exists:
        missing = missing_images(pairs)
        if missing:
            shown = ", ".join(str(p) for p in missing[:5])
            raise FileNotFoundError(f"{len(missing)} LFW images missing (first: {shown})")
    return pairs


def unique_images(pairs: list[Pair]) -> list[Path]:
    """Distinct image paths of ``pairs``, sorted (embed each once, then index)."""
    return sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})


def missing_images(pairs: list[Pair]) -> list[Path]:
    """Image paths of ``pairs`` that are not existing files, sorted."""
    return [p for p in unique_images(pairs) if not p.is_file()]
