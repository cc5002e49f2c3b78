"""Writes of the recognition side, by job: templates, training, artifacts, thresholds, matching.

Callers import from here (`from recognition.services import deactivate_templates`); reads are in
recognition.selectors (the few re-exported here are the names other apps used from services).
"""

from recognition.selectors import Gallery, current_model_version, possible_duplicate
from recognition.services.artifacts import delete_superseded_artifacts, scrub_identity_from_classifiers
from recognition.services.matching import (
    Candidate,
    IdentifiedFace,
    IdentifyResult,
    VerifyResult,
    check_liveness,
    compare_with_identity,
    current_gallery,
    decode_probe,
    failed_liveness,
    identify,
    identify_embedding,
    identify_faces,
    liveness_policy,
    record_identify,
    record_match_scores,
    record_verify_identity,
    verify_identity,
    verify_images,
)
from recognition.services.templates import (
    activate_templates,
    deactivate_templates,
    delete_recognition_data,
    embed_face,
    read_photo_faces,
    reembed_batch,
    store_embedding,
)
from recognition.services.thresholds import set_threshold
from recognition.services.tracks import Decision, decide_track
from recognition.services.training import request_retrain, request_retrain_now, retrain

__all__ = [
    "Candidate", "Decision", "Gallery", "IdentifiedFace", "IdentifyResult", "VerifyResult", "activate_templates",
    "check_liveness", "compare_with_identity", "current_gallery", "current_model_version", "deactivate_templates",
    "decide_track", "decode_probe", "delete_recognition_data", "delete_superseded_artifacts", "embed_face",
    "failed_liveness", "identify", "identify_embedding", "identify_faces", "liveness_policy", "possible_duplicate",
    "read_photo_faces", "record_identify", "record_match_scores", "record_verify_identity", "reembed_batch",
    "request_retrain", "request_retrain_now", "retrain", "scrub_identity_from_classifiers", "set_threshold",
    "store_embedding", "verify_identity", "verify_images",
]
