"""Group photos at enrollment: every significant face is kept, the person's is preselected, a reviewer may
pick another (API and page, audited), and an upload may name the face. Real photos, the real pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditLog
from enrollment import services
from identities.models import EnrollmentImage
from recognition.models import FaceEmbedding
from recognition.runtime import decode_image, get_pipeline
from tests.enrollment.test_workflow import enrolled_person, photo, wait_until_processed
from tests.recognition.conftest import side_by_side

API = "/api/v1"
# Two people side by side, both faces large and sure: Tony Blair on the left, George W Bush on the right.
PAIR = (("Tony_Blair", 1), ("George_W_Bush", 1))


def upload_file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def group_upload(*people: tuple[str, int], face_box=None) -> services.Upload:
    return services.Upload(name="group.jpg", data=side_by_side(*people), face_box=face_box)


@pytest.fixture
def in_process(monkeypatch):
    """Processing runs here, on the real pipeline, instead of on the worker (faster to test policies)."""
    monkeypatch.setattr("enrollment.services.photos._queue_processing", lambda ids: None)


def processed(identity, upload) -> EnrollmentImage:
    [image] = services.enroll_photos(identity=identity, uploads=[upload])
    services.process_photo(image.pk)
    return EnrollmentImage.objects.get(pk=image.pk)


def side(box) -> str:
    return "left" if (box[0] + box[2]) / 2 < 250 else "right"


def embedding_of_face(data: bytes, box) -> np.ndarray:
    pipeline = get_pipeline()
    pixels = decode_image(data)
    [face] = [d for d in pipeline.detector.detect(pixels) if side(d.box) == side(box)]
    return pipeline.embedder.embed(pipeline.crop(pixels, face)[None])[0]


def stored_vector(image: EnrollmentImage) -> np.ndarray:
    return np.asarray(FaceEmbedding.objects.get(image=image).vector)


@pytest.mark.django_db
def test_a_group_photo_goes_to_review_with_the_face_most_like_the_persons_other_photos(in_process):
    bush = enrolled_person("George W Bush")
    assert processed(bush, photo("George_W_Bush", 2)).status == "awaiting_review"

    image = processed(bush, group_upload(*PAIR))

    assert image.status == "awaiting_review", (image.rejection_reason, image.rejection_detail)
    assert len(image.faces) == 2 and [side(face["box"]) for face in image.faces] == ["left", "right"]
    assert side(image.faces[image.face_index]["box"]) == "right"  # Bush, though not the first found
    assert image.face_box == image.faces[image.face_index]["box"]
    assert float(stored_vector(image) @ embedding_of_face(side_by_side(*PAIR), image.face_box)) > 0.99
    assert AuditLog.objects.filter(action="photo.process", target_id=str(image.pk)).get().details["faces"] == 2


@pytest.mark.django_db
def test_without_other_photos_the_largest_face_near_the_centre_is_taken(in_process):
    blair = enrolled_person("Tony Blair")
    # Bush's face pasted small into a corner would fail the size check; two equal faces: the nearer the centre.
    image = processed(blair, group_upload(("Tony_Blair", 1), ("George_W_Bush", 1), ("Colin_Powell", 1)))

    assert len(image.faces) == 3 and image.status == "awaiting_review"
    centre = [abs((face["box"][0] + face["box"][2]) / 2 - 375) for face in image.faces]
    assert image.face_index == int(np.argmin(centre))


@pytest.mark.django_db
def test_the_reviewer_picks_the_other_face_and_the_template_becomes_that_face(in_process, admin, admin_api,
                                                                               django_capture_on_commit_callbacks):
    from identities.models import private_storage

    bush = enrolled_person("George W Bush")
    processed(bush, photo("George_W_Bush", 2))
    image = processed(bush, group_upload(*PAIR))
    other, first_crop = 1 - image.face_index, image.crop.name

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"{API}/photos/{image.pk}/face/", {"index": other}, format="json")

    assert response.status_code == 200, response.content
    assert not private_storage.exists(first_crop)  # the other person's crop is not kept
    body = response.json()
    assert body["face_index"] == other and body["face_box"] == image.faces[other]["box"]
    assert body["status"] == "awaiting_review" and len(body["faces"]) == 2
    image.refresh_from_db()
    assert float(stored_vector(image) @ embedding_of_face(side_by_side(*PAIR), image.faces[other]["box"])) > 0.99
    assert FaceEmbedding.objects.filter(image=image).count() == 1
    entry = AuditLog.objects.get(action="photo.choose_face", target_id=str(image.pk))
    assert entry.details == {"from": 1 - other, "to": other, "status": "awaiting_review"}
    assert entry.actor_id == admin.pk


@pytest.mark.django_db
def test_picking_a_face_is_refused_clearly_when_there_is_nothing_to_pick(in_process, admin_api, operator_api):
    bush = enrolled_person("George W Bush")
    single = processed(bush, photo("George_W_Bush", 2))
    group = processed(bush, group_upload(*PAIR))

    answer = admin_api.post(f"{API}/photos/{single.pk}/face/", {"index": 0}, format="json")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "invalid_transition"
    answer = admin_api.post(f"{API}/photos/{group.pk}/face/", {"index": 5}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["fields"]["index"]
    assert operator_api.post(f"{API}/photos/{group.pk}/face/", {"index": 0}, format="json").status_code == 403
    services.approve_photos(image_ids=[group.pk])
    answer = admin_api.post(f"{API}/photos/{group.pk}/face/", {"index": 0}, format="json")
    assert answer.status_code == 409  # approved: its template is in use


@pytest.mark.django_db
def test_an_upload_may_name_the_face(in_process, admin_api):
    bush = enrolled_person("George W Bush")
    pixels = decode_image(side_by_side(*PAIR))
    [right] = [d for d in get_pipeline().detector.detect(pixels) if side(d.box) == "right"]
    box = ",".join(f"{v:.0f}" for v in right.box)

    answer = admin_api.post(f"{API}/identities/{bush.pk}/photos/", {
        "photos": [upload_file("group.jpg", side_by_side(*PAIR))], "face_box": box}, format="multipart")
    assert answer.status_code == 202, answer.content
    [created] = answer.json()["photos"]
    services.process_photo(created["id"])
    image = EnrollmentImage.objects.get(pk=created["id"])

    assert image.requested_face_box == [float(v) for v in box.split(",")]
    assert image.status == "awaiting_review" and side(image.face_box) == "right"


@pytest.mark.django_db
def test_a_named_face_that_is_not_there_rejects_the_photo_and_a_hint_needs_one_photo(in_process, admin_api):
    bush = enrolled_person("George W Bush")
    image = processed(bush, group_upload(*PAIR, face_box=[0, 0, 30, 30]))
    assert image.status == "rejected" and image.rejection_reason == "face_not_found"

    answer = admin_api.post(f"{API}/identities/{bush.pk}/photos/", {
        "photos": [upload_file("a.jpg", photo("George_W_Bush", 3).data),
                   upload_file("b.jpg", photo("George_W_Bush", 4).data)],
        "face_box": "1,2,3,4"}, format="multipart")
    assert answer.status_code == 400
    assert "one photo" in answer.json()["error"]["fields"]["face_box"][0]
    answer = admin_api.post(f"{API}/identities/{bush.pk}/photos/", {
        "photos": [upload_file("a.jpg", photo("George_W_Bush", 3).data)], "face_box": "9,9,1,1"}, format="multipart")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_face_box"


@pytest.mark.django_db
def test_the_single_policy_still_refuses_a_group_photo(in_process, settings):
    from recognition.runtime import quality_thresholds

    settings.FACEREC_QUALITY = {**settings.FACEREC_QUALITY, "policy": "single"}
    quality_thresholds.cache_clear()  # read once per process
    try:
        image = processed(enrolled_person("George W Bush"), group_upload(*PAIR))
    finally:
        quality_thresholds.cache_clear()
    assert image.status == "rejected" and image.rejection_reason == "multiple_faces"


@pytest.mark.django_db
def test_the_review_page_shows_the_faces_and_the_reviewer_picks_one(in_process, admin, client):
    bush = enrolled_person("George W Bush")
    processed(bush, photo("George_W_Bush", 2))
    image = processed(bush, group_upload(*PAIR))
    client.force_login(admin)

    queue = client.get("/identities/review/").content.decode()
    assert f"/identities/photos/{image.pk}/faces/" in queue and "2 people in this photo" in queue
    page = client.get(f"/identities/photos/{image.pk}/faces/")
    assert page.status_code == 200 and b"data:image/png;base64," in page.content
    assert page.content.count(b'name="face"') == 2

    chosen = client.post(f"/identities/photos/{image.pk}/faces/", {"face": 1 - image.face_index})
    assert chosen.status_code == 302
    image.refresh_from_db()
    assert image.face_index == 1 - AuditLog.objects.get(action="photo.choose_face").details["from"]
    assert client.post(f"/identities/photos/{image.pk}/faces/", {"face": "x"}).status_code == 400


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_group_photo_uploaded_through_the_api_is_processed_by_the_worker_for_review(celery_worker, admin_api):
    bush = enrolled_person("George W Bush")
    answer = admin_api.post(f"{API}/identities/{bush.pk}/photos/", {
        "photos": [upload_file("group.jpg", side_by_side(*PAIR))]}, format="multipart")
    assert answer.status_code == 202, answer.content
    [created] = answer.json()["photos"]

    image = wait_until_processed([created["id"]])[created["id"]]

    assert image.status == "awaiting_review" and len(image.faces) == 2
    body = admin_api.get(f"{API}/photos/{image.pk}/").json()
    assert body["face_index"] == image.face_index and [f["box"] for f in body["faces"]] == [
        f["box"] for f in image.faces]
