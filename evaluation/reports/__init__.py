"""The three report kinds: parameters in, metrics + plots + skipped items out.

`run_report` is shared by the Celery task (which stores the result on an
EvaluationReport) and `manage.py evaluate` (which writes it to a folder).
"""

from evaluation.reports.common import PLOT_TITLES, SCORE_NAMES, ReportOutput
from evaluation.reports.exports import flatten_metrics, metrics_csv, report_document, write_exports
from evaluation.reports.parameters import KINDS, ParameterError, ReportParameters, clean_parameters
from evaluation.reports.running import liveness_section, run_report

__all__ = ["KINDS", "PLOT_TITLES", "SCORE_NAMES", "ParameterError", "ReportOutput", "ReportParameters",
           "clean_parameters", "flatten_metrics", "liveness_section", "metrics_csv", "report_document", "run_report",
           "write_exports"]
