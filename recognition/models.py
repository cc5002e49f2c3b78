"""Face templates in pgvector, versions of the identification classifier, applied thresholds."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from pgvector.django import HnswIndex, VectorField

from recognition.pipeline.facenet import EMBEDDING_DIM  # the network's, for the vector column


class FaceEmbedding(models.Model):
    """One L2-normalised FaceNet embedding of one enrollment photo, for one model version.

    Only active embeddings of the current model version are searched; embeddings of
    different model versions are never compared.
    """

    image = models.ForeignKey("identities.EnrollmentImage", on_delete=models.CASCADE, related_name="embeddings")
    identity = models.ForeignKey("identities.Identity", on_delete=models.CASCADE, related_name="embeddings")
    vector = VectorField(dimensions=EMBEDDING_DIM)
    model_name = models.CharField(max_length=100)
    model_version = models.CharField(max_length=100, db_index=True)
    active = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "model_version"], name="one_embedding_per_image_and_model"),
        ]
        indexes = [
            # HNSW on cosine distance with pgvector's defaults m=16 / ef_construction=64: in
            # bench/search_bench.py at 100k vectors, ef_search=100 (FACEREC_HNSW_EF_SEARCH)
            # finds the true nearest vector 99% of the time and the right identity 100%, at
            # 14 ms p50 against 830 ms for an exact scan; a denser graph mainly costs build
            # time (already 4 min for 100k on 2 cores) and memory. Larger galleries search wider
            # (selectors.hnsw_ef_search); at 300k m=32 / ef_construction=128 needs a quarter of the
            # breadth for the same recall (README, Performance), at 3.7x the build time.
            HnswIndex(name="faceembedding_vector_hnsw", fields=["vector"], m=16, ef_construction=64,
                      opclasses=["vector_cosine_ops"]),
        ]

    def __str__(self) -> str:
        return f"embedding #{self.pk} of photo #{self.image_id} ({self.model_version})"


class ClassifierVersion(models.Model):
    """A trained SVM (one-vs-rest linear); `current` marks the one identification uses for its model version."""

    class Status(models.TextChoices):
        PENDING = "pending"
        TRAINING = "training"
        READY = "ready"
        FAILED = "failed"
        SKIPPED = "skipped"  # too few identities: identification uses nearest neighbours alone

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    current = models.BooleanField(default=False)
    model_version = models.CharField(max_length=100, blank=True)
    kernel = models.CharField(max_length=16, blank=True)
    artifact_dir = models.CharField(max_length=300, blank=True)
    n_identities = models.PositiveIntegerField(default=0)
    n_samples = models.PositiveIntegerField(default=0)
    validation_accuracy = models.FloatField(null=True, blank=True)
    training_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    # Debouncing: the latest request this waiting retrain serves, and how often it was put off.
    last_requested_at = models.DateTimeField(null=True, blank=True)
    deferrals = models.PositiveIntegerField(default=0)
    urgent = models.BooleanField(default=False, help_text="Train at once and from scratch (after an erasure).")
    refitted = models.PositiveIntegerField(null=True, blank=True,
                                           help_text="Identities trained; the others were kept from the previous version.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One current classifier per model version: after a model change the next
            # version's classifier is ready before the switch.
            models.UniqueConstraint(fields=["model_version"], condition=models.Q(current=True),
                                    name="one_current_classifier_per_model"),
            # Coalescing: at most one retrain waits at a time.
            models.UniqueConstraint(fields=["status"], condition=models.Q(status="pending"),
                                    name="one_pending_retrain"),
        ]

    def __str__(self) -> str:
        return f"classifier v{self.pk} ({self.status}{', current' if self.current else ''})"


class RecognitionThreshold(models.Model):
    """One applied decision threshold: an append-only history, the latest row per kind and model version rules.

    A value is measured on one embedding model's similarities, so it applies to that model
    version only; with no row for the serving version the setting (FACEREC_*_THRESHOLD)
    applies. `report_id` names the evaluation report it came from without a foreign key:
    the evaluation app points here, recognition does not depend on it.
    """

    class Kind(models.TextChoices):
        VERIFY = "verify"  # 1:1, on cosine similarity
        IDENTIFY = "identify"  # 1:N open set, on the combined score

    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.FloatField()
    model_version = models.CharField(max_length=100)
    source = models.CharField(max_length=200, help_text='What it came from, e.g. "evaluation report #12".')
    report_id = models.PositiveIntegerField(null=True, blank=True)
    previous_value = models.FloatField(null=True, blank=True, help_text="The value in force before this one.")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    # Who it was, kept when the user is later deleted (as the audit log's actor_name).
    set_by_name = models.CharField(max_length=150, blank=True)
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-set_at", "-id"]
        indexes = [models.Index(fields=["kind", "model_version", "-set_at", "-id"], name="threshold_latest")]
        constraints = [
            # Both are on a cosine-similarity scale. (PostgreSQL ranks NaN above every number: refused too.)
            models.CheckConstraint(condition=models.Q(value__gte=-1.0, value__lte=1.0),
                                   name="threshold_value_in_range"),
            models.CheckConstraint(condition=models.Q(kind__in=["verify", "identify"]), name="threshold_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} threshold {self.value:g} for {self.model_version} ({self.source})"


class MatchScore(models.Model):
    """The similarity of one successful identification or verification to an identity's templates.

    A score only (no probe photo, no embedding): drift monitoring compares an identity's
    recent scores with how alike its own templates are.
    """

    class Kind(models.TextChoices):
        VERIFY = "verify"
        IDENTIFY = "identify"

    identity = models.ForeignKey("identities.Identity", on_delete=models.CASCADE, related_name="match_scores")
    similarity = models.FloatField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    model_version = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["identity", "model_version", "-created_at"], name="matchscore_recent")]

    def __str__(self) -> str:
        return f"{self.kind} match {self.similarity:.3f} for identity #{self.identity_id}"
