"""Evaluation reports: what was measured, on which data and models, with what result."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EvaluationReport(models.Model):
    """One run of a report kind; metrics and plot files are filled in when it finishes.

    Reports hold figures only (scores, rates, thresholds, identity ids): no photo, crop
    or embedding, so they can outlive the people they measured.
    """

    class Kind(models.TextChoices):
        ENROLLED = "enrolled", "enrolled data (k-fold over approved photos)"
        BENCHMARK = "benchmark", "benchmark folder (LFW pairs or folder per identity)"
        OPEN_SET = "open-set", "open set (identities held out as strangers)"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.FloatField(default=0.0, help_text="0..1")
    progress_message = models.CharField(max_length=200, blank=True)
    model_version = models.CharField(max_length=100, blank=True)
    classifier_version = models.PositiveIntegerField(null=True, blank=True,
                                                     help_text="Current classifier when the report ran.")
    metrics = models.JSONField(default=dict, blank=True)
    plots = models.JSONField(default=dict, blank=True, help_text="plot name -> file name in the report folder")
    skipped = models.JSONField(default=dict, blank=True, help_text="item -> reason it was left out")
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started it: only the latest "
                                                                     "run's results are stored.")
    scheduled = models.BooleanField(default=False, help_text="Created by the weekly schedule.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"report #{self.pk} ({self.kind}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
