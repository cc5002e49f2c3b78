"""Reads of the videos app for the pages, the API and the exports.

Who sees a video: the user who uploaded it; holders of `view_identities` (who read every person's
record anyway) see every video. Anyone else gets a 404 for it, as for a missing one. Track labels
are people's names, as identify answers them to the same `identify` capability; a track's face
crop is shown only to readers of that person who may see faces (the enrollment photos' rule).
"""

from __future__ import annotations

from django.db.models import Count, QuerySet

from accounts.roles import can
from identities.selectors import may_see_faces, visible_identities
from videos.exports import UNKNOWN, TrackRow, VideoSummary
from videos.models import Video, VideoTrack


def visible_videos(user) -> QuerySet[Video]:
    """Newest first, with their track and people counts (a list's summaries cost no query per row)."""
    videos = Video.objects.select_related("uploaded_by").annotate(
        track_count=Count("tracks"), people_count=Count("tracks__identity", distinct=True)
    ).order_by("-created_at", "-id")  # a GROUP BY query drops Meta.ordering
    if can(user, "view_identities"):
        return videos
    if not (user and user.is_authenticated):
        return videos.none()
    return videos.filter(uploaded_by=user)


def video_tracks(video: Video) -> QuerySet[VideoTrack]:
    return video.tracks.select_related("identity").order_by("number")


def track_row(track: VideoTrack, *, threshold: float | None) -> TrackRow:
    return TrackRow(number=track.number, identity_id=track.identity_id,
                    label=track.identity.display_name if track.identity_id else UNKNOWN,
                    score=track.score, threshold=threshold, decided_by=track.decided_by, reason=track.reason,
                    first_seen_s=track.first_seen_s, last_seen_s=track.last_seen_s, frames_seen=track.frames_seen,
                    best_time_s=track.best_time_s, best_box=list(track.best_box or []), has_crop=bool(track.crop))


def track_rows(video: Video) -> list[TrackRow]:
    return [track_row(track, threshold=video.threshold) for track in video_tracks(video)]


def video_summary(video: Video) -> VideoSummary:
    if hasattr(video, "track_count"):  # from visible_videos
        counts = {"tracks": video.track_count, "people": video.people_count}
    else:
        counts = video.tracks.aggregate(tracks=Count("pk"), people=Count("identity", distinct=True))
    return VideoSummary(id=video.pk, status=video.status, duration_s=video.duration_s, sample_fps=video.sample_fps,
                        frames_decoded=video.frames_decoded, faces_found=video.faces_found, tracks=counts["tracks"],
                        people_identified=counts["people"], model_version=video.model_version,
                        threshold=video.threshold)


def readable_crop_numbers(user, video: Video) -> set[int]:
    """The tracks of `video` whose crop this user may see (the page shows those, links no others)."""
    tracks = video.tracks.exclude(crop="").filter(identity__in=visible_identities(user)).select_related("identity")
    return {track.number for track in tracks if may_see_faces(user, track.identity)}


def readable_crop_track(user, video: Video, number: int) -> VideoTrack | None:
    """Track `number` of `video` when it has a crop this user may see; None otherwise (the caller's 404)."""
    track = (video.tracks.exclude(crop="").filter(number=number, identity__in=visible_identities(user))
             .select_related("identity").first())
    if track is None or not may_see_faces(user, track.identity):
        return None
    return track
