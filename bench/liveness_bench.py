"""Liveness on bona fide photos: acceptance rate per data set and ms per face (a benchmark, not a test).

    .venv/bin/python bench/liveness_bench.py [--lfw 3000] [--threshold T] [--json FILE]

Every photo of LFW (a seeded, evenly spread sample of --lfw photos) and of ORL (all 400)
is a real face photographed once: none is a presentation attack, so every one that the
liveness check refuses is a bona fide rejection. For each set it prints the acceptance
rate at the threshold (default: the platform's, recognition.pipeline.liveness.DEFAULT_THRESHOLD) and
the score percentiles a threshold would be chosen from; then the three shipped samples
(one live face, two attacks) and the time the two networks take per face (MTCNN boxes,
crops included, detection excluded), one face at a time and in batches of 8.

No presentation-attack data set is shipped: the attack side rests on the two samples.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from recognition.pipeline.detection import FaceDetector, nearest_to_center  # noqa: E402
from recognition.pipeline.images import load_image_file  # noqa: E402
from recognition.pipeline.liveness import DEFAULT_THRESHOLD, LivenessChecker  # noqa: E402

DATA = Path(os.environ.get("FACEREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
SAMPLES = REPO_ROOT.parent / "shared" / "models" / "antispoof" / "samples"  # the reference's attack photos
SWEEP = (0.005, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5)  # thresholds the acceptance is also printed for
SAMPLES = {"image_T1.jpg": "live", "image_F1.jpg": "attack", "image_F2.jpg": "attack"}


def lfw_paths(n: int) -> list[Path]:
    paths = sorted((DATA / "lfw" / "lfw-deepfunneled").glob("*/*.jpg"))
    step = max(1, len(paths) // n)
    return paths[::step][:n]


def orl_paths() -> list[Path]:
    return sorted((DATA / "att_faces").glob("s*/*.pgm"))


def score_set(paths: list[Path], detector: FaceDetector, checker: LivenessChecker) -> tuple[np.ndarray, int]:
    """Liveness score of the face nearest each photo's centre; photos without a face are counted apart."""
    scores, missed = [], 0
    for start in range(0, len(paths), 32):
        images = [load_image_file(p) for p in paths[start:start + 32]]
        detections = detector.detect_many(images)
        for image, found in zip(images, detections):
            face = nearest_to_center(found, image.shape)
            if face is None:
                missed += 1
                continue
            scores.append(checker.check(image, [face])[0].score)
    return np.array(scores), missed


def per_face_ms(images: list[np.ndarray], boxes: list, checker: LivenessChecker, batch: int, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for k in range(0, len(images), batch):
            checker.check_many(images[k:k + batch], [[b] for b in boxes[k:k + batch]])
        best = min(best, (time.perf_counter() - started) * 1000 / len(images))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", type=int, default=3000, help="LFW photos (an even spread over the names)")
    parser.add_argument("--threshold", type=float, default=None, help="default: the platform's default")
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "var" / "models")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold

    detector = FaceDetector(models_dir=args.models_dir)
    checker = LivenessChecker(models_dir=args.models_dir, threshold=threshold)
    rows = []
    for name, paths in (("LFW", lfw_paths(args.lfw)), ("ORL", orl_paths())):
        started = time.perf_counter()
        scores, missed = score_set(paths, detector, checker)
        pct = np.percentile(scores, [0.5, 1, 2, 5, 50])
        rows.append({"set": name, "photos": len(paths), "faces": int(len(scores)), "no_face": missed,
                     "accepted": float(np.mean(scores >= threshold)),
                     "accepted_at": {str(t): float(np.mean(scores >= t)) for t in SWEEP}, "p0_5": pct[0], "p1": pct[1], "p2": pct[2],
                     "p5": pct[3], "median": pct[4], "seconds": time.perf_counter() - started})

    samples = []
    for file, truth in SAMPLES.items():
        image = load_image_file(SAMPLES / file)
        face = nearest_to_center(detector.detect(image), image.shape)
        result = checker.check(image, [face])[0]
        samples.append({"sample": file, "truth": truth, "score": result.score, "is_live": result.is_live})

    timing_images = [load_image_file(p) for p in lfw_paths(64)]
    timing_boxes = [nearest_to_center(d, i.shape) for i, d in zip(timing_images, detector.detect_many(timing_images))]
    kept = [(i, b) for i, b in zip(timing_images, timing_boxes) if b is not None]
    images, boxes = [i for i, _ in kept], [b for _, b in kept]
    per_face_ms(images[:8], boxes[:8], checker, 8, rounds=1)  # warm-up: sessions and threads
    timing = {"ms_per_face_batch1": per_face_ms(images, boxes, checker, 1),
              "ms_per_face_batch8": per_face_ms(images, boxes, checker, 8)}

    print(f"liveness {checker.model_version}, threshold {threshold:g}, {os.cpu_count()} CPUs\n")
    print("| set | photos | faces | bona fide accepted | score p0.5 | p1 | p2 | p5 | median |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['set']} | {r['photos']} | {r['faces']} | {100 * r['accepted']:.2f}% | {r['p0_5']:.3f} "
              f"| {r['p1']:.3f} | {r['p2']:.3f} | {r['p5']:.3f} | {r['median']:.3f} |")
    print("\nbona fide accepted at other thresholds:\n")
    print("| set | " + " | ".join(f"{t:g}" for t in SWEEP) + " |")
    print("|---|" + "---:|" * len(SWEEP))
    for r in rows:
        print(f"| {r['set']} | " + " | ".join(f"{100 * r['accepted_at'][str(t)]:.1f}%" for t in SWEEP) + " |")
    print("\n| sample | truth | score | answered |")
    print("|---|---|---:|---|")
    for s in samples:
        print(f"| {s['sample']} | {s['truth']} | {s['score']:.4f} | {'live' if s['is_live'] else 'attack'} |")
    print(f"\nms per face (two networks, crops included): {timing['ms_per_face_batch1']:.1f} one at a time, "
          f"{timing['ms_per_face_batch8']:.1f} in batches of 8")
    if args.json:
        args.json.write_text(json.dumps({"threshold": threshold, "sets": rows, "samples": samples, **timing},
                                        indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
