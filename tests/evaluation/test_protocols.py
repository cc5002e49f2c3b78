"""Evaluation protocols on small hand-made embeddings, checked against hand-computed figures."""

import numpy as np
import pytest

from evaluation import metrics, protocols
from evaluation.protocols import LabelledEmbeddings
from recognition.pipeline.classifier import FaceClassifier


def unit(*rows):
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clusters(n_ids=6, per_id=5, dim=16, noise=0.15, seed=0, prefix="p"):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_ids, dim))
    x = np.concatenate([c + noise * rng.normal(size=(per_id, dim)) for c in centres])
    labels = np.repeat([f"{prefix}{i}" for i in range(n_ids)], per_id)
    return LabelledEmbeddings(unit(*x), labels, [f"item {i}" for i in range(len(x))])


def test_all_pairs_lists_every_genuine_and_impostor_pair_with_its_cosine_score():
    data = LabelledEmbeddings(unit([1, 0], [0.6, 0.8], [0, 1], [-1, 0]), ["a", "a", "b", "b"], list("wxyz"))
    a, b, scores, same = protocols.all_pairs(data)
    pairs = {(int(i), int(j)): (round(float(s), 6), bool(g)) for i, j, s, g in zip(a, b, scores, same)}
    assert pairs == {(0, 1): (0.6, True), (2, 3): (0.0, True), (0, 2): (0.0, False), (0, 3): (-1.0, False),
                     (1, 2): (0.8, False), (1, 3): (-0.6, False)}


def test_all_pairs_samples_distinct_impostor_pairs_beyond_the_cap():
    data = clusters(n_ids=10, per_id=6)
    a, b, _, same = protocols.all_pairs(data, max_impostor_pairs=300, seed=1)
    assert same.sum() == 10 * 15  # every genuine pair is kept
    assert (~same).sum() == 300
    impostors = {(int(i), int(j)) for i, j, g in zip(a, b, same) if not g}
    assert len(impostors) == 300 and all(data.labels[i] != data.labels[j] for i, j in impostors)


def test_random_folds_spread_each_class_evenly():
    same = np.array([True] * 20 + [False] * 30)
    folds = protocols.random_folds(same, k=10, seed=3)
    assert all(np.sum(same & (folds == k)) == 2 and np.sum(~same & (folds == k)) == 3 for k in range(10))


def test_verification_figures_match_the_metrics_module():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.normal(0.7, 0.1, 300), rng.normal(0.1, 0.1, 3000)])
    same = np.r_[np.ones(300, bool), np.zeros(3000, bool)]
    result = protocols.verification(scores, same, target_far=1e-2, bootstrap=50)
    m = result.metrics
    assert m["auc"] == pytest.approx(metrics.auc(scores, same))
    assert (m["eer"], m["eer_threshold"]) == pytest.approx(metrics.eer(scores, same))
    expected = metrics.tar_at_far(scores, same, [1e-2])[1e-2]
    assert m["recommended"]["threshold"] == pytest.approx(expected.threshold)
    assert m["tar_at_far"]["0.01"]["tar"] == pytest.approx(expected.tar)
    assert m["tar_at_far"]["0.0001"]["resolvable"] is False  # 3,000 impostors cannot resolve 1e-4
    assert m["pairs"] == {"genuine": 300, "impostor": 3000}
    low, high = m["confidence_intervals"]["auc"]["low"], m["confidence_intervals"]["auc"]["high"]
    assert low <= m["auc"] <= high
    assert m["roc"]["far"][0] == 0.0 and m["roc"]["far"][-1] == 1.0


def test_verification_refuses_a_single_class():
    with pytest.raises(ValueError, match="both genuine and impostor"):
        protocols.verification(np.array([0.1, 0.2]), np.array([True, True]))


def test_attribute_breakdown_counts_pairs_within_each_group_and_rates_at_the_threshold():
    data = LabelledEmbeddings(unit([1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8], [-1, 0], [-0.8, -0.6]),
                              ["a", "a", "b", "b", "c", "c"], list("uvwxyz"),
                              {"a": {"cohort": "x"}, "b": {"cohort": "x"}, "c": {"cohort": "y"}})
    a, b, scores, same = protocols.all_pairs(data)
    out = protocols.breakdown_by_attribute(data, a, b, scores, same, threshold=0.7, min_pairs=1)
    x, y = out["cohort"]["x"], out["cohort"]["y"]
    assert (x["identities"], x["genuine_pairs"], x["impostor_pairs"]) == (2, 2, 4)
    assert (y["identities"], y["genuine_pairs"], y["impostor_pairs"]) == (1, 1, 0)
    assert "note" in y  # no impostor pair inside cohort y: no figures rather than wrong ones
    # Cohort x impostors: a-b pairs score 0, 0.6, 0.6, 0.96 -> 1 of 4 accepted at 0.7; genuines 0.8, 0.96.
    assert x["far_at_threshold"] == pytest.approx(0.25)
    assert x["frr_at_threshold"] == 0.0


