"""MTCNN face detection on ONNX Runtime: the numpy port of facenet-pytorch's detect_face
(``detector``, with ``resample`` and ``boxes``) and its three networks' ONNX exports (``export``).
Importing it imports neither torch nor onnxruntime."""

from recognition.pipeline.mtcnn.boxes import batched_nms, batched_nms_min, generate_boxes, nms_min, pad
from recognition.pipeline.mtcnn.detector import MtcnnDetector, MtcnnNets
from recognition.pipeline.mtcnn.export import NETS, ensure_mtcnn_onnx, load_mtcnn_models
from recognition.pipeline.mtcnn.resample import integral_images, pyramid_scales, resample_batch, resample_patches

__all__ = ["NETS", "MtcnnDetector", "MtcnnNets", "batched_nms", "batched_nms_min", "ensure_mtcnn_onnx",
           "generate_boxes", "integral_images", "load_mtcnn_models", "nms_min", "pad", "pyramid_scales",
           "resample_batch", "resample_patches"]
