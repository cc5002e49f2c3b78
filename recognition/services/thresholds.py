"""Applied thresholds: an appended history per kind and embedding model version, each change audited."""

from __future__ import annotations

import math
import numbers

from django.db import connection, transaction

from audit import services as audit
from core.errors import InvalidThreshold
from recognition.models import RecognitionThreshold
from recognition.selectors import current_threshold

# Serialises threshold writes, so each row's previous_value is the one it replaced.
_THRESHOLD_LOCK_KEY = 0x74687265  # "thre"


@transaction.atomic
def set_threshold(*, kind: str, value: float, model_version: str, actor, source: str,
                  report_id: int | None = None) -> RecognitionThreshold:
    """Apply a verify or identify threshold for one embedding model version, from now on.

    Appends to the history (nothing is overwritten) and to the audit log; identify and
    verify use it for requests that give no threshold of their own.
    """
    if kind not in RecognitionThreshold.Kind.values:
        kinds = ", ".join(RecognitionThreshold.Kind.values)
        raise InvalidThreshold(f"unknown threshold kind {kind!r}: use one of {kinds}", field="kind")
    # Both are cosine-similarity scales (identify's score is a similarity discounted by the SVM).
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not -1.0 <= value <= 1.0:
        raise InvalidThreshold(f"a {kind} threshold is a number from -1 to 1, not {value!r}", field="value")
    if not model_version:
        raise InvalidThreshold("a threshold applies to one embedding model version: name it", field="model_version")
    source = (source or "").strip()
    if not source or len(source) > RecognitionThreshold._meta.get_field("source").max_length:
        raise InvalidThreshold("say where the threshold comes from, in at most 200 characters", field="source")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_THRESHOLD_LOCK_KEY])
    old = current_threshold(kind, model_version=model_version)
    user = actor if getattr(actor, "is_authenticated", False) else None
    row = RecognitionThreshold.objects.create(
        kind=kind, value=float(value), model_version=model_version, source=source, report_id=report_id,
        previous_value=old.value, set_by=user, set_by_name=user.get_username() if user else "")
    audit.record(action="recognition.threshold_set", actor=actor, target=row, details={
        "kind": kind, "old": old.value, "new": row.value, "model_version": model_version, "source": source,
        "report_id": report_id})
    return row
