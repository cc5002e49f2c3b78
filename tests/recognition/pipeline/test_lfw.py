"""LFW pairs reader: the real protocol files plus small malformed ones."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from recognition.pipeline.lfw import Pair, image_path, missing_images, read_pairs, resolve_image_dir

from tests.shared_data import LFW_DIR as LFW
needs_lfw = pytest.mark.skipif(not (LFW / "pairs.txt").is_file(), reason="LFW data not present")


@needs_lfw
def test_view2_pairs():
    pairs = read_pairs(LFW / "pairs.txt", LFW)
    assert len(pairs) == 6000
    assert sum(p.same for p in pairs) == 3000
    assert Counter(p.fold for p in pairs) == {k: 600 for k in range(10)}
    assert all(sum(p.same for p in pairs if p.fold == k) == 300 for k in range(10))
    # First line after the header: "Abel_Pacheco 1 4".
    img = LFW / "lfw-deepfunneled"
    assert pairs[0] == Pair(img / "Abel_Pacheco/Abel_Pacheco_0001.jpg",
                            img / "Abel_Pacheco/Abel_Pacheco_0004.jpg", True, 0)
    # Line 302 (first mismatched): "Abdel_Madi_Shabneh 1 Dean_Barker 1".
    assert pairs[300] == Pair(img / "Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001.jpg",
                              img / "Dean_Barker/Dean_Barker_0001.jpg", False, 0)
    images = {p for pair in pairs for p in (pair.path_a, pair.path_b)}
    assert len(images) == 7701
    assert missing_images(pairs) == []


@needs_lfw
def test_view2_accepts_image_dir_itself_and_default():
    a = read_pairs(LFW / "pairs.txt", LFW)
    assert read_pairs(LFW / "pairs.txt", LFW / "lfw-deepfunneled") == a
    assert read_pairs(LFW / "pairs.txt") == a  # defaults to the pairs file's folder
    assert resolve_image_dir(LFW) == LFW / "lfw-deepfunneled"


@needs_lfw
@pytest.mark.parametrize("name,total", [("pairsDevTrain.txt", 2200), ("pairsDevTest.txt", 1000)])
def test_view1_pairs(name, total):
    pairs = read_pairs(LFW / name, LFW, check_exists=True)
    assert len(pairs) == total
    assert {p.fold for p in pairs} == {0}
    # Matched first, then mismatched.
    assert [p.same for p in pairs] == [True] * (total // 2) + [False] * (total // 2)


def test_image_path_padding(tmp_path):
    expected = tmp_path / "George_W_Bush/George_W_Bush_0010.jpg"
    assert image_path(tmp_path, "George_W_Bush", 10) == expected


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pairs.txt"
    p.write_text(text)
    return p


GOOD = "2 1\nA\t1\t2\nA\t1\tB\t1\nC 3 4\nC 1 D 2\n\n"


def test_small_view2_file(tmp_path):
    pairs = read_pairs(_write(tmp_path, GOOD), tmp_path)
    assert [(p.same, p.fold) for p in pairs] == [(True, 0), (False, 0), (True, 1), (False, 1)]
    assert pairs[3].path_b == tmp_path / "D/D_0002.jpg"


@pytest.mark.parametrize("text,line,msg", [
    ("2 1\nA 1 2\nA 1 B\nC 3 4\nC 1 D 2\n", 3, "mismatched pair"),  # 3 fields in a diff line
    ("2 1\nA 1 2\nA 1 B 1\nC x 4\nC 1 D 2\n", 4, "not an integer"),
    ("2 1\nA 1 2 3\nA 1 B 1\nC 3 4\nC 1 D 2\n", 2, "matched pair"),
    ("2 1\nA 1 2\nA 1 B 1\nC 0 4\nC 1 D 2\n", 4, ">= 1"),
    ("2 1\nA 1 2\nA 1 B 1\nC 3 4\n", 5, "header promises 4"),  # one line short
    ("1 1\nA 1 2\nA 1 B 1\nC 3 4\n", 4, "header promises 2"),  # one line too many
    ("1 2 3\nA 1 2\n", 1, "header"),
    ("ten\nA 1 2\n", 1, "not an integer"),
    ("", 1, "empty"),
])
def test_malformed_reports_line(tmp_path, text, line, msg):
    with pytest.raises(ValueError, match=msg) as exc:
        read_pairs(_write(tmp_path, text), tmp_path)
    assert f"pairs.txt:{line}:" in str(exc.value)


def test_missing_images(tmp_path):
    path = _write(tmp_path, "1\nA 1 2\nA 1 B 1\n")
    (tmp_path / "A").mkdir()
    (tmp_path / "A/A_0001.jpg").write_bytes(b"")
    pairs = read_pairs(path, tmp_path)
    assert missing_images(pairs) == [tmp_path / "A/A_0002.jpg", tmp_path / "B/B_0001.jpg"]
    with pytest.raises(FileNotFoundError, match="2 LFW images missing.*A_0002.jpg"):
        read_pairs(path, tmp_path, check_exists=True)
