"""Right to erasure: at once on request, or when the erasure date a consent lapse set has come."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit import services as audit
from cameras.services.sightings import forget_identity as forget_in_cameras
from identities.models import Consent, EnrollmentImage, Identity
from identities.selectors import valid_consent
from identities.services import delete_stored_files
from recognition.services import delete_recognition_data, request_retrain, scrub_identity_from_classifiers
from reenrollment.models import IdentityPolicy
from videos.services.retention import forget_identity as forget_in_videos
from webhooks.services import emit


def erase_identity(*, identity: Identity, actor=None) -> dict[str, int]:
    """Right to erasure: photos, crops, embeddings, consents, video tracks and camera sightings go; name,
    external ref, notes, contact email and attributes are blanked; one audit entry stays.

    Idempotent: erasing an erased identity removes whatever is left (nothing) and
    records nothing new.
    """
    files: list[str] = []
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=identity.pk)
        images = list(identity.images.all())
        files = [f.name for image in images for f in (image.file, image.crop) if f]
        counts = {"photos": len(images), **delete_recognition_data(identity=identity)}
        EnrollmentImage.objects.filter(identity=identity).delete()
        # Re-enrollment requests and overrides describe the person too (drift figures).
        identity.reenrollment_requests.all().delete()
        IdentityPolicy.objects.filter(identity=identity).delete()
        counts["consents"] = Consent.objects.filter(identity=identity).delete()[0]
        # Their tracks in video results, with the crops (after commit, as the photos); counted when there were any.
        if video_tracks := forget_in_videos(identity.pk):
            counts["video_tracks"] = video_tracks
        # ...and their camera sightings.
        if camera_sightings := forget_in_cameras(identity.pk):
            counts["camera_sightings"] = camera_sightings
        # Other people's photos flagged as looking like this person forget whom they looked like.
        for other in EnrollmentImage.objects.filter(quality__possible_duplicate__identity_id=identity.pk):
            other.quality = {**other.quality, "possible_duplicate": None}
            other.save(update_fields=["quality"])
        already = identity.status == Identity.Status.ERASED
        identity.status = Identity.Status.ERASED
        identity.display_name = ""
        identity.external_ref = None
        identity.notes = ""
        identity.contact_email = ""
        identity.attributes = {}
        identity.erasure_due_at = None
        identity.save()
        if not (already and not any(counts.values())):
            audit.record(action="identity.erase", actor=actor, target=identity, details=counts)
            emit("identity.erased", {"identity_id": identity.pk}, identity_id=identity.pk)
        transaction.on_commit(lambda: delete_stored_files(files))
        # Classifier artifacts are learnt from the templates: the person's row goes from
        # every stored one now, and an urgent retrain from scratch replaces them.
        identity_id = identity.pk
        transaction.on_commit(lambda: scrub_identity_from_classifiers(identity_id))
        if counts["embeddings"]:
            request_retrain(urgent=True)
    return counts


def erase_due_identities() -> list[int]:
    """Identities whose erasure date (after a consent lapse) has come."""
    due = list(Identity.objects.filter(erasure_due_at__lte=timezone.now(), status=Identity.Status.ACTIVE))
    for identity in due:
        if valid_consent(identity) is None:
            erase_identity(identity=identity)
        else:
            Identity.objects.filter(pk=identity.pk).update(erasure_due_at=None)
    return [identity.pk for identity in due]
