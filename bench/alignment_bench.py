"""Compare crop margin / alignment variants on LFW View 1 (a benchmark, not a test).

    .venv/bin/python bench/alignment_bench.py [--pairs pairsDevTest.txt]

Detects once per image (MTCNN, face nearest the centre), then crops with each
variant, embeds (onnxruntime) and prints 10-fold accuracy (threshold chosen on
the other folds) and AUC for each, plain and with flip TTA. Variants:
MTCNN box with margins 20/32/44 px at 160 px; a 182-px crop (margin 44) centre-cut
to 160 (the davidsandberg training crop); and a similarity-transform alignment
on the eye landmarks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from evaluation import metrics  # noqa: E402
from recognition.pipeline.detection import FaceDetector, crop_face, nearest_to_center  # noqa: E402
from recognition.pipeline.facenet.embedder import FaceEmbedder  # noqa: E402
from recognition.pipeline.images import load_image_file  # noqa: E402
from recognition.pipeline.lfw import read_pairs, unique_images  # noqa: E402
from tests.shared_data import LFW_DIR  # noqa: E402


def eye_aligned(image: np.ndarray, det, size: int = 160, eye_dist_frac: float = 0.36,
                eye_y_frac: float = 0.40) -> np.ndarray:
    """Rotate/scale so the eyes are level, `eye_dist_frac` of the crop apart, at `eye_y_frac` height."""
    (lx, ly), (rx, ry) = det.landmarks[0], det.landmarks[1]
    angle = np.degrees(np.arctan2(ry - ly, rx - lx))
    scale = eye_dist_frac * size / max(np.hypot(rx - lx, ry - ly), 1e-3)
    cx, cy = (lx + rx) / 2, (ly + ry) / 2
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[0, 2] += size / 2 - cx
    m[1, 2] += eye_y_frac * size - cy
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


VARIANTS = {
    "box margin 20": lambda im, d: crop_face(im, d, size=160, margin=20),
    "box margin 32": lambda im, d: crop_face(im, d, size=160, margin=32),
    "box margin 44": lambda im, d: crop_face(im, d, size=160, margin=44),
    "182 px margin 44, centre 160": lambda im, d: crop_face(im, d, size=182, margin=44)[11:171, 11:171],
    "eye-aligned similarity": eye_aligned,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, default=LFW_DIR / "pairsDevTest.txt")
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "var" / "models")
    args = parser.parse_args()

    pairs = read_pairs(args.pairs, LFW_DIR, check_exists=True)
    paths = unique_images(pairs)
    detector = FaceDetector(models_dir=args.models_dir)
    embedder = FaceEmbedder(models_dir=args.models_dir, device="cpu", backend="onnx")
    started = time.monotonic()
    images, detections = {}, {}
    for start in range(0, len(paths), 64):
        chunk = paths[start:start + 64]
        loaded = [load_image_file(p) for p in chunk]
        for path, image, dets in zip(chunk, loaded, detector.detect_many(loaded)):
            images[path], detections[path] = image, nearest_to_center(dets, image.shape)
    missed = [p for p, d in detections.items() if d is None]
    print(f"{len(pairs)} pairs, {len(paths)} images, MTCNN missed {len(missed)} "
          f"({time.monotonic() - started:.0f}s)")
    usable = [p for p in pairs if detections[p.path_a] is not None and detections[p.path_b] is not None]
    labels = np.array([p.same for p in usable])
    folds = np.arange(len(usable)) % 10
    print("\n| variant | accuracy (10-fold) | accuracy, flip TTA | AUC |\n|---|---|---|---|")
    for name, crop in VARIANTS.items():
        index = {p: i for i, p in enumerate(paths) if detections[p] is not None}
        crops = np.stack([crop(images[p], detections[p]) for p in index])
        row = []
        for tta in (False, True):
            emb = embedder.embed(crops, tta=tta)
            a = emb[[index[p.path_a] for p in usable]]
            b = emb[[index[p.path_b] for p in usable]]
            result = metrics.lfw_protocol(a, b, labels, folds)
            row.append(f"{100 * result.mean:.2f}% +- {100 * result.std:.2f}")
            if not tta:
                auc = metrics.auc(metrics.cosine_similarity_pairs(a, b), labels)
        print(f"| {name} | {row[0]} | {row[1]} | {auc:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
