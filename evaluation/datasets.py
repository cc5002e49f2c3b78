"""Where report data comes from: the platform's approved templates, or a dataset folder.

Folders are read only from the configured FACEREC_DATASET_ROOTS, so a report form
cannot be pointed at arbitrary files on the server.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings

from evaluation.protocols import LabelledEmbeddings
from identities.models import EnrollmentImage, Identity
from recognition.models import EMBEDDING_DIM
from recognition.pipeline.faces import embed_files
from recognition.pipeline.images import IMAGE_SUFFIXES
from recognition.pipeline.lfw import resolve_image_dir
from recognition.pipeline.liveness import LivenessWeightsUnavailable
from recognition.runtime import get_liveness_checker, get_pipeline, read_image_file
from recognition.selectors import active_templates

ATTRIBUTES_FILE = "attributes.csv"  # optional: a row per identity, column `identity` plus attribute columns


class DatasetError(ValueError):
    """A dataset parameter that cannot be used; the message says why."""

    def __init__(self, message: str, field: str = "folder"):
        super().__init__(message)
        self.field = field


def dataset_roots() -> list[Path]:
    return [Path(root).resolve() for root in settings.FACEREC_DATASET_ROOTS]


def available_folders() -> list[str]:
    """Folders a report can use: the immediate sub-folders of every dataset root."""
    found = []
    for root in dataset_roots():
        if root.is_dir():
            found += sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return found


def resolve_folder(name: str) -> Path:
    """`name` (relative to a dataset root) -> an existing folder inside that root."""
    if not name or not str(name).strip():
        raise DatasetError("name a dataset folder")
    for root in dataset_roots():
        try:
            candidate = (root / name).resolve()  # follows symlinks: one pointing outside is refused below
            found = candidate.is_dir()
        except (ValueError, OSError):  # a NUL byte, a name too long, a loop of links
            raise DatasetError(f"{name!r} is not a usable folder name") from None
        if found and candidate.is_relative_to(root.resolve()):
            return candidate
    allowed = ", ".join(available_folders()[:20]) or "none: set FACEREC_DATASET_ROOTS"
    raise DatasetError(f"no dataset folder {name!r} under the configured roots (available: {allowed})")


def image_dir(folder: Path) -> Path:
    """LFW keeps its images one level down (lfw-deepfunneled/); other sets are flat."""
    return resolve_image_dir(folder)


@dataclass
class FolderListing:
    files: list[tuple[str, Path]]  # (identity, image path)
    excluded: dict[str, int] = field(default_factory=dict)  # identity -> photos, when below min_photos


def list_folder(folder: Path, *, min_photos: int = 1, max_identities: int | None = None,
                max_photos_per_identity: int | None = None) -> FolderListing:
    """Folder-per-identity images, sorted, within the given limits."""
    images = image_dir(folder)
    files: list[tuple[str, Path]] = []
    excluded: dict[str, int] = {}
    identities = 0
    for person in sorted(p for p in images.iterdir() if p.is_dir()):
        photos = sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if max_photos_per_identity:
            photos = photos[:max_photos_per_identity]
        if not photos:
            continue
        if len(photos) < min_photos:
            excluded[person.name] = len(photos)
            continue
        files += [(person.name, p) for p in photos]
        identities += 1
        if max_identities and identities >= max_identities:
            break
    if identities == 0:
        raise DatasetError(f"{folder.name}: no identity folder with {min_photos}+ images")
    return FolderListing(files, excluded)


def folder_attributes(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / ATTRIBUTES_FILE
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {row["identity"]: {k: v for k, v in row.items() if k != "identity" and v}
            for row in rows if row.get("identity")}


def liveness_checker_or_none():
    """The serving liveness check, or None when its weights are not installed (reports go on without it)."""
    try:
        return get_liveness_checker().load()
    except LivenessWeightsUnavailable:
        return None


def embed_paths(paths: list[Path], *, tta: bool = False, centre_crop_when_no_face: bool = False, progress=None,
                liveness: bool = False):
    """FileEmbeddings of `paths` (one face each, nearest the centre) with the serving pipeline;
    `liveness`: each face's liveness score too (when the check is installed)."""
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0] / max(len(paths), 1), f"embedding {done[0]} of {len(paths)} images")

    return embed_files(get_pipeline(), [str(p) for p in paths], read_image_file, select="center", tta=tta,
                       centre_crop_when_no_face=centre_crop_when_no_face, progress=tick,
                       liveness_checker=liveness_checker_or_none() if liveness else None)


def folder_dataset(folder: Path, listing: FolderListing, *, tta: bool = False, progress=None
                   ) -> tuple[LabelledEmbeddings, dict[str, str], list[float | None]]:
    """Embed a folder listing; images without a readable face are returned as skipped; and the
    liveness score of every embedded face (empty without the liveness check)."""
    label_of = {str(path): identity for identity, path in listing.files}
    result = embed_paths([path for _, path in listing.files], tta=tta, progress=progress, liveness=True)
    data = LabelledEmbeddings(result.embeddings, np.array([label_of[p] for p in result.paths]),
                              [_relative(folder, p) for p in result.paths], folder_attributes(folder))
    return data, {_relative(folder, p): reason for p, reason in result.skipped.items()}, result.liveness


def enrolled_liveness_scores() -> list[float]:
    """The liveness scores recorded when the approved photos were processed (those that have one)."""
    scores = []
    for quality in EnrollmentImage.objects.filter(status=EnrollmentImage.Status.APPROVED).values_list(
            "quality", flat=True).iterator():
        liveness = (quality or {}).get("liveness")
        if isinstance(liveness, dict) and isinstance(liveness.get("score"), (int, float)):
            scores.append(float(liveness["score"]))
    return scores


def _relative(folder: Path, path: str) -> str:
    try:
        return str(Path(path).relative_to(folder))
    except ValueError:
        return str(path)


def enrolled_dataset(model_version: str) -> LabelledEmbeddings:
    """Active templates of approved photos of active identities, labelled by identity id."""
    rows = list(active_templates(model_version).filter(image__status=EnrollmentImage.Status.APPROVED)
                .order_by("identity_id", "image_id").values_list("identity_id", "image_id", "vector"))
    vectors = np.zeros((len(rows), EMBEDDING_DIM), np.float32)
    for row, (_, _, vector) in enumerate(rows):
        vectors[row] = np.asarray(vector, dtype=np.float32)
    labels = np.array([str(identity_id) for identity_id, _, _ in rows])
    attributes = {str(pk): {str(k): str(v) for k, v in (attrs or {}).items()}
                  for pk, attrs in Identity.objects.filter(pk__in={r[0] for r in rows})
                  .values_list("pk", "attributes") if attrs}
    return LabelledEmbeddings(vectors, labels, [f"photo {image_id}" for _, image_id, _ in rows],
                              attributes)
