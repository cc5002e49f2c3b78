"""The weekly enrolled-data report the beat schedule can run."""

import pytest

from evaluation import services
from evaluation.models import EvaluationReport

pytestmark = pytest.mark.django_db


def test_the_scheduled_report_is_created_once_while_one_waits():
    first = services.schedule_enrolled_report()

    assert first is not None and first.kind == "enrolled" and first.scheduled and first.status == "pending"
    assert services.schedule_enrolled_report() is None  # the first one has not run yet
    EvaluationReport.objects.filter(pk=first.pk).update(status="done")
    assert services.schedule_enrolled_report() is not None
