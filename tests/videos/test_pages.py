"""The video pages: the list with its upload form, a running video's progress that refreshes itself, a failed
one's reason, a finished one's timeline (one bar per track, placed by its times, linking to its row), crops
for readers of the person only, and the exports; then a clip through the real worker, rendered.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from identities import services as identities
from tests.recognition.conftest import display_name
from tests.users import make_user
from tests.videos.conftest import process_through_worker
from tests.videos.test_api import add_track, done_video, png_bytes
from videos.exports import TrackRow
from videos.models import Video
from videos.views import timeline

pytestmark = pytest.mark.django_db

# The anchors of the timeline: bar n's href, its left offset and width (percent).
BAR = re.compile(r'<a class="bar( unknown)?" id="bar-(\d+)" href="#t-(\d+)" style="left: ([\d.]+)%; width: ([\d.]+)%"')


@pytest.fixture
def uploader():
    return make_user("page-uploader", "operator")


@pytest.fixture
def page(client, uploader):
    client.force_login(uploader)
    return client


def test_the_list_shows_the_upload_form_and_the_users_own_videos(page, uploader):
    mine = done_video(uploader, original_name="mine.mp4")
    done_video(make_user("someone-else", "operator"), original_name="theirs.mp4")
    response = page.get(reverse("videos:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in html and 'name="video"' in html and "At most 512 MB" in html
    assert reverse("videos:detail", args=[mine.pk]) in html and "mine.mp4" in html and "theirs.mp4" not in html
    assert f'href="{reverse("videos:list")}">Videos</a>' in html  # the nav link


def test_the_pages_need_the_identify_capability_and_hide_other_users_videos(client, uploader):
    video = done_video(uploader)
    client.force_login(make_user("page-reviewer", "reviewer"))
    assert client.get(reverse("videos:list")).status_code == 403
    assert client.get(reverse("videos:detail", args=[video.pk])).status_code == 403
    client.force_login(make_user("page-other", "operator"))
    assert client.get(reverse("videos:detail", args=[video.pk])).status_code == 404
    assert client.get(reverse("videos:export", args=[video.pk, "csv"])).status_code == 404


def test_a_running_video_shows_its_progress_and_refreshes_itself(page, uploader):
    video = done_video(uploader, status=Video.Status.PROCESSING, progress=0.42, frames_decoded=9, faces_found=4)
    html = page.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in html
    assert '<progress id="video-progress" max="100" value="42"' in html and "9 frames decoded" in html
    assert "4 faces found" in html and 'id="exports"' not in html and "<script" not in html


def test_a_failed_video_shows_its_reason_and_stops_refreshing(page, uploader):
    video = done_video(uploader, status=Video.Status.FAILED, progress=0.3, error_code="corrupt",
                       error_detail="Decoding failed at 1.4 s: invalid data.")
    html = page.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert 'id="video-error"' in html and "(corrupt)" in html and "Decoding failed at 1.4 s" in html
    assert 'http-equiv="refresh"' not in html


def test_a_finished_video_shows_its_timeline_tracks_crops_and_exports(client, uploader):
    enroller = make_user("page-enroller", "operator")
    ada = identities.create_identity(display_name="Ada Lovelace", actor=enroller)
    video = done_video(enroller, duration_s=4.0)
    add_track(video, 1, identity=ada, first=0.4, last=1.8, crop=True)
    add_track(video, 2, first=2.0, last=3.6)
    client.force_login(enroller)
    html = client.get(reverse("videos:detail", args=[video.pk])).content.decode()

    bars = BAR.findall(html)
    # (unknown?, number, href's number, left %, width %): 0.4 s of 4 s is 10 %; 1.4 s + one sample is 40 %.
    assert [(u, n, t) for u, n, t, _, _ in bars] == [("", "1", "1"), (" unknown", "2", "2")]
    assert [(float(left), float(width)) for *_, left, width in bars] == [(10.0, 40.0), (50.0, 45.0)]
    assert 'id="t-1"' in html and 'id="t-2"' in html and "<bdi>Ada Lovelace</bdi>" in html
    crop_url = reverse("videos:track_crop", args=[video.pk, 1])
    assert f'src="{crop_url}"' in html and reverse("videos:track_crop", args=[video.pk, 2]) not in html
    crop = client.get(crop_url)
    assert crop.status_code == 200 and crop.getvalue() == png_bytes() and crop["Cache-Control"] == "private, no-store"
    for fmt in ("json", "csv", "vtt"):
        assert reverse("videos:export", args=[video.pk, fmt]) in html
    vtt = client.get(reverse("videos:export", args=[video.pk, "vtt"]))
    assert vtt.status_code == 200 and vtt.content.decode().startswith("WEBVTT")
    assert client.get(reverse("videos:export", args=[video.pk, "xml"])).status_code == 404
    assert 'http-equiv="refresh"' not in html

    # An admin reads Ada too; another uploader's page would not show her crop (tested on the API).
    client.force_login(make_user("page-admin", "admin"))
    assert f'src="{crop_url}"' in client.get(reverse("videos:detail", args=[video.pk])).content.decode()


def test_the_crop_is_404_on_the_page_for_who_may_not_read_the_person(client, uploader):
    ada = identities.create_identity(display_name="Ada Lovelace", actor=make_user("page-enroller", "operator"))
    video = done_video(uploader)
    add_track(video, 1, identity=ada, crop=True)
    client.force_login(uploader)
    html = client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert "Ada Lovelace" in html and reverse("videos:track_crop", args=[video.pk, 1]) not in html
    assert client.get(reverse("videos:track_crop", args=[video.pk, 1])).status_code == 404


def test_a_track_seen_once_still_shows_and_no_bar_leaves_the_timeline():
    rows = [TrackRow(number=1, identity_id=None, label="unknown", score=None, threshold=None, decided_by="",
                     reason="empty_gallery", first_seen_s=9.9, last_seen_s=9.9, frames_seen=1, best_time_s=9.9,
                     best_box=[0, 0, 1, 1], has_crop=False)]
    (bar,) = timeline(rows, duration_s=10.0, sample_fps=5.0, readable_crops=set())
    assert bar.width_percent >= 0.6 and bar.left_percent + bar.width_percent <= 100.0
    (bar,) = timeline(rows, duration_s=None, sample_fps=5.0, readable_crops=set())  # no duration in the header
    assert bar.left_percent + bar.width_percent <= 100.0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_people_at_once_show_as_two_overlapping_bars_after_the_real_worker(celery_worker, enrolled, clips,
                                                                               client):
    clip = clips["together"]
    video = process_through_worker(clip.path, user=enrolled.owner)
    assert video.status == "done", (video.error_code, video.error_detail)
    client.force_login(enrolled.owner)
    html = client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    bars = BAR.findall(html)
    assert len(bars) == 2 and all(u == "" for u, *_ in bars)  # both identified
    (_, _, _, left1, width1), (_, _, _, left2, width2) = bars
    # Both on screen from 0.4 s to 2.4 s of 2.8 s: the bars start and end within a sample of each other.
    assert abs(float(left1) - float(left2)) <= 100 * 0.2 / clip.duration_s + 0.01
    assert float(left1) == pytest.approx(100 * 0.4 / clip.duration_s, abs=100 * 0.21 / clip.duration_s)
    names = {display_name("George_W_Bush"), display_name("Colin_Powell")}
    assert all(f"<bdi>{name}</bdi>" in html for name in names)
    assert html.count('<img class="crop"') == 2  # the enroller reads both people
    assert 'http-equiv="refresh"' not in html and 'id="exports"' in html
