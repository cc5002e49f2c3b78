"""Evaluation protocols on labelled embeddings (plain numpy / scikit-learn, no Django).

Each protocol takes unit-length embeddings with an identity label per row and
returns a JSON-ready dict of figures plus the raw arrays the plots need. The
scores are the platform's: cosine similarity in the calibrated space of the serving
weights (recognition.pipeline.calibration), and for identify and identity-mode verify
that similarity scored for the number of templates compared, so recommended
thresholds are on the scale `identify` and `verify` apply.
"""

from evaluation.protocols.common import (FAR_TARGETS, FPIR_TARGETS, TOP_K, LabelledEmbeddings, Progress,
                                         ProtocolResult, far_key, finite)
from evaluation.protocols.identification import kfold_identification
from evaluation.protocols.open_set import (GALLERY, PROBE, STRANGER, SplitError, _dir_fpir_curve, choose_holdout,
                                           open_set_identification, open_set_split)
from evaluation.protocols.verification import all_pairs, breakdown_by_attribute, random_folds, verification

__all__ = ["FAR_TARGETS", "FPIR_TARGETS", "GALLERY", "PROBE", "STRANGER", "TOP_K", "LabelledEmbeddings", "Progress",
           "ProtocolResult", "SplitError", "_dir_fpir_curve", "all_pairs", "breakdown_by_attribute", "choose_holdout",
           "far_key", "finite", "kfold_identification", "open_set_identification", "open_set_split", "random_folds",
           "verification"]
