"""Speed of the face pipeline, printed as a table (a benchmark, not a test).

    .venv/bin/python bench/pipeline_bench.py [--images 64] [--device cpu|cuda]

Measures MTCNN ms per image (250x250 LFW photos and 640x480 frames, one image per
call and batched) for facenet-pytorch's torch MTCNN and the ONNX port side by side,
the latter at the default pyramid (min face 20 px, like for like) and at the
pyramid the quality minimum allows (--min-face); embedding faces/s at batch 1 and
32 for each backend (int8 included); and end-to-end images/s of the platform's pipeline (batched
detection, batched embedding, default backends) against a naive baseline doing
what the seed did: one torch MTCNN call and one eager PyTorch forward pass per image.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from recognition.pipeline.detection import (  # noqa: E402
    FaceDetector,
    crop_face,
    min_face_size_for,
    nearest_to_center,
)
from recognition.pipeline.facenet.embedder import FaceEmbedder  # noqa: E402
from recognition.pipeline.faces import FacePipeline  # noqa: E402
from recognition.pipeline.images import load_image_file  # noqa: E402
from tests.shared_data import LFW_IMAGES  # noqa: E402


def lfw_images(n: int) -> list[np.ndarray]:
    paths = sorted(LFW_IMAGES.glob("*/*.jpg"))
    step = max(1, len(paths) // n)
    return [load_image_file(p) for p in paths[::step][:n]]


def frame_640x480(face_photo: np.ndarray) -> np.ndarray:
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[115:365, 195:445] = face_photo
    return frame


def timed(fn, repeat: int = 1) -> float:
    """Best-of-`repeat` wall time of fn() in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def detection_table(images: list[np.ndarray], device: str, min_face: float, repeat: int, models_dir: Path
                    ) -> list[str]:
    """MTCNN ms/image, torch vs ONNX, as markdown lines. The detectors take turns within each
    repetition, so a busy machine slows them alike and the ratios stay fair."""
    detectors = {"torch, min face 20": FaceDetector(device=device, backend="torch")}
    if device == "cpu":
        detectors["onnx, min face 20"] = FaceDetector(backend="onnx", models_dir=models_dir)
        detectors[f"onnx, min face {min_face:g}"] = FaceDetector(backend="onnx", min_face_size=min_face,
                                                                models_dir=models_dir)
    frames = [frame_640x480(im) for im in images]
    cases = {
        "250x250, one image per call": lambda d: [d.detect(im) for im in images],
        "250x250, batched": lambda d: d.detect_many(images),
        "640x480, one image per call": lambda d: [d.detect(f) for f in frames],
        "640x480, batched": lambda d: d.detect_many(frames),
    }
    for d in detectors.values():
        d.detect_many([images[0], frames[0]])  # load the networks outside the timings
    best = {(case, name): float("inf") for case in cases for name in detectors}
    for _ in range(repeat):
        for case, run in cases.items():
            for name, d in detectors.items():
                best[case, name] = min(best[case, name], timed(lambda run=run, d=d: run(d)))
    names = list(detectors)
    lines = [f"| MTCNN ms/image ({len(images)} images) | " + " | ".join(names) + " |",
             "|---" * (len(names) + 1) + "|"]
    for case in cases:
        old = best[case, names[0]]
        cells = [f"{1000 * best[case, n] / len(images):.1f}" + ("" if n == names[0] else f" ({old / best[case, n]:.1f}x)")
                 for n in names]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64, help="LFW photos used for the end-to-end figures")
    parser.add_argument("--device", default=os.environ.get("FACEREC_DEVICE", "cpu"), choices=["cpu", "cuda"])
    parser.add_argument("--models-dir", type=Path, default=Path(os.environ.get("FACEREC_MODELS_DIR", REPO_ROOT / "var" / "models")))
    parser.add_argument("--min-face", type=float, default=min_face_size_for(40.0),
                        help="the platform's MTCNN pyramid min face size (default: from the 40 px quality minimum)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs for the MTCNN and end-to-end figures")
    args = parser.parse_args()

    import torch

    images = lfw_images(args.images)
    detection_lines = detection_table(images[:20], args.device, args.min_face, args.repeat, args.models_dir)
    # The platform's detector (ONNX on CPU, at the configured pyramid); the seed's was torch MTCNN.
    detector = FaceDetector(device=args.device, min_face_size=args.min_face, models_dir=args.models_dir)
    seed_detector = FaceDetector(device=args.device, backend="torch")
    detector.detect(images[0])  # load the networks outside the timings
    seed_detector.detect(images[0])
    rows: list[tuple[str, str]] = []

    crops = np.stack([crop_face(im, nearest_to_center(d, im.shape))
                      for im, d in zip(images, detector.detect_many(images)) if d])
    batch32 = np.concatenate([crops] * (1 + 64 // len(crops)))[:64]
    backends = ["torch", "onnx", "onnx-int8"] if args.device == "cpu" else ["torch"]
    embedders = {}
    for backend in backends:
        emb = FaceEmbedder(models_dir=args.models_dir, device=args.device, backend=backend, batch_size=32)
        emb.embed(batch32[:2])  # load + warm up
        embedders[backend] = emb
        t1 = timed(lambda: [emb.embed(batch32[i:i + 1]) for i in range(16)], repeat=2)
        rows.append((f"embedding, {backend}, batch 1", f"{16 / t1:.1f} faces/s"))
        t32 = timed(lambda: emb.embed(batch32), repeat=2)
        rows.append((f"embedding, {backend}, batch 32", f"{len(batch32) / t32:.1f} faces/s"))
        if args.device == "cuda":
            big = np.concatenate([batch32] * 8)
            emb_big = FaceEmbedder(models_dir=args.models_dir, device="cuda", backend="torch", batch_size=256)
            emb_big.embed(big[:2])
            tb = timed(lambda: emb_big.embed(big), repeat=3)
            rows.append(("embedding, torch fp16, batch 256", f"{len(big) / tb:.1f} faces/s"))

    default = FaceEmbedder(models_dir=args.models_dir, device=args.device, backend="auto", batch_size=32)
    default.embed(batch32[:2])
    pipeline = FacePipeline(detector, default)
    t_pipe = timed(lambda: pipeline.process(images, select="center"), repeat=args.repeat)
    t_int8 = None
    if "onnx-int8" in embedders:  # the optional int8 embedder (FACEREC_EMBEDDING_BACKEND=onnx-int8)
        int8_pipeline = FacePipeline(detector, embedders["onnx-int8"])
        t_int8 = timed(lambda: int8_pipeline.process(images, select="center"), repeat=args.repeat)

    naive_model = embedders["torch"]._torch_model if args.device == "cpu" else None
    if naive_model is None:
        from recognition.pipeline.facenet.loading import load_facenet
        naive_model, _ = load_facenet("casia-webface", args.models_dir, args.device)

    def naive():
        # The seed's loop: detect, crop, one forward pass, per image, eager PyTorch fp32.
        for im in images:
            dets = seed_detector.detect(im)
            if not dets:
                continue
            crop = crop_face(im, nearest_to_center(dets, im.shape))
            x = torch.from_numpy((crop.astype(np.float32) - 127.5) / 128).permute(2, 0, 1)[None].to(args.device)
            with torch.no_grad():
                naive_model(x)

    t_naive = timed(naive, repeat=args.repeat)
    rows.append((f"end to end, platform pipeline ({default.backend}, batched)", f"{len(images) / t_pipe:.1f} images/s"))
    if t_int8 is not None:
        rows.append(("end to end, platform pipeline (onnx-int8, batched)", f"{len(images) / t_int8:.1f} images/s"))
    rows.append(("end to end, naive per-image baseline (torch eager)", f"{len(images) / t_naive:.1f} images/s"))
    rows.append(("speed-up, platform / naive", f"{t_naive / t_pipe:.2f}x"))
    if t_int8 is not None:
        rows.append(("speed-up, platform with onnx-int8 / naive", f"{t_naive / t_int8:.2f}x"))

    print(f"\npipeline benchmark: device={args.device}, torch threads={torch.get_num_threads()}, "
          f"cpus={os.cpu_count()}, {len(images)} LFW images, platform MTCNN min face {args.min_face:g} px\n")
    print("\n".join(detection_lines) + "\n")
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
