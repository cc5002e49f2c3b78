"""Reads of the evaluation side."""

from __future__ import annotations

from pathlib import Path

from evaluation.models import EvaluationReport
from evaluation.services import report_dir


def reports():
    return EvaluationReport.objects.select_related("created_by")


def plot_file(report: EvaluationReport, name: str) -> Path | None:
    """The PNG of plot `name` of `report`, or None; names come from the report row, never the URL."""
    filename = (report.plots or {}).get(name)
    if not filename:
        return None
    path = report_dir(report.pk) / filename
    return path if path.is_file() else None
