"""The webcam kiosk in Chromium, its camera a fake device playing a .y4m clip of a real LFW face.

Chromium is launched here with the fake-camera switches (the session's browser has none). The
person is enrolled by the real pipeline (tests.approved_people: no worker to race); the page runs
its own script under the site's CSP and Permissions-Policy, so a blocked camera, script or fetch
fails the test.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from audit.models import AuditLog
from recognition.services.kiosk import STABLE_FRAMES
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS, PASSWORD
from tests.browser.test_csp import RECORD_VIOLATIONS, violations
from tests.camera_frames import camera_frame, write_y4m
from tests.approved_people import approved_person
from tests.users import make_user

ANSWER_TIMEOUT_MS = 60_000  # the first frame loads the models in the server thread


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory):
    """Two seconds of George W. Bush (LFW photo 4: not one he is enrolled with), moving a little."""
    frames = [camera_frame("George_W_Bush", 4, shift=(i % 5) * 4) for i in range(20)]
    return write_y4m(tmp_path_factory.mktemp("kiosk") / "camera.y4m", frames)


@pytest.fixture
def kiosk_page(playwright, live_server, camera_clip, transactional_db):
    """A signed-in operator's page in a Chromium whose camera plays `camera_clip`."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_clip}"])
    context = browser.new_context(base_url=live_server.url, permissions=["camera"])
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    make_user("kiosk-operator", "operator", password=PASSWORD)
    page.goto("/login/")
    page.fill("input[name=username]", "kiosk-operator")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    page.add_init_script(RECORD_VIOLATIONS)
    try:
        yield page
    finally:
        context.close()
        browser.close()


@pytest.fixture
def bush(transactional_db):
    return approved_person("George_W_Bush", owner=make_user("kiosk-enroller", "operator"))


def frames_answered(page) -> int:
    return int(page.locator("#kiosk-timing").get_attribute("data-frames") or 0)


def wait_for_frames(page, count: int, timeout_s: float = ANSWER_TIMEOUT_MS / 1000) -> None:
    # Polled from here: page.wait_for_function evaluates a string, which the CSP (no 'unsafe-eval') refuses.
    deadline = time.monotonic() + timeout_s
    while frames_answered(page) < count:
        assert time.monotonic() < deadline, f"only {frames_answered(page)} of {count} frames answered"
        page.wait_for_timeout(100)


def test_the_kiosk_boxes_and_names_the_face_on_camera(kiosk_page, bush):
    page = kiosk_page
    page.goto("/recognize/kiosk/")
    page.select_option("#id_mode", "identify")
    page.click("#kiosk-start")

    label = page.locator("#kiosk-overlay .kiosk-box.known .kiosk-label")
    expect(label).to_have_text("George W Bush", timeout=ANSWER_TIMEOUT_MS)
    box = page.locator("#kiosk-overlay .kiosk-box").first.bounding_box()
    video = page.locator("#kiosk-video").bounding_box()
    # The face fills the middle third of the frame: the box is drawn there, over the video.
    assert video["x"] + video["width"] * 0.25 < box["x"] + box["width"] / 2 < video["x"] + video["width"] * 0.75
    assert box["width"] > video["width"] * 0.15
    expect(page.locator("#kiosk-faces li").first).to_have_text(
        re.compile(r"^George W Bush, score [0-9.]+: (live|possible presentation attack) \([0-9.]+\)$"))
    assert violations(page) == []


def test_verify_mode_accepts_once_stable_and_audits_once(kiosk_page, bush):
    page = kiosk_page
    page.goto("/recognize/kiosk/")
    page.select_option("#id_mode", "verify")
    page.select_option("#id_identity", str(bush.pk))
    page.click("#kiosk-start")

    expect(page.locator("#kiosk-verdict")).to_have_text("ACCEPT: this is George W Bush", timeout=ANSWER_TIMEOUT_MS)
    assert frames_answered(page) >= STABLE_FRAMES
    shown_at = frames_answered(page)
    wait_for_frames(page, shown_at + 4)  # more agreeing frames after the verdict: none may be recorded
    page.click("#kiosk-stop")

    kiosk_entries = AuditLog.objects.filter(action="recognition.verify", details__source="kiosk")
    assert [(e.target_id, e.details["match"]) for e in kiosk_entries] == [(str(bush.pk), True)]
    assert violations(page) == []
