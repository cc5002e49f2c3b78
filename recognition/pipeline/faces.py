"""Images in, faces out: MTCNN detection, 160-px crops and batched FaceNet embeddings.

`FacePipeline.process(images)` detects in every image (equal-sized images in one
MTCNN batch), crops the chosen faces, and embeds all crops of the call together in
batches, which is what makes it faster than one detector call and one forward
pass per image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import numpy as np

from recognition.pipeline.detection import (
    DEFAULT_CROP_MARGIN,
    DEFAULT_CROP_SIZE,
    Detection,
    FaceDetector,
    central_detection,
    crop_face,
    largest,
    nearest_to_center,
)
from recognition.pipeline.errors import ImageRejected
from recognition.pipeline.facenet.constants import EMBEDDING_DIM
from recognition.pipeline.facenet.embedder import FaceEmbedder

Selection = Literal["all", "center", "largest"]


@dataclass
class Face:
    detection: Detection
    crop: np.ndarray  # (size, size, 3) uint8 RGB
    embedding: np.ndarray  # (EMBEDDING_DIM,) float32, unit length


def select_faces(detections: list[Detection], image_shape: Sequence[int], select: Selection) -> list[Detection]:
    """`all` faces, the one nearest the image `center` (benchmark photos), or the `largest`."""
    if select == "all":
        return list(detections)
    chosen = nearest_to_center(detections, image_shape) if select == "center" else largest(detections)
    return [chosen] if chosen is not None else []


class FacePipeline:
    def __init__(self, detector: FaceDetector, embedder: FaceEmbedder, *,
                 crop_size: int = DEFAULT_CROP_SIZE, margin: int = DEFAULT_CROP_MARGIN):
        self.detector = detector
        self.embedder = embedder
        self.crop_size = crop_size
        self.margin = margin

    def crop(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        return crop_face(image, detection, size=self.crop_size, margin=self.margin)

    def process(self, images: Sequence[np.ndarray], *, select: Selection = "all", tta: bool = False,
                pad_ratio: float = 0.0) -> list[list[Face]]:
        """For each image, its selected faces with crops and embeddings ([] when none)."""
        all_detections = self.detector.detect_many(images, pad_ratio=pad_ratio)
        chosen = [select_faces(dets, image.shape, select) for dets, image in zip(all_detections, images)]
        return self.embed_detections(images, chosen, tta=tta)

    def embed_detections(self, images: Sequence[np.ndarray], detections: Sequence[Sequence[Detection]], *,
                         tta: bool = False) -> list[list[Face]]:
        """For each image, the given faces with crops and embeddings (the second half of `process`, for
        callers that time or choose the detections themselves)."""
        chosen = detections
        crops = [self.crop(image, det) for image, dets in zip(images, chosen) for det in dets]
        embeddings = self.embedder.embed(np.stack(crops), tta=tta) if crops else np.zeros((0, EMBEDDING_DIM), np.float32)
        results: list[list[Face]] = []
        k = 0
        for dets in chosen:
            faces = []
            for det in dets:
                faces.append(Face(detection=det, crop=crops[k], embedding=embeddings[k]))
                k += 1
            results.append(faces)
        return results


NO_FACE = "no_face"


@dataclass
class FileEmbeddings:
    """Embeddings of the files where a face was found, and why the others were skipped."""

    paths: list[str]
    embeddings: np.ndarray  # (len(paths), EMBEDDING_DIM)
    skipped: dict[str, str]  # path -> reason (an ImageRejected reason or `no_face`)
    centre_crops: list[str] = field(default_factory=list)  # in `paths`, embedded from the centre crop
    # Per path, the liveness score of its face when a checker was given (None: a centre crop).
    liveness: list[float | None] = field(default_factory=list)


def embed_files(pipeline: FacePipeline, paths: Sequence[str], load: Callable[[str], np.ndarray], *,
                select: Selection = "center", tta: bool = False, pad_ratio: float = 0.0,
                centre_crop_when_no_face: bool = False, chunk_size: int = 64,
                progress: Callable[[int], None] | None = None, liveness_checker=None) -> FileEmbeddings:
    """Embed one face per file (`select` picks it), chunk by chunk so memory stays flat.

    `centre_crop_when_no_face`: for benchmark photos centred on the labelled face (LFW),
    a file where MTCNN finds no face is embedded from a centre crop instead of skipped,
    as the published LFW protocol does (1 of LFW's 7,701 pair images).
    `liveness_checker` (a recognition.pipeline.liveness.LivenessChecker) also scores each face.
    """
    kept_paths: list[str] = []
    kept: list[np.ndarray] = []
    skipped: dict[str, str] = {}
    centre_crops: list[str] = []
    liveness: list[float | None] = []
    for start in range(0, len(paths), chunk_size):
        chunk = paths[start:start + chunk_size]
        images, loaded = [], []
        for path in chunk:
            try:
                images.append(load(path))
                loaded.append(path)
            except ImageRejected as exc:
                skipped[str(path)] = exc.reason
        found = pipeline.process(images, select=select, tta=tta, pad_ratio=pad_ratio)
        scores = iter([])
        if liveness_checker is not None:
            with_face = [(image, faces[0].detection) for image, faces in zip(images, found) if faces]
            scores = iter([r[0].score for r in liveness_checker.check_many(
                [image for image, _ in with_face], [[box] for _, box in with_face])])
        for path, image, faces in zip(loaded, images, found):
            if faces:
                kept_paths.append(str(path))
                kept.append(faces[0].embedding)
                liveness.append(next(scores, None))
            elif centre_crop_when_no_face:
                crop = pipeline.crop(image, central_detection(image.shape))
                kept_paths.append(str(path))
                kept.append(pipeline.embedder.embed(crop[None], tta=tta)[0])
                centre_crops.append(str(path))
                liveness.append(None)
            else:
                skipped[str(path)] = NO_FACE
        if progress:
            progress(len(chunk))
    embeddings = np.stack(kept).astype(np.float32) if kept else np.zeros((0, EMBEDDING_DIM), np.float32)
    return FileEmbeddings(paths=kept_paths, embeddings=embeddings, skipped=skipped, centre_crops=centre_crops,
                          liveness=liveness if liveness_checker is not None else [])
