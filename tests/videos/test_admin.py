"""The admin browses video jobs and tracks, never edits them, and shows no face crop or upload."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.videos.conftest import finished_video

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_browse_videos_and_tracks_without_crops_or_files(admin_client, enrolled):
    video, [crop] = finished_video(days_ago=1, identity=enrolled.people["George_W_Bush"])
    track = video.tracks.get(number=1)

    pages = [reverse("admin:videos_video_changelist"), reverse("admin:videos_video_change", args=[video.pk]),
             reverse("admin:videos_videotrack_changelist"),
             reverse("admin:videos_videotrack_change", args=[track.pk])]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert crop.encode() not in response.content and b"video-crops" not in response.content
        assert b'name="file"' not in response.content and b'name="crop"' not in response.content
    assert b"George W Bush" in admin_client.get(pages[3]).content


def test_the_admin_cannot_add_change_or_delete_them(admin_client, enrolled):
    video, _ = finished_video(days_ago=1)

    assert admin_client.get(reverse("admin:videos_video_add")).status_code == 403
    assert admin_client.post(reverse("admin:videos_video_delete", args=[video.pk]), {"post": "yes"}).status_code == 403
    assert admin_client.post(reverse("admin:videos_videotrack_change", args=[video.tracks.first().pk]),
                             {"score": "1"}).status_code == 403
