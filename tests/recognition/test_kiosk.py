"""The kiosk's frame endpoint: real frames through identify / verify, one record per stable decision.

The browser side (a fake camera in Chromium) is tests/browser/test_kiosk.py.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditLog
from recognition.models import MatchScore
from recognition.services.kiosk import ACCEPT, NOBODY, REFUSE, STABLE_FRAMES, advance
from tests.recognition.conftest import grey_jpeg, lfw_bytes
from tests.users import make_user

pytestmark = pytest.mark.django_db

PAGE = reverse("recognition:kiosk")
FRAME = reverse("recognition:kiosk_frame")


def jpeg_frame(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("frame.jpg", data, content_type="image/jpeg")


def entries(action: str) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action).order_by("id"))


class TestStability:
    """The rule alone: shown and recorded after STABLE_FRAMES agreeing frames, recorded again only on a change."""

    def test_a_decision_is_stable_after_agreeing_frames_and_recorded_once(self):
        state: dict = {}
        seen = [advance(state, ACCEPT) for _ in range(STABLE_FRAMES + 3)]
        assert [stable for _, stable, _ in seen] == [None] * (STABLE_FRAMES - 1) + [ACCEPT] * 4
        assert [record for _, _, record in seen].count(True) == 1
        assert seen[STABLE_FRAMES - 1][2] is True  # recorded on the frame that made it stable

    def test_a_disagreeing_frame_restarts_the_streak(self):
        state: dict = {}
        for decision in (ACCEPT, ACCEPT, REFUSE, ACCEPT, ACCEPT):
            streak, stable, record = advance(state, decision)
            assert stable is None and not record
        assert streak == 2

    def test_a_new_stable_decision_is_recorded_and_nobody_never_is(self):
        state: dict = {}
        records = [advance(state, d)[2] for d in [ACCEPT] * 3 + [NOBODY] * 3 + [ACCEPT] * 3 + [REFUSE] * 3]
        assert records.count(True) == 3  # accept, accept again after the person left, refuse
        assert state["recorded"] == REFUSE


class TestKioskFrames:
    def post(self, client, data: bytes, **fields):
        return client.post(FRAME, {"frame": jpeg_frame(data), "run": "run1", **fields})

    def test_identify_names_the_face_and_audits_once_per_stable_decision(self, client, gallery):
        client.force_login(gallery.owner)
        bush = gallery.people["George_W_Bush"]
        before, scores = len(entries("recognition.identify")), MatchScore.objects.count()

        answers = [self.post(client, lfw_bytes("George_W_Bush", 10), mode="identify").json()
                   for _ in range(STABLE_FRAMES + 2)]

        [face] = answers[0]["faces"]
        assert face["label"] == "George W Bush" and face["known"] is True
        x1, y1, x2, y2 = face["box"]
        assert 40 < x1 < x2 < 210 and 40 < y1 < y2 < 230  # the LFW face, in the middle of its 250 px photo
        assert answers[0]["image_size"] == [250, 250]
        assert [a["stable"] for a in answers] == [None] * (STABLE_FRAMES - 1) + [str(bush.pk)] * 3
        assert [a["recorded"] for a in answers].count(True) == 1
        new = entries("recognition.identify")[before:]
        assert len(new) == 1  # five frames, one answer in the audit log
        assert new[0].details["source"] == "kiosk" and new[0].details["identified"] == [bush.pk]
        assert MatchScore.objects.count() == scores + 1

        # Someone else steps in: a new stable decision, one more entry.
        stranger = [self.post(client, lfw_bytes("Ariel_Sharon", 1), mode="identify").json()
                    for _ in range(STABLE_FRAMES)]
        assert stranger[-1]["faces"][0]["label"] == "unknown" and stranger[-1]["stable"] == "unknown"
        assert len(entries("recognition.identify")[before:]) == 2

    def test_verify_accepts_the_person_and_refuses_another_once_stable(self, client, gallery):
        client.force_login(gallery.owner)
        bush, powell = gallery.people["George_W_Bush"], gallery.people["Colin_Powell"]
        before = len(entries("recognition.verify"))

        claims = [self.post(client, lfw_bytes("George_W_Bush", 10), mode="verify", identity=bush.pk).json()
                  for _ in range(STABLE_FRAMES + 1)]
        assert [c["stable"] for c in claims] == [None] * (STABLE_FRAMES - 1) + [ACCEPT, ACCEPT]
        assert claims[0]["faces"][0]["label"] == "George W Bush"
        impostor = [self.post(client, lfw_bytes("George_W_Bush", 10), mode="verify", identity=powell.pk).json()
                    for _ in range(STABLE_FRAMES)]
        assert impostor[-1]["stable"] == REFUSE and impostor[-1]["faces"][0]["known"] is False

        new = entries("recognition.verify")[before:]
        assert [(e.target_id, e.details["match"], e.details["source"]) for e in new] == [
            (str(bush.pk), True, "kiosk"), (str(powell.pk), False, "kiosk")]

    def test_a_frame_without_a_face_is_no_answer_not_a_refusal(self, client, gallery):
        client.force_login(gallery.owner)
        before = AuditLog.objects.count()
        answers = [self.post(client, grey_jpeg(), mode="verify", identity=gallery.people["Tony_Blair"].pk).json()
                   for _ in range(STABLE_FRAMES)]
        assert [a["decision"] for a in answers] == [NOBODY] * STABLE_FRAMES
        assert answers[-1]["faces"] == [] and not answers[-1]["recorded"]
        assert AuditLog.objects.count() == before

    @pytest.mark.parametrize("fields, status, code", [
        ({"mode": "identify"}, 400, "no_image"),
        ({"mode": "identify", "frame": b"not an image at all"}, 400, None),
        ({"mode": "watch", "frame": b"x"}, 400, "invalid"),
        ({"mode": "identify", "run": "../../etc", "frame": b"x"}, 400, "invalid"),
        ({"mode": "verify", "frame": b"x"}, 404, "not_found"),
        ({"mode": "verify", "identity": "abc", "frame": b"x"}, 404, "not_found"),
    ])
    def test_bad_input_is_a_4xx_with_a_reason(self, client, gallery, fields, status, code):
        client.force_login(gallery.owner)
        data = {"run": "run1", **fields}
        if "frame" in data:
            data["frame"] = jpeg_frame(data["frame"])
        response = client.post(FRAME, data)
        assert response.status_code == status
        error = response.json()["error"]
        assert error["message"]
        if code:
            assert error["code"] == code

    def test_a_frame_over_the_upload_limit_is_413(self, client, gallery, settings):
        client.force_login(gallery.owner)
        settings.FACEREC_MAX_UPLOAD_BYTES = 1000
        response = self.post(client, lfw_bytes("George_W_Bush", 10), mode="identify")
        assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_the_page_may_use_the_camera_and_loads_its_script_from_a_file(client, operator):
    client.force_login(operator)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert response["Permissions-Policy"].startswith("camera=(self)")
    html = response.content.decode()
    assert 'src="/static/recognition/kiosk.js"' in html and "<script>" not in html
    assert f'href="{PAGE}"' in html  # linked from the nav


def test_a_reviewer_may_not_open_the_kiosk_nor_send_frames(client):
    client.force_login(make_user("kiosk-reviewer", "reviewer"))
    assert client.get(PAGE).status_code == 403
    assert client.post(FRAME, {"mode": "identify", "run": "r", "frame": jpeg_frame(grey_jpeg())}).status_code == 403
