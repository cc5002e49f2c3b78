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
    assert set(m["methods"]) == {"nearest_neighbour", "svm"}
    for method in ("nearest_neighbour", "svm"):
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


def test_open_set_split_enrolls_gallery_photos_and_probes_and_keeps_strangers_apart():
    labels = np.repeat([f"p{i}" for i in range(10)], [8, 8, 8, 8, 6, 6, 3, 3, 2, 1])
    roles = protocols.open_set_split(labels, gallery_photos=5, max_probes_per_identity=2, enrolled=4,
                                     strangers=3, seed=1)

    enrolled = sorted(set(labels[roles == protocols.GALLERY].tolist()))
    strangers = sorted(set(labels[roles == protocols.STRANGER].tolist()))
    assert len(enrolled) == 4 and len(strangers) == 3 and not set(enrolled) & set(strangers)
    # Only people with more photos than the gallery takes are enrolled: each has a probe.
    assert set(enrolled) <= {f"p{i}" for i in range(6)}
    for name in enrolled:
        mine = roles[labels == name]
        assert (mine == protocols.GALLERY).sum() == 5 and 1 <= (mine == protocols.PROBE).sum() <= 2
    for name in strangers:
        assert (roles[labels == name] == protocols.STRANGER).sum() == min(2, (labels == name).sum())
    assert (roles == protocols.open_set_split(labels, gallery_photos=5, max_probes_per_identity=2, enrolled=4,
                                              strangers=3, seed=1)).all()  # seeded


def test_open_set_split_refuses_what_the_data_cannot_give():
    labels = np.repeat(["a", "b", "c"], [3, 3, 3])
    with pytest.raises(ValueError, match="not in the data"):
        protocols.open_set_split(labels, holdout=["nobody"])
    with pytest.raises(ValueError, match="more than 5 photos"):
        protocols.open_set_split(labels, enrolled=2)
    with pytest.raises(ValueError, match="left to play strangers"):
        protocols.open_set_split(labels, gallery_photos=2, enrolled=2, strangers=2)
    with pytest.raises(ValueError, match="every identity"):
        protocols.choose_holdout(labels, fraction=0.99)


def test_open_set_answers_as_identify_does_and_measures_them_at_the_thresholds():
    data = clusters(n_ids=8, per_id=6, noise=0.5, seed=2)
    roles = protocols.open_set_split(data.labels, gallery_photos=4, max_probes_per_identity=2,
                                     holdout=["p6", "p7"], seed=0)
    result = protocols.open_set_identification(data, roles=roles, target_fpir=0.1, identify_threshold=0.5,
                                               verify_threshold=0.5, classifier_factory=FaceClassifier, seed=0)
    m, a = result.metrics, result.arrays
    assert (m["enrolled_identities"], m["nonmated_probes"], m["mated_probes"], m["gallery_photos"]) == (6, 4, 12, 24)
    assert m["held_out_identities"] == ["p6", "p7"]
    assert set(m["methods"]) == {"identify", "nearest_neighbour"} and m["recommended"]["score"] == "identify"
    expected = metrics.dir_at_fpir(a["mated_identify"], a["rank1_identify"], a["nonmated_identify"], [0.1])[0.1]
    assert m["recommended"]["threshold"] == pytest.approx(expected.threshold)
    at = m["methods"]["identify"]["at_threshold"]
    accepted = a["mated_identify"] >= 0.5
    assert at["correct"] == pytest.approx(np.mean(a["rank1_identify"] & accepted))
    assert at["unknown"] == pytest.approx(np.mean(~accepted))
    assert at["strangers_accepted"] == pytest.approx(np.mean(a["nonmated_identify"] >= 0.5))
    assert at["correct"] + at["wrong_person"] + at["unknown"] == pytest.approx(1.0)
    # Without a calibration a score is the best cosine similarity; every stranger claims every enrolled identity.
    v = m["verify_identity"]
    assert v["claims"] == {"genuine": 12, "impostor": 4 * 6, "impostor_claims": v["claims"]["impostor_claims"]}
    assert v["at_threshold"]["far"] == pytest.approx(np.mean(a["verify_impostor"] >= 0.5))
    gallery = data.subset(roles == protocols.GALLERY)
    probes = data.subset(roles == protocols.STRANGER)
    best = (probes.embeddings @ gallery.embeddings.T).max(axis=1)
    np.testing.assert_allclose(a["verify_impostor"].reshape(4, 6).max(axis=1), best, atol=1e-6)


def test_open_set_without_a_classifier_ranks_by_similarity():
    data = clusters(n_ids=5, per_id=4, noise=0.3, seed=3)
    roles = protocols.open_set_split(data.labels, gallery_photos=3, holdout=["p4"], seed=0)
    result = protocols.open_set_identification(data, roles=roles)
    assert set(result.metrics["methods"]) == {"nearest_neighbour"}
    assert result.metrics["methods"]["nearest_neighbour"]["rank1_closed_set"] == 1.0


def test_finite_makes_figures_json_ready():
    out = protocols.finite({"a": np.float32(0.5), "b": float("inf"), "c": [np.int64(2), np.nan], "d": np.bool_(True)})
    assert out == {"a": 0.5, "b": None, "c": [2, None], "d": True}
