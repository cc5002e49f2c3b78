"""Domain errors of enrollment; the API and the pages turn them into clear 4xx answers."""

from __future__ import annotations


class DomainError(Exception):
    """Base: `code` is machine-readable, `status` the HTTP status it maps to."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None, detail=None,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.field = field
        self.detail = detail


class NotFound(DomainError):
    code = "not_found"
    status = 404


class ConsentRequired(DomainError):
    code = "consent_required"
    status = 409


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409


class DuplicatePhoto(DomainError):
    code = "duplicate_photo"
    status = 409


class IdentityErased(DomainError):
    code = "identity_erased"
    status = 410


class PhotoRejected(DomainError):
    """An uploaded file is not a usable image (wraps the pipeline's ImageRejected)."""

    code = "image_rejected"
    status = 400

    @classmethod
    def from_image_rejected(cls, exc, *, field: str, label: str = "", detail=None) -> PhotoRejected:
        """The one mapping of the pipeline's ImageRejected (`reason`, `detail`) to an answer: its reason is
        the code; too many bytes is 413, anything else 400. `label` (a file name) leads the message."""
        return cls(f"{label}: {exc.detail}" if label else exc.detail, code=exc.reason, field=field, detail=detail,
                   status=413 if exc.reason == "too_large" else 400)


class UnsupportedMediaType(DomainError):
    """An upload that is not what the endpoint takes (a photo, a sound or noise sent as a video)."""

    code = "unsupported_media_type"
    status = 415


class UploadTooLarge(DomainError):
    """A file past its route's size limit, refused while it was being received."""

    code = "too_large"
    status = 413


class InvalidThreshold(DomainError):
    code = "invalid_threshold"
    status = 400


class NoFace(DomainError):
    """A probe that must show a face (verify) shows none."""

    code = "no_face"
    status = 400


class NoTemplates(DomainError):
    """Nothing to compare a claim with: the identity has no approved template."""

    code = "no_templates"
    status = 409


class LivenessUnavailable(DomainError):
    """The liveness check a policy demands cannot run (its weights are missing)."""

    code = "liveness_unavailable"
    status = 503
