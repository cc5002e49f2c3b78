"""The seed-compatible command line: build_embeddings, train_classifier (evaluate_lfw: tests/evaluation)."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from tests.shared_data import LFW_IMAGES

PEOPLE = ["George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld", "Gerhard_Schroeder", "Ariel_Sharon"]


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """DIR/<person>/*.jpg: 3 people x 3 photos, plus one file that is not an image."""
    root = tmp_path_factory.mktemp("dataset")
    for person in PEOPLE[:3]:
        (root / person).mkdir()
        for n in (1, 2, 3):
            shutil.copy(LFW_IMAGES / person / f"{person}_{n:04d}.jpg", root / person)
    (root / PEOPLE[0] / "notes.jpg").write_text("not a photo")
    return root


@pytest.fixture(scope="module")
def embeddings_file(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("npz") / "embeddings.npz"
    summary = _run("build_embeddings", "--data-dir", str(dataset), "--out", str(out))
    return out, summary


def test_build_embeddings_writes_one_unit_vector_per_photo_with_labels(embeddings_file):
    out, summary = embeddings_file
    data = np.load(out)

    assert data["embeddings"].shape == (9, 512)
    np.testing.assert_allclose(np.linalg.norm(data["embeddings"], axis=1), 1.0, atol=1e-5)
    assert sorted(set(data["labels"])) == sorted(PEOPLE[:3])
    assert all(str(p).endswith(".jpg") for p in data["paths"])
    assert str(data["model_version"]) == "casia-webface-20180408-102900"
    assert "embedded 9 of 10 images of 3 people" in summary
    assert "not_an_image 1" in summary


def test_same_person_embeddings_are_closer_than_different_people(embeddings_file):
    data = np.load(embeddings_file[0])
    emb, labels = data["embeddings"], data["labels"]
    sims = emb @ emb.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    assert sims[same & off_diagonal].min() > sims[~same].max()


def test_build_embeddings_refuses_a_missing_folder(tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        _run("build_embeddings", "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "x.npz"))


def test_build_embeddings_refuses_a_folder_without_images(tmp_path):
    (tmp_path / "someone").mkdir()
    with pytest.raises(CommandError, match="no images found"):
        _run("build_embeddings", "--data-dir", str(tmp_path), "--out", str(tmp_path / "x.npz"))


def test_train_classifier_writes_model_encoder_and_metadata(embeddings_file, tmp_path):
    summary = json.loads(_run("train_classifier", "--embeddings", str(embeddings_file[0]),
                              "--out-dir", str(tmp_path)).splitlines()[0])

    assert summary["identities"] == 3 and summary["samples"] == 9
    assert summary["validation_accuracy"] == 1.0
    meta = json.loads((tmp_path / "classifier.json").read_text())["metadata"]
    assert meta["model_version"] == "casia-webface-20180408-102900" and meta["format"] == "ovr-linear-svm/1"
    assert summary["temperature"] > 0
    assert (tmp_path / "weights.npy").is_file()


def test_train_classifier_refuses_a_file_that_is_not_an_embeddings_file(tmp_path):
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, something=np.zeros(3))
    with pytest.raises(CommandError, match="not an embeddings file"):
        _run("train_classifier", "--embeddings", str(bogus), "--out-dir", str(tmp_path / "out"))
