"""A real gallery for identification and verification tests, built in-process.

People are enrolled through enrollment.services from real LFW photos, each photo is
processed (detect, quality, crop, embed) here rather than by a worker, approved, and
the classifier is trained by recognition.services.retrain. Building costs a few
seconds, so `gallery` is class-scoped: it is built once inside an outer transaction
that every test of the class nests in (as a savepoint) and rolled back afterwards,
so nothing it writes (rows, audit entries) outlives the class. No task is sent
(on-commit callbacks never run), and while the class runs its transaction holds the
audit log's append lock, so nothing else may write audit entries to the test database
meanwhile (no worker or live server is used here).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import transaction
from PIL import Image

from enrollment import services as identity_services
from identities.models import EnrollmentImage, Identity
from recognition import services
from recognition.models import ClassifierVersion
from tests.shared_data import LFW_IMAGES, lfw_bytes
from tests.users import make_user

PEOPLE = ("George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld")
# Never enrolled: identification must call them unknown.
STRANGERS = ("Gerhard_Schroeder", "Ariel_Sharon", "Jacques_Chirac", "Hugo_Chavez", "Junichiro_Koizumi")
ENROLLMENT_PHOTOS = (1, 2, 3)
PASSWORD = "recognition-test-Pa55word!"


def lfw_path(person: str, n: int) -> Path:
    return LFW_IMAGES / person / f"{person}_{n:04d}.jpg"


def display_name(person: str) -> str:
    return person.replace("_", " ")


def side_by_side(*photos: tuple[str, int], height: int = 250) -> bytes:
    """LFW photos pasted left to right on one canvas (500x250 for two): a probe with several faces.

    Each is cut to its central 160 px first: LFW photos often show bystanders at their edges.
    """
    canvas = Image.new("RGB", (height * len(photos), height), (128, 128, 128))
    for i, (person, n) in enumerate(photos):
        with Image.open(lfw_path(person, n)) as im:
            face = im.convert("RGB").crop((45, 45, 205, 205)).resize((height, height), Image.Resampling.LANCZOS)
        canvas.paste(face, (i * height, 0))
    return jpeg(canvas)


def grey_jpeg(size: tuple[int, int] = (400, 300)) -> bytes:
    return jpeg(Image.new("RGB", size, (128, 128, 128)))


def jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


@dataclass
class Gallery:
    owner: object  # the (non-staff) user who enrolled everyone
    people: dict[str, Identity] = field(default_factory=dict)  # LFW folder name -> identity
    classifier: ClassifierVersion | None = None


def enroll(person: str, *, actor, photos=ENROLLMENT_PHOTOS) -> Identity:
    """Enroll one person with approved templates, as the worker and a reviewer would leave them."""
    identity = identity_services.create_identity(display_name=display_name(person), actor=actor)
    identity_services.record_consent(identity=identity, given_by_name=display_name(person),
                                     purpose="building access", wording_version="v1", actor=actor)
    images = identity_services.enroll_photos(identity=identity, actor=actor, uploads=[
        identity_services.Upload(name=lfw_path(person, n).name, data=lfw_bytes(person, n)) for n in photos])
    for image in images:
        status = identity_services.process_photo(image.pk)
        if status != EnrollmentImage.Status.AWAITING_REVIEW:
            image.refresh_from_db()
            raise AssertionError(f"{person} photo #{image.pk}: {status} ({image.rejection_reason}: "
                                 f"{image.rejection_detail})")
    identity_services.approve_photos(image_ids=[image.pk for image in images], actor=actor)
    return identity


def train_classifier() -> ClassifierVersion:
    """What the retrain task does; in `db` tests approve_photos's on-commit request never fires."""
    version = ClassifierVersion.objects.create(status=ClassifierVersion.Status.PENDING)
    return services.retrain(version.pk)


def build_gallery(people=PEOPLE, *, owner) -> Gallery:
    gallery = Gallery(owner=owner)
    for person in people:
        gallery.people[person] = enroll(person, actor=owner)
    gallery.classifier = train_classifier()
    return gallery


@pytest.fixture(scope="class")
def gallery(django_db_setup, django_db_blocker):
    """Four people with three approved photos each and a trained classifier (see module doc)."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            owner = make_user("enroller", "operator", password=PASSWORD)
            built = build_gallery(owner=owner)
            assert built.classifier.status == ClassifierVersion.Status.READY, built.classifier.error
            yield built
            transaction.set_rollback(True)


@pytest.fixture
def gallery_owner(gallery):
    """The gallery's owner: a signed-in operator who enrolled everyone (not the shared `operator`)."""
    return gallery.owner


@pytest.fixture
def stranger_user(django_user_model):
    """Signed in, not staff, enrolled nobody."""
    return make_user("someone-else", "operator", password=PASSWORD)
