"""fp32 vs int8 FaceNet on CPU: speed, agreement and LFW View 2 accuracy (a benchmark, not a test).

    .venv/bin/python bench/int8_bench.py [--faces 300] [--lfw] [--crops-cache FILE.npy] [--json FILE]

Crops are LFW View 2 pair images cut as `manage.py evaluate_lfw` cuts them: MTCNN, the
face nearest the image centre, margin 32, 160 px, the centre crop where no face is found.
Without --lfw, --faces images evenly spread over the 7,701 are used; with --lfw all of
them. Detection dominates on 2 cores, so --crops-cache keeps the crops in a .npy file
(and their paths in FILE.paths.txt) for the next run.

- faces/s: FaceEmbedder.embed (standardisation and normalisation included) with
  batch_size 1 and 32; rounds alternate between the backends so a busy machine slows
  both alike, and the median round is reported.
- cosine: each crop's int8 embedding against its fp32 embedding.
- --lfw: 10-fold View 2 accuracy as evaluate_lfw computes it, plain (euclidean) and
  with --tta --subtract-mean (cosine), for each backend.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from evaluation import metrics  # noqa: E402
from recognition.pipeline.detection import FaceDetector, central_detection, crop_face, nearest_to_center  # noqa: E402
from recognition.pipeline.facenet.embedder import FaceEmbedder  # noqa: E402
from recognition.pipeline.facenet.preprocessing import l2_normalise  # noqa: E402
from recognition.pipeline.images import load_image_file  # noqa: E402
from recognition.pipeline.lfw import read_pairs, unique_images  # noqa: E402
from tests.shared_data import LFW_DIR  # noqa: E402

BACKENDS = ("onnx", "onnx-int8")  # the first is the reference the others are compared with
LABELS = {"onnx": "fp32 (onnx)", "onnx-int8": "int8 (onnx-int8)"}


def detect_crops(paths: list[Path], models_dir: Path, log=print) -> np.ndarray:
    detector = FaceDetector(device="cpu", min_face_size=20, models_dir=models_dir)
    crops = np.zeros((len(paths), 160, 160, 3), np.uint8)
    started = time.perf_counter()
    for start in range(0, len(paths), 64):
        images = [load_image_file(p) for p in paths[start:start + 64]]
        for k, (image, found) in enumerate(zip(images, detector.detect_many(images))):
            face = nearest_to_center(found, image.shape) or central_detection(image.shape)
            crops[start + k] = crop_face(image, face, size=160, margin=32)
        log(f"  cropped {start + len(images)}/{len(paths)} ({time.perf_counter() - started:.0f}s)")
    return crops


def load_crops(paths: list[Path], cache: Path | None, models_dir: Path) -> np.ndarray:
    listing = cache.with_suffix(".paths.txt") if cache else None
    names = [str(p) for p in paths]
    if cache and cache.is_file() and listing.is_file():
        cached = listing.read_text().split("\n")[:-1]
        if set(names) <= set(cached):
            index = {p: i for i, p in enumerate(cached)}
            return np.load(cache, mmap_mode="r")[[index[p] for p in names]]
    crops = detect_crops(paths, models_dir, log=lambda m: print(m, file=sys.stderr, flush=True))
    if cache:
        np.save(cache, crops)
        listing.write_text("\n".join(names) + "\n")
    return crops


def embed_all(embedder: FaceEmbedder, crops: np.ndarray, *, mirrored: bool = False, chunk: int = 512
              ) -> np.ndarray:
    """Embeddings of all crops (or of their mirror images), a chunk at a time: float32 NCHW
    copies of all 7,701 crops at once would take 2.4 GB."""
    parts = []
    for start in range(0, len(crops), chunk):
        part = crops[start:start + chunk]
        parts.append(embedder.embed(np.ascontiguousarray(part[:, :, ::-1] if mirrored else part)))
    return np.concatenate(parts)


def faces_per_second(embedders: dict[str, dict[int, FaceEmbedder]], crops: np.ndarray, batch: int,
                     rounds: int) -> dict[str, float]:
    sample = np.ascontiguousarray(crops[: max(32, batch)])
    times: dict[str, list[float]] = {name: [] for name in embedders}
    for name, by_batch in embedders.items():
        by_batch[batch].embed(sample[:batch])  # warm up: loading and the first run's allocations
    for _ in range(rounds):
        for name, by_batch in embedders.items():
            started = time.perf_counter()
            by_batch[batch].embed(sample)
            times[name].append(time.perf_counter() - started)
    return {name: len(sample) / statistics.median(t) for name, t in times.items()}


def pair_indices(pairs, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([index[str(p.path_a)] for p in pairs]), np.array([index[str(p.path_b)] for p in pairs]))


def lfw_accuracy(plain: np.ndarray, tta: np.ndarray, pairs, index: dict[str, int]) -> dict[str, float]:
    """Mean View 2 accuracy, plain and with tta + subtract-mean, as evaluate_lfw figures it."""
    a, b = pair_indices(pairs, index)
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    out = {}
    for key, emb, distance, subtract_mean in (("plain", plain, "euclidean", False),
                                              ("tta_subtract_mean", tta, "cosine", True)):
        result = metrics.lfw_protocol(emb[a], emb[b], labels, folds, distance=distance,
                                      subtract_mean=subtract_mean)
        out[key], out[f"{key}_std"] = result.mean, result.std
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, default=300, help="crops for speed and cosine without --lfw")
    parser.add_argument("--lfw", action="store_true", help="also LFW View 2 accuracy (all 7,701 images)")
    parser.add_argument("--lfw-dir", type=Path, default=LFW_DIR)
    parser.add_argument("--crops-cache", type=Path, default=None, help=".npy file to keep the crops in")
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "var" / "models")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per backend and batch size")
    parser.add_argument("--json", dest="json_out", type=Path, default=None)
    args = parser.parse_args(argv)

    pairs = read_pairs(args.lfw_dir / "pairs.txt", args.lfw_dir, check_exists=True)
    images = unique_images(pairs)
    if not args.lfw:
        step = max(1, len(images) // args.faces)
        images = images[::step][: args.faces]
    crops = load_crops(images, args.crops_cache, args.models_dir)
    index = {str(p): i for i, p in enumerate(images)}

    embedders = {name: {b: FaceEmbedder(models_dir=args.models_dir, device="cpu", backend=name, batch_size=b,
                                        calibration_dir=args.lfw_dir) for b in (1, 32)}
                 for name in BACKENDS}
    speed = {b: faces_per_second(embedders, crops, b, args.rounds) for b in (1, 32)}

    plain = {name: embed_all(embedders[name][32], crops) for name in BACKENDS}
    rows = []
    for name in BACKENDS:
        cos = np.einsum("ij,ij->i", plain[name], plain[BACKENDS[0]])
        row = {"backend": name, "faces_per_s_b1": speed[1][name], "faces_per_s_b32": speed[32][name],
               "speedup_b1": speed[1][name] / speed[1][BACKENDS[0]],
               "speedup_b32": speed[32][name] / speed[32][BACKENDS[0]],
               "cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()), "crops": len(crops)}
        if args.lfw:
            # embed(tta=True) is exactly this (tested): saves embedding the crops a third time.
            mirrored = embed_all(embedders[name][32], crops, mirrored=True)
            tta = l2_normalise(plain[name] + mirrored)
            row.update({f"lfw_{k}": v for k, v in lfw_accuracy(plain[name], tta, pairs, index).items()})
            # How far a pair's similarity moves: what score thresholds calibrated on fp32 would see.
            a, b = pair_indices(pairs, index)
            ref = plain[BACKENDS[0]]
            moved = np.abs(np.einsum("ij,ij->i", plain[name][a], plain[name][b]) - np.einsum("ij,ij->i", ref[a], ref[b]))
            row.update(pair_similarity_change_max=float(moved.max()), pair_similarity_change_mean=float(moved.mean()))
        rows.append(row)

    header = "| backend | faces/s b1 | faces/s b32 | speed-up b1 / b32 | cosine to fp32 min / mean |"
    rule = "|---|---:|---:|---:|---:|"
    if args.lfw:
        header += " LFW View 2 plain | LFW View 2 tta+subtract-mean |"
        rule += "---:|---:|"
    print(f"{len(crops)} LFW crops, {os.cpu_count()} CPU cores\n\n{header}\n{rule}")
    for r in rows:
        line = (f"| {LABELS[r['backend']]} | {r['faces_per_s_b1']:.1f} | {r['faces_per_s_b32']:.1f} | "
                f"{r['speedup_b1']:.2f}x / {r['speedup_b32']:.2f}x | {r['cosine_min']:.4f} / {r['cosine_mean']:.4f} |")
        if args.lfw:
            line += (f" {100 * r['lfw_plain']:.2f}% +- {100 * r['lfw_plain_std']:.2f} |"
                     f" {100 * r['lfw_tta_subtract_mean']:.2f}% +- {100 * r['lfw_tta_subtract_mean_std']:.2f} |")
        print(line)
    if args.lfw:
        ref, int8 = rows[0], rows[-1]
        loss = max(ref[f"lfw_{k}"] - int8[f"lfw_{k}"] for k in ("plain", "tta_subtract_mean"))
        met = int8["speedup_b32"] >= 1.5 and loss <= 0.001
        print(f"\nView 2 pair cosine similarity, int8 - fp32: max |change| {int8['pair_similarity_change_max']:.4f}, "
              f"mean {int8['pair_similarity_change_mean']:.4f}")
        print(f"int8 as the CPU default (>= 1.5x faster at batch 32, <= 0.1 pt View 2 loss): "
              f"{'met' if met else 'not met'} ({int8['speedup_b32']:.2f}x, loss {100 * loss:+.2f} pt)")
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
