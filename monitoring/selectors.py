"""The platform's state in figures: one home for the home page and the /metrics gauges.

Identify/verify answers are counted from the audit log's `recognition.identify` and
`recognition.verify` entries, not from MatchScore: the audit log records every answer (unknowns
and liveness failures included, and in the database, so every process's answers), while
MatchScore keeps only the scores of faces that were identified or matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from audit.models import AuditLog
from evaluation.models import EvaluationReport
from identities.models import EnrollmentImage, Identity
from recognition import selectors as recognition
from recognition.models import RecognitionThreshold
from webhooks import selectors as webhooks

IDENTIFY_OUTCOMES = ("identified", "unknown", "liveness_failed")
VERIFY_OUTCOMES = ("match", "no_match", "liveness_failed")
WINDOWS = {"24h": timedelta(hours=24), "30d": timedelta(days=30)}
# The report figures worth a line on the home page, when the report has them.
HEADLINE_METRICS = ("accuracy", "auc", "eer", "tar_at_far", "rank1", "dir_at_fpir")

# Per audit entry: the faces identified, unknown and refused by the liveness check (identify),
# or the one verify outcome. Liveness failures count only under `enforce`, where they refuse.
_ANSWERS_SQL = f"""
WITH entries AS (
  SELECT action, details,
    (SELECT count(*) FROM jsonb_array_elements(
       CASE WHEN details->>'liveness_policy' = 'enforce' AND jsonb_typeof(details->'liveness') = 'array'
            THEN details->'liveness' ELSE '[]'::jsonb END) AS face
     WHERE face->>'is_live' = 'false') AS refused
  FROM {AuditLog._meta.db_table}
  WHERE action IN ('recognition.identify', 'recognition.verify') AND created_at >= %s)
SELECT
  coalesce(sum(CASE WHEN jsonb_typeof(details->'identified') = 'array'
                    THEN jsonb_array_length(details->'identified') ELSE 0 END)
           FILTER (WHERE action = 'recognition.identify'), 0),
  coalesce(sum(coalesce((details->>'unknown')::int, 0) - refused) FILTER (WHERE action = 'recognition.identify'), 0),
  coalesce(sum(refused) FILTER (WHERE action = 'recognition.identify'), 0),
  count(*) FILTER (WHERE action = 'recognition.verify' AND details->>'match' = 'true'),
  count(*) FILTER (WHERE action = 'recognition.verify' AND details->>'match' = 'false'
                   AND coalesce(details->>'reason', '') <> 'liveness_failed'),
  count(*) FILTER (WHERE action = 'recognition.verify' AND details->>'reason' = 'liveness_failed')
FROM entries
"""


@dataclass(frozen=True)
class Answers:
    """Identify answers per face and verify answers per call, by outcome, over one window."""

    identify: dict[str, int]
    verify: dict[str, int]

    @property
    def identify_total(self) -> int:
        return sum(self.identify.values())

    @property
    def unknown_share(self) -> float | None:
        """The share of identified faces answered `unknown` (liveness refusals included), None with none."""
        total = self.identify_total
        return None if not total else (self.identify["unknown"] + self.identify["liveness_failed"]) / total

    @property
    def liveness_failures(self) -> int:
        return self.identify["liveness_failed"] + self.verify["liveness_failed"]


@dataclass(frozen=True)
class Threshold:
    kind: str
    value: float
    source: str
    stored: bool


@dataclass(frozen=True)
class Classifier:
    version: int
    trained_at: datetime | None
    age_s: float | None
    n_identities: int


@dataclass(frozen=True)
class PlatformFigures:
    model_version: str
    people: int
    active_templates: int
    photos: dict[str, int]
    answers: dict[str, Answers]
    thresholds: list[Threshold]
    classifier: Classifier | None
    last_report: EvaluationReport | None
    headline: dict[str, float] = field(default_factory=dict)
    pending_webhook_deliveries: int = 0

    @property
    def awaiting_review(self) -> int:
        return self.photos.get(EnrollmentImage.Status.AWAITING_REVIEW, 0)


def people() -> int:
    return Identity.objects.filter(status=Identity.Status.ACTIVE).count()


def photos_by_status() -> dict[str, int]:
    """Every status with its count (0 included, so a gauge falls back to 0 rather than vanishing)."""
    counts = dict.fromkeys(EnrollmentImage.Status.values, 0)
    for row in EnrollmentImage.objects.values("status").order_by().annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def answers_since(since: datetime) -> Answers:
    with connection.cursor() as cursor:
        cursor.execute(_ANSWERS_SQL, [since])
        row = [int(v) for v in cursor.fetchone()]
    return Answers(identify=dict(zip(IDENTIFY_OUTCOMES, row[:3])), verify=dict(zip(VERIFY_OUTCOMES, row[3:])))


def recent_answers(now: datetime | None = None) -> dict[str, Answers]:
    now = now or timezone.now()
    return {name: answers_since(now - span) for name, span in WINDOWS.items()}


def thresholds_in_force(model_version: str) -> list[Threshold]:
    found = []
    for kind in RecognitionThreshold.Kind.values:
        in_use = recognition.current_threshold(kind, model_version=model_version)
        found.append(Threshold(kind=kind, value=in_use.value, source=in_use.source, stored=in_use.stored is not None))
    return found


def classifier(model_version: str, now: datetime | None = None) -> Classifier | None:
    row = recognition.current_classifier(model_version)
    if row is None:
        return None
    trained_at = row.finished_at
    age = None if trained_at is None else max(0.0, ((now or timezone.now()) - trained_at).total_seconds())
    return Classifier(version=row.pk, trained_at=trained_at, age_s=age, n_identities=row.n_identities)


def last_report() -> EvaluationReport | None:
    return (EvaluationReport.objects.filter(status=EvaluationReport.Status.DONE)
            .order_by("-finished_at", "-id").first())


def headline_figures(report: EvaluationReport | None) -> dict[str, float]:
    metrics = (report.metrics if report is not None else None) or {}
    return {name: metrics[name] for name in HEADLINE_METRICS if isinstance(metrics.get(name), (int, float))}


def platform_figures() -> PlatformFigures:
    model_version = recognition.current_model_version()
    report = last_report()
    return PlatformFigures(
        model_version=model_version, people=people(),
        active_templates=recognition.active_templates(model_version).count(), photos=photos_by_status(),
        answers=recent_answers(), thresholds=thresholds_in_force(model_version),
        classifier=classifier(model_version), last_report=report, headline=headline_figures(report),
        pending_webhook_deliveries=webhooks.pending_deliveries_count())


def build_info() -> dict[str, str]:
    """What is serving: the embedding model and the liveness policy (no secret, no path)."""
    return {"model_version": recognition.current_model_version(), "liveness_policy": settings.FACEREC_LIVENESS}
