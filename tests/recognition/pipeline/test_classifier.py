import numpy as np
import pytest

from recognition.pipeline.classifier import FaceClassifier, NotEnoughIdentities


def _clusters(n_people=4, per_person=6, dim=512, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, dim))
    X, y = [], []
    for i, centre in enumerate(centres):
        samples = centre + spread * np.linalg.norm(centre) * rng.normal(size=(per_person, dim)) / np.sqrt(dim)
        X.append(samples / np.linalg.norm(samples, axis=1, keepdims=True))
        y += [f"person_{i}"] * per_person
    return np.vstack(X).astype(np.float32), np.array(y)


def test_fit_predicts_the_right_person_for_new_samples():
    X, y = _clusters(seed=1)
    probes, truth = _clusters(seed=1, per_person=2)  # same centres, new noise
    model = FaceClassifier().fit(X, y)

    assert (model.predict(probes) == truth).all()
    proba = model.predict_proba(probes)
    assert proba.shape == (len(probes), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert model.metadata_.kernel in {"linear", "rbf"}
    assert set(model.metadata_.kernel_scores) == {"linear", "rbf"}
    assert model.metadata_.validation_accuracy == pytest.approx(1.0)


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


def test_saved_classifier_loads_and_predicts_the_same(tmp_path):
    X, y = _clusters()
    model = FaceClassifier().fit(X, y, model_version="test-model")
    model.save(tmp_path)

    loaded = FaceClassifier.load(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"classifier.joblib", "label_encoder.joblib", "classifier.json"}
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.metadata_.model_version == "test-model"
