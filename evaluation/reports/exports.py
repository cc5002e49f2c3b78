"""A report's exports: report.json and metrics.csv (every scalar figure as a row)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from evaluation.reports.common import ReportOutput


def flatten_metrics(metrics: dict) -> list[tuple[str, str]]:
    """(dotted name, value) rows of every scalar figure; curves (lists of numbers) are left out."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                for i, v in enumerate(value):
                    walk(f"{prefix}[{i}]", v)
            elif len(value) <= 20 and not all(isinstance(v, (int, float)) for v in value):
                rows.append((prefix, ", ".join(str(v) for v in value)))
            elif len(value) <= 10:
                rows.append((prefix, ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in value)))
        else:
            rows.append((prefix, "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)))

    walk("", metrics)
    return rows


def metrics_csv(metrics: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["metric", "value"])
    writer.writerows(flatten_metrics(metrics))
    return buffer.getvalue()


def report_document(*, kind: str, parameters: dict, output: ReportOutput) -> dict:
    return {"kind": kind, "parameters": parameters, "model_version": output.model_version,
            "classifier_version": output.classifier_version, "metrics": output.metrics, "plots": output.plots,
            "skipped": output.skipped}


def write_exports(out_dir: Path, document: dict) -> None:
    (out_dir / "report.json").write_text(json.dumps(document, indent=2))
    (out_dir / "metrics.csv").write_text(metrics_csv(document["metrics"]))
