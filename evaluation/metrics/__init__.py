"""Face verification and identification metrics (plain numpy / scikit-learn, no Django).

Score convention everywhere: a higher score means "more likely the same person"
(a similarity). A pair is accepted as "same" when ``score >= threshold``.
Distances must be negated before they are passed in (``-euclidean_distance_pairs``).
"""

from evaluation.metrics.identification import (DirAtFpir, cmc, dir_at_fpir, identification_ranks, max_per_identity,
                                               top_k_accuracy)
from evaluation.metrics.scores import cosine_similarity_pairs, euclidean_distance_pairs, l2_normalize
from evaluation.metrics.uncertainty import BootstrapCI, bootstrap_ci
from evaluation.metrics.verification import (KFoldResult, TarAtFar, auc, best_threshold_accuracy, eer,
                                             kfold_verification_accuracy, lfw_protocol, roc, tar_at_far)

__all__ = [
    "BootstrapCI",
    "DirAtFpir",
    "KFoldResult",
    "TarAtFar",
    "auc",
    "best_threshold_accuracy",
    "bootstrap_ci",
    "cmc",
    "cosine_similarity_pairs",
    "dir_at_fpir",
    "eer",
    "euclidean_distance_pairs",
    "identification_ranks",
    "kfold_verification_accuracy",
    "l2_normalize",
    "lfw_protocol",
    "max_per_identity",
    "roc",
    "tar_at_far",
    "top_k_accuracy",
]
