"""Applied thresholds: a stored, audited history per model version that verify and identify then use.

The decisions are checked on real LFW photos: a borderline pair of one person (similarity
near the default threshold) matches or not as the stored threshold moves just below or
just above its similarity, through the service and through POST /api/v1/verify.
"""

from __future__ import annotations

import math
import re
from datetime import timezone as dt_timezone

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditLog
from core.errors import DomainError
from recognition import selectors, services
from recognition.models import RecognitionThreshold
from recognition.runtime import decode_image
from tests.recognition.conftest import lfw_bytes
from tests.users import make_user

pytestmark = pytest.mark.django_db

MODEL = "test-model-v1"
VERIFY, IDENTIFY = RecognitionThreshold.Kind.VERIFY, RecognitionThreshold.Kind.IDENTIFY
STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"
# Two photos of Tony Blair whose similarity (about 0.45) sits at the default threshold.
BORDERLINE_PAIR = (("Tony_Blair", 15), ("Tony_Blair", 18))
MARGIN = 0.005


@pytest.fixture
def alice(django_user_model):
    return make_user("alice", "admin")


def api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("probe.jpg", data, content_type="image/jpeg")


def serving_model() -> str:
    return services.current_model_version()


# --- storing and reading --------------------------------------------------------------------


def test_without_a_stored_threshold_the_settings_apply(settings):
    settings.FACEREC_VERIFY_THRESHOLD, settings.FACEREC_IDENTIFY_THRESHOLD = 0.41, 0.52

    verify = selectors.current_threshold(VERIFY, model_version=MODEL)
    identify = selectors.current_threshold(IDENTIFY, model_version=MODEL)

    assert (verify.value, verify.source) == (0.41, "default setting FACEREC_VERIFY_THRESHOLD")
    assert (identify.value, identify.source) == (0.52, "default setting FACEREC_IDENTIFY_THRESHOLD")
    assert verify.stored is None and verify.set_by_name is None and verify.set_at is None


def test_a_set_threshold_is_kept_in_the_history_and_the_latest_applies(alice, settings):
    settings.FACEREC_VERIFY_THRESHOLD = 0.45

    first = services.set_threshold(kind=VERIFY, value=0.5, model_version=MODEL, actor=alice,
                                   source="evaluation report #11", report_id=11)
    second = services.set_threshold(kind=VERIFY, value=0.42, model_version=MODEL, actor=alice,
                                    source="evaluation report #12", report_id=12)

    assert list(RecognitionThreshold.objects.values_list("value", "previous_value", "report_id")) == [
        (0.42, 0.5, 12), (0.5, 0.45, 11)]  # newest first; the first replaced the default setting
    in_use = selectors.current_threshold(VERIFY, model_version=MODEL)
    assert in_use.value == 0.42 and in_use.stored == second and in_use.set_by_name == "alice"
    assert in_use.set_at == second.set_at
    when = second.set_at.astimezone(dt_timezone.utc).strftime("%Y-%m-%d %H:%M")
    assert in_use.source == f"evaluation report #12, applied by alice on {when} UTC"
    assert first.set_by == second.set_by == alice
    # Each kind has its own history.
    assert selectors.current_threshold(IDENTIFY, model_version=MODEL).stored is None


def test_a_threshold_set_without_a_report_says_who_set_it(alice):
    services.set_threshold(kind=IDENTIFY, value=0.6, model_version=MODEL, actor=alice, source="manual calibration")

    source = selectors.current_threshold(IDENTIFY, model_version=MODEL).source
    assert re.fullmatch(rf"manual calibration, set by alice on {STAMP}", source), source


def test_setting_a_threshold_is_audited_with_old_new_and_who(alice, settings):
    settings.FACEREC_IDENTIFY_THRESHOLD = 0.45

    row = services.set_threshold(kind=IDENTIFY, value=0.55, model_version=MODEL, actor=alice,
                                 source="evaluation report #7", report_id=7)

    entry = AuditLog.objects.get(action="recognition.threshold_set")
    assert entry.actor == alice and entry.actor_name == "alice"
    assert (entry.target_type, entry.target_id) == ("recognition.recognitionthreshold", str(row.pk))
    assert entry.details == {"kind": "identify", "old": 0.45, "new": 0.55, "model_version": MODEL,
                             "source": "evaluation report #7", "report_id": 7}


