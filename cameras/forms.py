"""The camera page's form (register and change). The URL field is never filled back in: its credentials
are not shown again; left empty on a change, the stored URL stays."""

from __future__ import annotations

from django import forms

from cameras.models import Camera


class CameraForm(forms.Form):
    name = forms.CharField(max_length=100)
    url = forms.CharField(max_length=2000, label="Stream URL", widget=forms.TextInput(attrs={"autocomplete": "off"}),
                          help_text="rtsp://user:password@host/path, http(s):// (MJPEG or MPEG-TS), or a file path "
                                    "for testing. Stored encrypted; shown back with its credentials masked.")
    enabled = forms.BooleanField(required=False, initial=True)
    sample_fps = forms.FloatField(min_value=0.1, max_value=30, initial=5.0, label="Frames looked at per second")
    min_face_px = forms.IntegerField(min_value=12, max_value=2000, initial=40, label="Smallest face (px)")
    liveness = forms.ChoiceField(choices=Camera.Liveness.choices, initial="off", label="Liveness check")
    record_unknown = forms.BooleanField(required=False, initial=True, label="Record people nobody enrolled")
    keep_unknown_crops = forms.BooleanField(
        required=False, label="Keep unknown people's face crops",
        help_text="Admins only; deleted after FACEREC_UNKNOWN_CROP_HOURS.")

    def __init__(self, *args, changing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if changing:
            self.fields["url"].required = False
            self.fields["url"].help_text = "Leave empty to keep the current URL. " + self.fields["url"].help_text
