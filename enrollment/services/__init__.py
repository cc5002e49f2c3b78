"""The workflows that span apps: a person's photos from upload to template, consent lapses, erasure.

One module per job; the public names are re-exported here. identities' own writes
(create_identity, record_consent, update_identity) are re-exported too, so that enrolling
a person takes one import.
"""

from enrollment.services.consent import expire_consents, lapse_consent, withdraw_consent
from enrollment.services.erasure import erase_due_identities, erase_identity
from enrollment.services.photos import Upload, enroll_photos, processing_task_id, requeue_stale_photos
from enrollment.services.processing import (
    TRANSIENT_ERRORS,
    choose_face,
    claim_for_processing,
    mark_failed,
    process_photo,
)
from enrollment.services.review import approve_photos, reject_photos
from identities.services import create_identity, record_consent, update_identity

__all__ = [
    "TRANSIENT_ERRORS", "Upload", "approve_photos", "choose_face", "claim_for_processing", "create_identity",
    "enroll_photos", "erase_due_identities", "erase_identity", "expire_consents", "lapse_consent", "mark_failed",
    "process_photo", "processing_task_id", "record_consent", "reject_photos", "requeue_stale_photos",
    "update_identity", "withdraw_consent",
]
