"""Speed of the face pipeline, printed as a table (a benchmark, not a test).

    .venv/bin/python bench/pipeline_bench.py [--images 64] [--device cpu|cuda]

Measures MTCNN ms per image (250x250 LFW photos and 640x480 frames), embedding
faces/s at batch 1 and 32 for each backend, and end-to-end images/s of the
platform's pipeline (batched detection, batched embedding, default backend)
against a naive baseline doing what the seed did: one MTCNN call and one eager
PyTorch forward pass per image.
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

from recognition.pipeline.detection import FaceDetector, crop_face, nearest_to_center  # noqa: E402
from recognition.pipeline.embedding import FaceEmbedder  # noqa: E402
from recognition.pipeline.faces import FacePipeline  # noqa: E402
from recognition.pipeline.images import load_image_file  # noqa: E402

LFW = Path(os.environ.get("FACEREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")) / "lfw" / "lfw-deepfunneled"


def lfw_images(n: int) -> list[np.ndarray]:
    paths = sorted(LFW.glob("*/*.jpg"))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64, help="LFW photos used for the end-to-end figures")
    parser.add_argument("--device", default=os.environ.get("FACEREC_DEVICE", "cpu"), choices=["cpu", "cuda"])
    parser.add_argument("--models-dir", type=Path, default=Path(os.environ.get("FACEREC_MODELS_DIR", REPO_ROOT / "var" / "models")))
    args = parser.parse_args()

    import torch

    images = lfw_images(args.images)
    detector = FaceDetector(device=args.device)
    detector.detect(images[0])  # load the networks outside the timings
    rows: list[tuple[str, str]] = []

    sample = images[:20]
    t = timed(lambda: [detector.detect(im) for im in sample])
    rows.append(("MTCNN, 250x250, one image per call", f"{1000 * t / len(sample):.1f} ms/image"))
    frames = [frame_640x480(im) for im in sample]
    t = timed(lambda: [detector.detect(f) for f in frames])
    rows.append(("MTCNN, 640x480, one image per call", f"{1000 * t / len(frames):.1f} ms/image"))
    t = timed(lambda: detector.detect_many(sample))
    rows.append(("MTCNN, 250x250, batched", f"{1000 * t / len(sample):.1f} ms/image"))

    crops = np.stack([crop_face(im, nearest_to_center(d, im.shape))
                      for im, d in zip(images, detector.detect_many(images)) if d])
    batch32 = np.concatenate([crops] * (1 + 64 // len(crops)))[:64]
    backends = ["torch", "onnx"] if args.device == "cpu" else ["torch"]
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
    t_pipe = timed(lambda: pipeline.process(images, select="center"))

    naive_model = embedders["torch"]._torch_model if args.device == "cpu" else None
    if naive_model is None:
        from recognition.pipeline.weights import load_facenet
        naive_model, _ = load_facenet("casia-webface", args.models_dir, args.device)

    def naive():
        # The seed's loop: detect, crop, one forward pass, per image, eager PyTorch fp32.
        for im in images:
            dets = detector.detect(im)
            if not dets:
                continue
            crop = crop_face(im, nearest_to_center(dets, im.shape))
            x = torch.from_numpy((crop.astype(np.float32) - 127.5) / 128).permute(2, 0, 1)[None].to(args.device)
            with torch.no_grad():
                naive_model(x)

    t_naive = timed(naive)
    rows.append((f"end to end, platform pipeline ({default.backend}, batched)", f"{len(images) / t_pipe:.1f} images/s"))
    rows.append(("end to end, naive per-image baseline (torch eager)", f"{len(images) / t_naive:.1f} images/s"))
    rows.append(("speed-up, platform / naive", f"{t_naive / t_pipe:.2f}x"))

    print(f"\npipeline benchmark: device={args.device}, torch threads={torch.get_num_threads()}, "
          f"cpus={os.cpu_count()}, {len(images)} LFW images\n")
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