@pytest.mark.parametrize("kind, value", [
    (VERIFY, math.nan),
    (VERIFY, math.inf),
    (VERIFY, 2.0),
    (IDENTIFY, -1.5),
    ("closed-set", 0.5),
])
def test_an_invalid_threshold_is_refused_and_nothing_is_stored(alice, kind, value):
    with pytest.raises(DomainError) as refused:
        services.set_threshold(kind=kind, value=value, model_version=MODEL, actor=alice,
                               source="evaluation report #1", report_id=1)

    assert refused.value.code == "invalid_threshold" and refused.value.status == 400
    assert refused.value.field == ("kind" if kind == "closed-set" else "value")
    assert not RecognitionThreshold.objects.exists()
    assert not AuditLog.objects.filter(action="recognition.threshold_set").exists()


def test_the_database_refuses_an_out_of_range_value_too():
    with pytest.raises(IntegrityError), transaction.atomic():
        RecognitionThreshold.objects.create(kind=VERIFY, value=1.5, model_version=MODEL, source="by hand")


def test_a_threshold_stored_for_another_model_version_is_ignored(alice, settings):
    settings.FACEREC_VERIFY_THRESHOLD = 0.45
    services.set_threshold(kind=VERIFY, value=0.3, model_version="older-model", actor=alice,
                           source="evaluation report #3", report_id=3)

    in_use = selectors.current_threshold(VERIFY, model_version=MODEL)

    assert in_use.value == 0.45 and in_use.stored is None
    assert in_use.source == "default setting FACEREC_VERIFY_THRESHOLD"


# --- decisions on real photos ---------------------------------------------------------------


@pytest.fixture(scope="module")
def borderline_images():
    (a, n), (b, m) = BORDERLINE_PAIR
    return decode_image(lfw_bytes(a, n)), decode_image(lfw_bytes(b, m))


def test_a_borderline_pair_matches_or_not_as_the_stored_verify_threshold_moves(alice, borderline_images):
    image_a, image_b = borderline_images
    default = services.verify_images(image_a=image_a, image_b=image_b, actor=alice)
    similarity, score = default.similarity, default.score
    assert 0.3 < similarity < 0.6, similarity  # a moderate similarity: where the threshold decides
    model_version = serving_model()

    services.set_threshold(kind=VERIFY, value=round(score + MARGIN, 4), model_version=model_version,
                           actor=alice, source="evaluation report #21", report_id=21)
    stricter = services.verify_images(image_a=image_a, image_b=image_b, actor=alice)
    services.set_threshold(kind=VERIFY, value=round(score - MARGIN, 4), model_version=model_version,
                           actor=alice, source="evaluation report #22", report_id=22)
    looser = services.verify_images(image_a=image_a, image_b=image_b, actor=alice)

    assert stricter.similarity == looser.similarity == similarity and stricter.score == looser.score == score
    assert stricter.match is False and stricter.threshold == round(score + MARGIN, 4)
    assert re.fullmatch(rf"evaluation report #21, applied by alice on {STAMP}", stricter.threshold_source)
    assert looser.match is True and looser.threshold == round(score - MARGIN, 4)
    assert re.fullmatch(rf"evaluation report #22, applied by alice on {STAMP}", looser.threshold_source)
    # A threshold given with the request still wins.
    asked = services.verify_images(image_a=image_a, image_b=image_b, threshold=0.99, actor=alice)
    assert (asked.match, asked.threshold, asked.threshold_source) == (False, 0.99, "request")


def test_the_verify_api_uses_and_names_the_stored_threshold(alice):
    (a, n), (b, m) = BORDERLINE_PAIR
    client = api_client(alice)

    def verify() -> dict:
        response = client.post("/api/v1/verify", {"image_a": upload(lfw_bytes(a, n)),
                                                  "image_b": upload(lfw_bytes(b, m))}, format="multipart")
        assert response.status_code == 200, response.content
        return response.json()

    default = verify()
    assert default["threshold_source"].startswith("calibrated default: FAR 0.001 per claim")
    score = default["score"]

    services.set_threshold(kind=VERIFY, value=round(score + MARGIN, 4), model_version=default["model_version"],
                           actor=alice, source="evaluation report #31", report_id=31)
    stricter = verify()
    services.set_threshold(kind=VERIFY, value=round(score - MARGIN, 4), model_version=default["model_version"],
                           actor=alice, source="evaluation report #32", report_id=32)
    looser = verify()

    assert stricter["match"] is False and stricter["threshold"] == round(score + MARGIN, 4)
    assert stricter["threshold_source"].startswith("evaluation report #31, applied by alice on ")
    assert looser["match"] is True and looser["threshold"] == round(score - MARGIN, 4)
    assert looser["threshold_source"].startswith("evaluation report #32, applied by alice on ")


