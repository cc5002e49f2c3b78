"""monitoring.selectors: answers by outcome counted from the audit entries identify and verify write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit import services as audit
from monitoring import selectors

pytestmark = pytest.mark.django_db

REFUSED, LIVE = {"score": 0.1, "is_live": False}, {"score": 0.9, "is_live": True}


def identify_entry(identified: list[int], unknown: int, liveness=None, policy: str = "off") -> None:
    # The details recognition.services.matching.identify writes.
    audit.record(action="recognition.identify", actor=None, details={
        "faces": len(identified) + unknown, "identified": identified, "unknown": unknown, "threshold": 0.5,
        "classifier_version": None, "liveness_policy": policy, "liveness": liveness})


def verify_entry(match: bool, reason: str | None) -> None:
    audit.record(action="recognition.verify", actor=None, details={"mode": "two-images", "match": match,
                                                                     "reason": reason, "liveness_policy": "off"})


def test_faces_refused_by_the_liveness_check_count_apart_from_the_unknown_ones():
    identify_entry([7, 8], 1)
    identify_entry([], 2, liveness=[REFUSED, LIVE], policy="enforce")  # one refused, one stranger
    identify_entry([9], 0, liveness=[REFUSED], policy="report")  # report: noted, not refused
    verify_entry(True, None)
    verify_entry(False, "below_threshold")
    verify_entry(False, "liveness_failed")

    answers = selectors.answers_since(timezone.now() - timedelta(hours=1))

    assert answers.identify == {"identified": 3, "unknown": 2, "liveness_failed": 1}
    assert answers.verify == {"match": 1, "no_match": 1, "liveness_failed": 1}
    assert answers.unknown_share == pytest.approx(3 / 6)
    assert answers.liveness_failures == 2


def test_answers_older_than_the_window_are_left_out():
    identify_entry([1], 0)
    between = timezone.now()
    identify_entry([], 1)

    # Seen from a day after `between`: the first answer is older than 24 h, the second is not.
    answers = selectors.recent_answers(now=between + timedelta(hours=24))

    assert answers["24h"].identify == {"identified": 0, "unknown": 1, "liveness_failed": 0}
    assert answers["30d"].identify == {"identified": 1, "unknown": 1, "liveness_failed": 0}


def test_no_answers_give_no_unknown_share():
    assert selectors.answers_since(timezone.now() - timedelta(days=1)).unknown_share is None