def test_kfold_identification_ranks_every_photo_once_and_lists_small_identities():
    data = clusters(n_ids=5, per_id=4)
    few = LabelledEmbeddings(unit([1] + [0] * 15, [0, 1] + [0] * 14), ["lonely", "lonely"], ["s1", "s2"])
    both = LabelledEmbeddings(np.concatenate([data.embeddings, few.embeddings]),
                              np.r_[data.labels, few.labels], data.items + few.items)
    result = protocols.kfold_identification(both, k=4, min_photos=3, classifier_factory=FaceClassifier)
    m = result.metrics
    assert m["excluded_identities"] == [{"identity": "lonely", "photos": 2}]
    assert (m["folds"], m["identities"], m["photos"]) == (4, 5, 20)
    for method in ("nearest_neighbour", "svm", "combined"):
        assert m["methods"][method]["probes"] == 20
        assert m["methods"][method]["top1"] == 1.0  # well-separated clusters
        assert m["methods"][method]["cmc"][-1] == 1.0


def test_kfold_identification_top1_equals_the_metrics_module_on_the_same_split():
    data = clusters(n_ids=4, per_id=3, noise=1.2, seed=5)  # overlapping: some errors
    result = protocols.kfold_identification(data, k=3, min_photos=3, seed=0)
    from sklearn.model_selection import StratifiedKFold

    hits = []
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(data.embeddings, data.labels):
        sims = data.embeddings[test] @ data.embeddings[train].T
        ranks, _ = metrics.identification_ranks(sims, data.labels[test], data.labels[train])
        hits += list(ranks == 1)
    assert result.metrics["methods"]["nearest_neighbour"]["top1"] == pytest.approx(np.mean(hits))
    assert "svm" not in result.metrics["methods"]  # no classifier factory given


def test_dir_fpir_curve_by_hand():
    fpir, dir_ = protocols._dir_fpir_curve(np.array([0.9, 0.6, 0.5]), np.array([True, True, False]),
                                           np.array([0.7, 0.4]))
    # thresholds 0.9, 0.7, 0.6, 0.5, 0.4 (strict to lax), after the (0, 0) origin
    assert fpir.tolist() == pytest.approx([0, 0, 0.5, 0.5, 0.5, 1.0])
    assert dir_.tolist() == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3])


def test_open_set_holds_strangers_out_of_the_gallery_and_matches_dir_at_fpir():
    data = clusters(n_ids=8, per_id=5, noise=0.5, seed=2)
    holdout = ["p6", "p7"]
    result = protocols.open_set_identification(data, holdout=holdout, probe_fraction=0.4, target_fpir=0.1,
                                               classifier_factory=FaceClassifier, seed=0)
    m = result.metrics
    assert (m["enrolled_identities"], m["nonmated_probes"], m["mated_probes"], m["gallery_photos"]) == (6, 10, 12, 18)
    assert m["held_out_identities"] == holdout
    a = result.arrays
    expected = metrics.dir_at_fpir(a["mated_combined"], a["rank1_combined"], a["nonmated_combined"], [0.1])[0.1]
    assert m["methods"]["combined"]["rank1_closed_set"] == pytest.approx(a["rank1_combined"].mean())
    assert m["recommended"]["score"] == "combined"
    assert m["recommended"]["threshold"] == pytest.approx(expected.threshold)
    assert m["recommended"]["fpir"] <= 0.1


def test_open_set_refuses_unknown_or_total_holdouts():
    data = clusters(n_ids=3, per_id=3)
    with pytest.raises(ValueError, match="not in the data"):
        protocols.open_set_identification(data, holdout=["nobody"])
    with pytest.raises(ValueError, match="every identity"):
        protocols.choose_holdout(data.labels, fraction=0.99)
    assert protocols.choose_holdout(data.labels, fraction=0.3, seed=4) == \
        protocols.choose_holdout(data.labels, fraction=0.3, seed=4)


def test_finite_makes_figures_json_ready():
    out = protocols.finite({"a": np.float32(0.5), "b": float("inf"), "c": [np.int64(2), np.nan], "d": np.bool_(True)})
    assert out == {"a": 0.5, "b": None, "c": [2, None], "d": True}