class TestWithAGallery:
    """Identification and the duplicate warning against the enrolled gallery (tests/recognition/conftest.py)."""

    PROBE = ("George_W_Bush", 12)

    def identify(self, client: APIClient) -> dict:
        response = client.post("/api/v1/identify", {"image": upload(lfw_bytes(*self.PROBE))}, format="multipart")
        assert response.status_code == 200, response.content
        return response.json()

    def test_identify_uses_and_names_the_stored_identify_threshold(self, gallery, alice):
        client = api_client(gallery.owner)
        default = self.identify(client)
        [face] = default["faces"]
        assert face["label"] == "George W Bush"
        assert default["threshold_source"] == ("calibrated default: FPIR 0.005 whatever the gallery size "
                                               "(LFW impostor pairs)")

        services.set_threshold(kind=IDENTIFY, value=round(face["score"] + MARGIN, 4),
                               model_version=default["model_version"], actor=alice, source="evaluation report #41",
                               report_id=41)
        stricter = self.identify(client)
        services.set_threshold(kind=IDENTIFY, value=round(face["score"] - MARGIN, 4),
                               model_version=default["model_version"], actor=alice, source="evaluation report #42",
                               report_id=42)
        looser = self.identify(client)

        assert stricter["faces"][0]["label"] == "unknown" and stricter["faces"][0]["identity"] is None
        assert stricter["threshold"] == round(face["score"] + MARGIN, 4)
        assert re.fullmatch(rf"evaluation report #41, applied by alice on {STAMP}", stricter["threshold_source"])
        assert looser["faces"][0]["identity"]["id"] == gallery.people["George_W_Bush"].pk
        assert looser["threshold_source"].startswith("evaluation report #42, applied by alice on ")
        # The stored verify threshold is another matter: identify ignores it.
        services.set_threshold(kind=VERIFY, value=0.99, model_version=default["model_version"], actor=alice,
                               source="evaluation report #43", report_id=43)
        assert self.identify(client)["threshold_source"].startswith("evaluation report #42")

    def test_the_identify_page_names_the_stored_threshold(self, gallery, alice, client):
        services.set_threshold(kind=IDENTIFY, value=0.4, model_version=gallery.classifier.model_version,
                               actor=alice, source="evaluation report #51", report_id=51)
        client.force_login(gallery.owner)

        response = client.post(reverse("recognition:identify"), {"image": upload(lfw_bytes(*self.PROBE)),
                                                                 "top_k": 3})

        html = response.content.decode()
        assert response.status_code == 200 and "0.400" in html
        assert re.search(rf"\(evaluation report #51, applied by alice on {STAMP}\)", html), html

    def test_the_duplicate_warning_uses_the_stored_identify_threshold(self, gallery, alice):
        """A photo is flagged when identify would answer another enrolled person for it."""
        from recognition.runtime import get_pipeline

        [face] = get_pipeline().process([decode_image(lfw_bytes(*self.PROBE))], select="largest")[0]
        model_version = gallery.classifier.model_version
        other = gallery.people["Colin_Powell"].pk

        warned = services.possible_duplicate(face.embedding, model_version=model_version, exclude_identity_id=other)
        assert warned["identity_id"] == gallery.people["George_W_Bush"].pk
        assert warned["score"] >= warned["threshold"]
        services.set_threshold(kind=IDENTIFY, value=round(warned["score"] + MARGIN, 4),
                               model_version=model_version, actor=alice, source="evaluation report #61",
                               report_id=61)

        assert services.possible_duplicate(face.embedding, model_version=model_version,
                                           exclude_identity_id=other) is None
