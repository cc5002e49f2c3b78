"""The open-set score means one false-accept rate whatever the gallery's size (real LFW embeddings).

A gallery of 10 people and one of 200 (one template each, LFW people with 2+ photos in
name order) are searched with the photos of 100 other people. At a threshold for an
FPIR of 10% (a rate 200 stranger photos resolve) both galleries accept about 10% of
the strangers; the same similarity cut-off without the gallery correction would
accept most of them from the large gallery.
"""

from __future__ import annotations

import numpy as np
import pytest

from recognition.pipeline.open_set import identify_among
from recognition.services import current_model_version
from tests.shared_data import LFW_IMAGES

TARGET_FPIR = 0.1


def people_with_two_photos_or_more() -> list[list]:
    found = []
    for person in sorted(p for p in LFW_IMAGES.iterdir() if p.is_dir()):
        photos = sorted(person.glob("*.jpg"))
        if len(photos) >= 2:
            found.append(photos)
    return found


@pytest.fixture(scope="module")
def lfw_split():
    from evaluation.datasets import embed_paths

    people = people_with_two_photos_or_more()
    gallery_paths = [photos[0] for photos in people[:200]]
    stranger_paths = [p for photos in people[200:300] for p in photos[:2]]
    result = embed_paths(gallery_paths + stranger_paths)
    by_path = dict(zip(result.paths, result.embeddings))
    gallery = np.stack([by_path[str(p)] for p in gallery_paths if str(p) in by_path])
    strangers = np.stack([by_path[str(p)] for p in stranger_paths if str(p) in by_path])
    assert len(gallery) >= 198 and len(strangers) >= 195
    return gallery, strangers


def stranger_scores(gallery: np.ndarray, strangers: np.ndarray, scorer) -> tuple[np.ndarray, np.ndarray]:
    """Per stranger photo: identify's score of its first candidate, and its best calibrated similarity."""
    similarities = scorer.project(strangers) @ scorer.project(gallery).T
    labels = np.array([str(i) for i in range(len(gallery))])
    scores = []
    for probe, row in zip(strangers, similarities):
        top = np.argsort(-row)[:5]
        answer = identify_among(probe, labels[top], row[top], comparisons=len(gallery), scorer=scorer)
        scores.append(answer.scores[answer.order[0]])
    return np.array(scores), similarities.max(axis=1)


def test_the_false_accept_rate_stays_put_when_the_gallery_grows(lfw_split):
    from recognition.selectors import scorer as scorer_for

    scorer = scorer_for(current_model_version())
    assert scorer.calibrated
    gallery, strangers = lfw_split
    threshold = scorer.threshold_at(TARGET_FPIR)

    small_scores, _ = stranger_scores(gallery[:10], strangers, scorer)
    large_scores, large_best = stranger_scores(gallery, strangers, scorer)
    small_rate, large_rate = np.mean(small_scores >= threshold), np.mean(large_scores >= threshold)

    assert 0.03 <= small_rate <= 0.2 and 0.03 <= large_rate <= 0.2, (small_rate, large_rate)
    assert abs(large_rate - small_rate) <= 0.08, (small_rate, large_rate)
    # Without the correction: the similarity a 10-template gallery needs, applied to 200 templates.
    grid = np.linspace(0.0, 1.0, 2001)
    uncorrected = grid[np.argmax(scorer.score(grid, 10) >= threshold)]
    assert np.mean(large_best >= uncorrected) >= 0.4
