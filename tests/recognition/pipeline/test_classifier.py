import numpy as np
import pytest

from recognition.pipeline.classifier import FaceClassifier, NotEnoughIdentities


def _clusters(n_people=4, per_person=6, dim=512, spread=0.05, seed=0, centre_seed=None):
    centres = np.random.default_rng(seed if centre_seed is None else centre_seed).normal(size=(n_people, dim))
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i, centre in enumerate(centres):
        samples = centre + spread * np.linalg.norm(centre) * rng.normal(size=(per_person, dim)) / np.sqrt(dim)
        X.append(samples / np.linalg.norm(samples, axis=1, keepdims=True))
        y += [f"person_{i}"] * per_person
    return np.vstack(X).astype(np.float32), np.array(y)


def test_fit_predicts_the_right_person_for_new_samples():
    X, y = _clusters(seed=1)
    probes, truth = _clusters(seed=2, centre_seed=1, per_person=2)  # same people, new noise
    model = FaceClassifier().fit(X, y)

    assert (model.predict(probes) == truth).all()
    assert model.metadata_.kernel == "linear"
    assert model.metadata_.validation_accuracy == pytest.approx(1.0)


def test_candidates_are_scored_alone_and_their_probabilities_keep_the_svm_order():
    X, y = _clusters(n_people=6, seed=3)
    probe = _clusters(n_people=6, per_person=1, seed=4, centre_seed=3)[0][2]  # person_2
    model = FaceClassifier().fit(X, y)
    labels = ["person_5", "person_2", "nobody", "person_0"]

    decisions = model.decision_for(probe, labels)
    proba = model.proba_for(probe, labels)

    every = dict(zip(model.classes_, model.decision_function(probe[None])[0]))
    np.testing.assert_allclose(decisions[[0, 1, 3]], [every["person_5"], every["person_2"], every["person_0"]],
                               rtol=1e-5)
    assert np.isnan(decisions[2]) and np.isnan(proba[2])  # a label it never learnt
    known = ~np.isnan(proba)
    assert proba[known].sum() == pytest.approx(1.0)
    assert np.argsort(-proba[known]).tolist() == np.argsort(-decisions[known]).tolist()
    assert labels[int(np.nanargmax(proba))] == "person_2"


def test_identities_with_too_few_samples_are_dropped_and_listed():
    X, y = _clusters(n_people=3, per_person=4)
    y[-3:] = ["rare"] * 3
    y[-4] = "person_2"
    X = np.vstack([X, X[:1]])
    y = np.append(y, "single")
    model = FaceClassifier(min_samples_per_class=2).fit(X, y)

    assert "single" in model.metadata_.dropped_labels
    assert "single" not in model.classes_


def test_fewer_than_two_identities_is_refused():
    X, y = _clusters(n_people=1)
    with pytest.raises(NotEnoughIdentities):
        FaceClassifier().fit(X, y)


def test_an_incremental_fit_refits_only_the_changed_identities():
    X, y = _clusters(n_people=40, per_person=5, seed=5)
    keys = np.arange(len(y))
    first = FaceClassifier().fit(X, y, keys=keys)
    # person_7 gains a template (a new key), everyone else is unchanged.
    extra = _clusters(n_people=40, per_person=1, seed=6, centre_seed=5)[0][7]
    X2, y2, keys2 = np.vstack([X, extra]), np.append(y, "person_7"), np.append(keys, 10_000)

    again = FaceClassifier().fit(X2, y2, keys=keys2, previous=first)

    assert again.metadata_.incremental and again.metadata_.refitted == 1
    kept = again.rows_for(["person_3", "person_30"])
    np.testing.assert_array_equal(np.asarray(again.weights_)[kept], np.asarray(first.weights_)[first.rows_for(
        ["person_3", "person_30"])])
    changed = again.rows_for(["person_7"])[0]
    assert not np.allclose(again.weights_[changed], first.weights_[first.rows_for(["person_7"])[0]])
    assert again.predict(extra[None])[0] == "person_7"


def test_a_large_change_is_refitted_from_scratch():
    X, y = _clusters(n_people=10, per_person=5, seed=7)
    first = FaceClassifier().fit(X, y, keys=np.arange(len(y)))
    again = FaceClassifier().fit(X, y, keys=np.arange(len(y)) + 1000, previous=first)  # every template new
    assert not again.metadata_.incremental and again.metadata_.refitted == 10


def test_saved_classifier_loads_and_predicts_the_same_without_keeping_templates(tmp_path):
    X, y = _clusters()
    model = FaceClassifier().fit(X, y, model_version="test-model")
    model.save(tmp_path)

    loaded = FaceClassifier.load(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"weights.npy", "classifier.json"}
    # One weight row per identity: the artifact holds no training vector.
    assert loaded.weights_.shape == (4, 512)
    for row in X:
        assert not np.isclose(np.abs(np.asarray(loaded.weights_) @ row / np.linalg.norm(loaded.weights_, axis=1)),
                              1.0, atol=1e-4).any()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.metadata_.model_version == "test-model"


def test_without_labels_removes_an_identity_from_a_saved_model(tmp_path):
    X, y = _clusters()
    model = FaceClassifier().fit(X, y)
    model.save(tmp_path)

    loaded = FaceClassifier.load(tmp_path)
    assert loaded.without_labels(["person_1"])
    loaded.save_atomic(tmp_path)

    again = FaceClassifier.load(tmp_path)
    assert "person_1" not in again.classes_.tolist() and "person_1" not in again.fingerprints_
    assert again.weights_.shape == (3, 512)
    assert "person_1" not in (tmp_path / "classifier.json").read_text()
    assert not again.without_labels(["person_1"])


def test_an_older_artifact_format_is_refused(tmp_path):
    (tmp_path / "classifier.json").write_text('{"metadata": {"kernel": "rbf"}}')
    with pytest.raises(ValueError, match="ovr-linear-svm"):
        FaceClassifier.load(tmp_path)


def test_past_the_exact_limit_the_neighbour_search_still_finds_the_nearest_identities(monkeypatch):
    """Hard negatives come from an approximate (bucketed) search on large galleries: n^2 would not scale."""
    from recognition.pipeline import classifier

    rng = np.random.default_rng(0)
    families = classifier._unit(rng.standard_normal((300, 512)).astype(np.float32))
    centroids = classifier._unit(families[np.arange(3000) % 300]
                                 + 0.04 * rng.standard_normal((3000, 512)).astype(np.float32))
    exact = classifier._nearest_other(centroids, 8)
    monkeypatch.setattr(classifier, "EXACT_NEIGHBOURS_UP_TO", 1000)

    approximate = classifier._nearest_other(centroids, 8)

    assert approximate.shape == (3000, 8)
    assert not np.any(approximate == np.arange(3000)[:, None])  # never its own neighbour
    recall = np.mean([len(set(a) & set(b)) / 8 for a, b in zip(exact, approximate)])
    assert recall >= 0.95, recall
