"""The video page's upload form: it parses; videos.services.upload probes and stores."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

ACCEPT = "video/*,.mp4,.mov,.mkv,.webm,.avi"
MIB = 1024 * 1024


class VideoUploadForm(forms.Form):
    video = forms.FileField(
        label="Video", allow_empty_file=True,  # the service answers "not a video" like the API
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
        help_text="MP4, MOV, MKV, WebM or AVI. Deleted as soon as it has been analysed.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.FACEREC_MAX_VIDEO_BYTES
        self.fields["video"].help_text += f" At most {limit / MIB:g} MB."

    def clean_video(self):
        # A file past the limit arrives here empty (core.upload_limits stopped keeping it) with its size.
        file = self.cleaned_data["video"]
        limit = settings.FACEREC_MAX_VIDEO_BYTES
        if file.size > limit:
            raise ValidationError(f"{file.name}: larger than the limit of {limit / MIB:g} MB.", code="too_large")
        return file

    def too_large(self) -> bool:
        return any(error.code == "too_large" for error in self.errors.as_data().get("video", []))
