"""MTCNN backends side by side on real data (a benchmark run, not a test; long on 2 cores).

    .venv/bin/python bench/mtcnn_lfw_check.py [--min-face 20 28.2] [--torch-threads 1] [--json FILE]

1. Equivalence: facenet-pytorch's MTCNN (torch) and the ONNX port, both at the default
   pyramid (min face 20 px), on the 7,701 LFW View 2 images and the 400 ORL images:
   images where they find a different number of faces, and the largest box and
   landmark differences (px) over the faces they both find.
2. LFW View 2 (evaluate_lfw's protocol: face nearest the centre, centre crop when none
   is found, 10 folds, euclidean distance) for torch MTCNN at 20 px and the ONNX port at
   each --min-face (by default 20 px and min_face_size_for(40), the pyramid the default
   quality minimum gives); the embedder is the same for all (FaceNet CASIA-WebFace, fp32
   ONNX), so only detection differs. Reports misses (images with no face) and accuracy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
MODELS_DIR = Path(os.environ.get("FACEREC_MODELS_DIR", REPO_ROOT / "var" / "models"))

from evaluation import metrics  # noqa: E402
from recognition.pipeline.detection import (  # noqa: E402
    Detection,
    FaceDetector,
    central_detection,
    crop_face,
    min_face_size_for,
    nearest_to_center,
)
from recognition.pipeline.facenet.embedder import FaceEmbedder  # noqa: E402
from recognition.pipeline.images import load_image_file  # noqa: E402
from recognition.pipeline.lfw import read_pairs, unique_images  # noqa: E402
from tests.shared_data import LFW_DIR, ORL_DIR  # noqa: E402

CHUNK = 64


def box_iou(a: Detection, b: Detection) -> float:
    w = max(0.0, min(a.box[2], b.box[2]) - max(a.box[0], b.box[0]))
    h = max(0.0, min(a.box[3], b.box[3]) - max(a.box[1], b.box[1]))
    inter = w * h
    return inter / (a.area + b.area - inter) if inter > 0 else 0.0


def compare(reference: list[list[Detection]], other: list[list[Detection]], names: list[str]) -> dict:
    """Faces matched one to one by IoU >= 0.5; count and coordinate differences."""
    different, max_box, max_mark, faces, over_1px = [], 0.0, 0.0, 0, 0
    for name, ref, got in zip(names, reference, other):
        unmatched = list(got)
        for d in ref:
            match = max(unmatched, key=lambda e: box_iou(d, e), default=None)
            if match is None or box_iou(d, match) < 0.5:
                continue
            unmatched.remove(match)
            faces += 1
            box = max(abs(a - b) for a, b in zip(d.box, match.box))
            mark = max(abs(a - b) for p, q in zip(d.landmarks, match.landmarks) for a, b in zip(p, q))
            over_1px += box > 1.0
            max_box, max_mark = max(max_box, box), max(max_mark, mark)
        if len(ref) != len(got) or unmatched:
            different.append(f"{name}: {len(ref)} vs {len(got)}")
    return {"images": len(names), "faces_compared": faces, "images_with_different_faces": len(different),
            "different": different[:20], "max_box_diff_px": max_box, "max_landmark_diff_px": max_mark,
            "faces_with_box_diff_over_1px": over_1px}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--min-face", type=float, nargs="+", default=[20.0, min_face_size_for(40.0)],
                        help="ONNX pyramid min face sizes to evaluate (default: 20, compared with torch, and "
                             "the size the 40 px quality minimum gives)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch intra-op threads (1 is far faster than 2 on a busy machine)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N LFW images (a quick look)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    pairs = read_pairs(LFW_DIR / "pairs.txt", LFW_DIR, check_exists=True)
    paths = unique_images(pairs)[: args.limit]
    detectors = {"torch@20": FaceDetector(min_face_size=20, backend="torch")}
    detectors.update({f"onnx@{m:g}": FaceDetector(min_face_size=m, backend="onnx", models_dir=MODELS_DIR)
                      for m in args.min_face})
    embedder = FaceEmbedder(models_dir=MODELS_DIR, device="cpu", backend="onnx", batch_size=32)
    found: dict[str, list[list[Detection]]] = {k: [] for k in detectors}
    seconds = dict.fromkeys(detectors, 0.0)
    embedding_of: dict[str, dict[str, np.ndarray]] = {k: {} for k in detectors}
    cache: dict[bytes, np.ndarray] = {}  # crops equal across detectors are embedded once

    for start in range(0, len(paths), CHUNK):
        chunk = paths[start:start + CHUNK]
        images = [load_image_file(p) for p in chunk]
        for key, detector in detectors.items():
            t = time.perf_counter()
            dets = detector.detect_many(images)
            seconds[key] += time.perf_counter() - t
            found[key].extend(dets)
            crops = [crop_face(im, nearest_to_center(d, im.shape) or central_detection(im.shape))
                     for im, d in zip(images, dets)]
            digests = [hashlib.sha1(c.tobytes()).digest() for c in crops]
            todo = [i for i, h in enumerate(digests) if h not in cache]
            if todo:
                for i, e in zip(todo, embedder.embed(np.stack([crops[i] for i in todo]))):
                    cache[digests[i]] = e
            for p, h in zip(chunk, digests):
                embedding_of[key][str(p)] = cache[h]
        done = start + len(chunk)
        print(f"{done}/{len(paths)} images; detection s: "
              + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()), file=sys.stderr, flush=True)

    names = [str(p.relative_to(p.parents[1])) for p in paths]
    report: dict = {"lfw_images": len(paths)}
    report["lfw_equivalence_torch20_vs_onnx20"] = (
        compare(found["torch@20"], found["onnx@20"], names) if "onnx@20" in found else None)

    orl_paths = sorted(ORL_DIR.glob("s*/*.pgm"))
    orl = [load_image_file(p) for p in orl_paths]
    orl_names = [str(p.relative_to(p.parents[1])) for p in orl_paths]
    torch20 = detectors["torch@20"]
    onnx20 = detectors.get("onnx@20") or FaceDetector(min_face_size=20, backend="onnx", models_dir=MODELS_DIR)  # loaded once
    torch_orl, onnx_orl = torch20.detect_many(orl), onnx20.detect_many(orl)
    report["orl_equivalence_torch20_vs_onnx20"] = compare(torch_orl, onnx_orl, orl_names)
    torch_orl_pad, onnx_orl_pad = torch20.detect_many(orl, pad_ratio=0.3), onnx20.detect_many(orl, pad_ratio=0.3)
    report["orl_pad0.3_equivalence_torch20_vs_onnx20"] = compare(torch_orl_pad, onnx_orl_pad, orl_names)

    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    report["lfw_view2"] = {}
    for key in detectors:
        emb = embedding_of[key]
        if len(emb) < len(unique_images(pairs)):
            continue  # --limit: no accuracy on a partial set
        emb_a = np.stack([emb[str(p.path_a)] for p in pairs])
        emb_b = np.stack([emb[str(p.path_b)] for p in pairs])
        kfold = metrics.lfw_protocol(emb_a, emb_b, labels, folds, distance="euclidean", subtract_mean=False)
        misses = [n for n, d in zip(names, found[key]) if not d]
        report["lfw_view2"][key] = {"accuracy": kfold.mean, "accuracy_std": kfold.std, "misses": len(misses),
                                    "missed": misses[:10], "detect_ms_per_image": 1000 * seconds[key] / len(paths)}

    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
