"""What names the FaceNet weights and their embeddings; no import beyond the standard library,
so the Django models (the vector column's width) can read it."""

from __future__ import annotations

MODEL_NAME = "facenet-casia-webface"
MODEL_VERSION = "casia-webface-20180408-102900"
PT_FILENAME = f"{MODEL_NAME}.pt"
SIDECAR_FILENAME = f"{MODEL_NAME}.json"
DEFAULT_SPEC = "casia-webface"
# Name of the cached file torch hub would store facenet-pytorch's VGGFace2 weights as.
VGGFACE2_FILENAME = "20180402-114759-vggface2.pt"
VGGFACE2_VERSION = "vggface2-20180402-114759"

CROP_SIZE = 160
EMBEDDING_DIM = 512
