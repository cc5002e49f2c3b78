"""`make weights`: prepare every model offline into a models folder, each cached with its sha256.

FaceNet converted from the shipped TensorFlow graph, its ONNX export and int8 model (calibrated
on the LFW folder given, skipped with a warning without it), MTCNN's ONNX exports, and the
liveness (MiniFASNet) weights installed from the source folder given, with their ONNX exports.
Whatever is already prepared is left alone. The folders are the caller's (the Makefile passes
../shared's); no module of the pipeline imports this one.

    python -m recognition.pipeline.prepare_weights --models-dir var/models \\
        --liveness-source ../shared/models/antispoof --lfw-dir ../shared/data/lfw
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recognition.pipeline.facenet.export import ensure_onnx_export
from recognition.pipeline.facenet.int8 import CalibrationDataMissing, ensure_int8_export
from recognition.pipeline.facenet.loading import ensure_converted_weights
from recognition.pipeline.liveness.install import prepare_liveness_weights
from recognition.pipeline.liveness.specs import LivenessSourceMissing
from recognition.pipeline.mtcnn.export import ensure_mtcnn_onnx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Prepare FaceNet, MTCNN and liveness (MiniFASNet) weights offline, and their ONNX exports."
    )
    parser.add_argument("--models-dir", type=Path, required=True, help="where the prepared weights go")
    parser.add_argument("--no-onnx", action="store_true", help="only convert the torch weights")
    parser.add_argument("--liveness-source", type=Path, default=None,
                        help="folder with the MiniFASNet .pth files (e.g. ../shared/models/antispoof)")
    parser.add_argument("--lfw-dir", type=Path, default=None,
                        help="LFW folder with its pairs files, to calibrate the int8 embedder (e.g. ../shared/data/lfw)")
    args = parser.parse_args(argv)
    models_dir: Path = args.models_dir

    weights = ensure_converted_weights(models_dir)
    print(f"weights {weights.path} sha256={weights.sha256} version={weights.version}")
    if not args.no_onnx:
        onnx_file = ensure_onnx_export(models_dir)
        print(f"onnx    {onnx_file.path} sha256={onnx_file.sha256} weights_sha256={onnx_file.weights_sha256}")
        for mtcnn_file in ensure_mtcnn_onnx(models_dir).values():
            print(f"mtcnn   {mtcnn_file.path} sha256={mtcnn_file.sha256} source_sha256={mtcnn_file.source_sha256}")
        try:  # calibrated on LFW faces: an image built without ../shared/data goes without
            int8 = ensure_int8_export(models_dir, lfw_dir=args.lfw_dir)
            print(f"int8    {int8.path} sha256={int8.sha256} fp32_onnx_sha256={int8.fp32.sha256}")
        except CalibrationDataMissing as exc:
            print(f"warning: int8 embedder not prepared: {exc}", file=sys.stderr)

    try:
        antispoof = prepare_liveness_weights(models_dir, args.liveness_source, export_onnx=not args.no_onnx)
    except LivenessSourceMissing as exc:  # e.g. an image built without ../shared: run without liveness
        print(f"warning: liveness weights not installed: {exc}", file=sys.stderr)
    else:
        print(f"liveness {antispoof} (MiniFASNet V2 + V1SE, sha256 verified)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
