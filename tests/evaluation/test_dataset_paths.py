"""Benchmark reports read only under FACEREC_DATASET_ROOTS: no `..`, absolute path, link or pairs line escapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.datasets import DatasetError, resolve_folder
from evaluation.reports import ParameterError, clean_parameters
from recognition.pipeline.lfw import read_pairs


@pytest.fixture
def roots(tmp_path, settings) -> tuple[Path, Path]:
    """A dataset root with one folder, and a secret folder beside the root with a pairs file in it."""
    root, outside = tmp_path / "datasets", tmp_path / "private"
    (root / "faces" / "Ada").mkdir(parents=True)
    (root / "faces" / "Ada" / "Ada_0001.jpg").write_bytes(b"not read")
    (outside / "Eve").mkdir(parents=True)
    (outside / "pairs.txt").write_text("1\nEve 1 2\nEve 1 Eve 2\n")
    settings.FACEREC_DATASET_ROOTS = [str(root)]
    return root, outside


@pytest.mark.parametrize("name", ["../private", "faces/../../private", "/etc", "faces\x00"])
def test_a_folder_outside_the_roots_is_refused(roots, name):
    with pytest.raises(DatasetError):
        resolve_folder(name)
    with pytest.raises(ParameterError) as refused:
        clean_parameters("benchmark", {"folder": name})
    assert refused.value.field == "folder"


def test_a_link_from_inside_a_root_to_outside_is_refused(roots):
    root, outside = roots
    (root / "shortcut").symlink_to(outside, target_is_directory=True)
    assert resolve_folder("faces") == (root / "faces").resolve()
    with pytest.raises(DatasetError):
        resolve_folder("shortcut")


@pytest.mark.parametrize("pairs", ["../../private/pairs.txt", "/etc/passwd", "link.txt", "pairs\x00.txt"])
def test_a_pairs_file_outside_the_folder_is_refused(roots, pairs):
    root, outside = roots
    (root / "faces" / "link.txt").symlink_to(outside / "pairs.txt")
    with pytest.raises(ParameterError) as refused:
        clean_parameters("benchmark", {"folder": "faces", "pairs": pairs})
    assert refused.value.field == "pairs"


def test_a_pairs_line_naming_a_path_instead_of_a_person_is_refused(tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\n../../private/Eve 1 2\nAda 1 Bob 2\n")
    with pytest.raises(ValueError, match="not a person's folder name"):
        read_pairs(pairs, tmp_path)
