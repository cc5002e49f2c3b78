"""evaluate_lfw: the LFW verification protocol on a few pairs (the command lives in evaluation)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.shared_data import LFW_DIR

PEOPLE = ["George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld", "Gerhard_Schroeder", "Ariel_Sharon"]


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _mini_pairs(path):
    """A View 2 style file: 2 folds x (3 same + 3 different)."""
    lines = ["2\t3"]
    for fold in range(2):
        people = PEOPLE[3 * fold:3 * fold + 3]
        lines += [f"{p}\t1\t2" for p in people]
        lines += [f"{people[i]}\t1\t{people[(i + 1) % 3]}\t2" for i in range(3)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_evaluate_lfw_runs_the_fold_protocol_and_prints_the_accuracy_line(tmp_path):
    pairs = _mini_pairs(tmp_path / "pairs.txt")
    out_json = tmp_path / "lfw.json"

    output = _run("evaluate_lfw", "--lfw-dir", str(LFW_DIR), "--pairs", str(pairs), "--tta", "--json", str(out_json))

    figures = json.loads(out_json.read_text())
    assert figures["pairs"] == 12 and figures["folds"] == 2 and figures["tta"] is True
    assert figures["auc"] == 1.0  # these 6 people are easy for FaceNet
    assert f"accuracy={figures['accuracy']:.4f}" in output.splitlines()
    assert "EER" in output and "TAR @ FAR 0.001" in output


def test_evaluate_lfw_on_a_single_fold_file_says_its_accuracy_is_not_cross_validated(tmp_path):
    pairs = tmp_path / "pairsDevTest.txt"  # View 1 format: "<N>", N same then N different pairs
    people = PEOPLE[:3]
    pairs.write_text("\n".join(["3", *(f"{p}\t1\t2" for p in people),
                                *(f"{people[i]}\t1\t{people[(i + 1) % 3]}\t2" for i in range(3))]) + "\n")
    out_json = tmp_path / "lfw.json"

    output = _run("evaluate_lfw", "--lfw-dir", str(LFW_DIR), "--pairs", str(pairs), "--json", str(out_json))

    figures = json.loads(out_json.read_text())
    assert figures["folds"] == 1 and figures["cross_validated"] is False and figures["accuracy_std"] is None
    assert figures["accuracy"] == 1.0 and figures["auc"] == 1.0
    assert "not cross-validated" in output and f"accuracy={figures['accuracy']:.4f}" in output.splitlines()
    with pytest.raises(CommandError, match="--subtract-mean needs a pairs file of several folds"):
        _run("evaluate_lfw", "--lfw-dir", str(LFW_DIR), "--pairs", str(pairs), "--subtract-mean")


def test_evaluate_lfw_reports_a_malformed_pairs_file(tmp_path):
    bad = tmp_path / "pairs.txt"
    bad.write_text("1\t1\nGeorge_W_Bush\tone\t2\nColin_Powell\t1\tTony_Blair\t1\n")
    with pytest.raises(CommandError, match="pairs.txt:2"):
        _run("evaluate_lfw", "--lfw-dir", str(LFW_DIR), "--pairs", str(bad))
