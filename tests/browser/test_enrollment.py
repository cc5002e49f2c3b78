"""In a real browser: enroll a person with consent, then a staff member approves the photos."""

from __future__ import annotations

import time

import pytest

from identities.models import EnrollmentImage, Identity
from recognition.models import FaceEmbedding
from tests.shared_data import LFW_IMAGES

pytestmark = pytest.mark.worker


def _wait_for_review(identity: Identity, count: int, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        statuses = list(identity.images.values_list("status", flat=True))
        if len(statuses) == count and all(s == "awaiting_review" for s in statuses):
            return
        assert "failed" not in statuses and "rejected" not in statuses, statuses
        time.sleep(0.5)
    raise AssertionError(f"photos not processed: {list(identity.images.values_list('status', flat=True))}")


def test_enroll_with_consent_then_approve_in_the_review_queue(celery_worker, logged_in_page, tmp_path):
    page = logged_in_page("reviewer", role="admin")
    photos = [str(LFW_IMAGES / "Tony_Blair" / f"Tony_Blair_{n:04d}.jpg") for n in (1, 2)]

    page.goto("/identities/new/")
    page.fill("input[name=display_name]", "Tony Blair")
    page.fill("input[name=given_by_name]", "Tony Blair")
    page.fill("textarea[name=purpose], input[name=purpose]", "Access to the building")
    page.fill("input[name=wording_version]", "2026-01")
    page.check("input[name=consent_given]")
    page.set_input_files("input[name=photos]", photos)
    with page.expect_navigation():
        page.click("button:has-text('Create identity')")

    identity = Identity.objects.get(display_name="Tony Blair")
    assert page.url.endswith(f"/identities/{identity.pk}/")
    assert identity.consents.count() == 1
    _wait_for_review(identity, count=2)

    page.goto("/identities/review/")
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    crops = page.locator("img[src*='crop.png']")
    assert crops.count() == 2
    assert all(crops.nth(i).evaluate("img => img.naturalWidth") == 160 for i in range(2))
    for image in identity.images.all():
        page.check(f"input[name=ids][value='{image.pk}']")
    with page.expect_navigation():
        page.click("button:has-text('Approve selected')")

    assert set(identity.images.values_list("status", flat=True)) == {EnrollmentImage.Status.APPROVED}
    assert FaceEmbedding.objects.filter(identity=identity, active=True).count() == 2
    assert page.locator("img[src*='crop.png']").count() == 0  # the queue is empty now
    assert (tmp_path / "review.png").stat().st_size > 10_000
