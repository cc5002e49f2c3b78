"""Forms of the identify and verify pages: they parse input; recognition.services decides."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from identities.models import Identity
from recognition.models import RecognitionThreshold
from recognition.selectors import current_model_version, current_threshold

MAX_TOP_K = 20
ACCEPT = "image/jpeg,image/png,image/webp,image/*"


class ProbeField(forms.FileField):
    """One photo, refused here when over FACEREC_MAX_UPLOAD_BYTES; decoding is the service's."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": ACCEPT}))
        kwargs.setdefault("allow_empty_file", True)  # the service says "no image data" like the API
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        file = super().clean(data, initial)
        limit = settings.FACEREC_MAX_UPLOAD_BYTES
        if file and file.size > limit:
            raise ValidationError(f"{file.name}: larger than the limit of {limit // (1024 * 1024)} MB.",
                                  code="too_large")
        return file


def _threshold_field() -> forms.FloatField:
    return forms.FloatField(min_value=0.0, max_value=1.0, required=False, label="Threshold (optional)",
                            widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}))


LIVENESS_CHOICES = [("", "Default policy"), ("off", "Off"), ("report", "Report the score"),
                    ("enforce", "Enforce: refuse faces that fail")]


def _liveness_field(form: forms.Form, allowed: bool) -> None:
    """The per-request liveness policy, for those who may choose it (`choose_liveness`); others get none."""
    if allowed:
        form.fields["liveness"] = forms.ChoiceField(
            choices=LIVENESS_CHOICES, required=False, label="Liveness check",
            help_text=f"Empty: the platform's policy ({settings.FACEREC_LIVENESS}).")


def _describe_default(form: forms.Form, kind: str) -> None:
    # Per instance, so the text follows the threshold in force (a report may have set it).
    in_force = current_threshold(kind, model_version=current_model_version())
    form.fields["threshold"].help_text = f"Between 0 and 1. Empty: {in_force.value:.3f} ({in_force.source})."


class IdentifyForm(forms.Form):
    image = ProbeField(label="Photo", help_text="JPEG, PNG or WebP. It is only analysed, never stored.")
    top_k = forms.IntegerField(min_value=1, max_value=MAX_TOP_K, initial=5, label="Candidates per face")
    threshold = _threshold_field()

    def __init__(self, *args, choose_liveness: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        _describe_default(self, RecognitionThreshold.Kind.IDENTIFY)
        _liveness_field(self, choose_liveness)


class VerifyImagesForm(forms.Form):
    """Mode 1: are the people in these two photos the same person?"""

    mode = "images"
    image_a = ProbeField(label="First photo")
    image_b = ProbeField(label="Second photo")
    threshold = _threshold_field()

    def __init__(self, *args, choose_liveness: bool = False, **kwargs):
        super().__init__(*args, prefix="pair", **kwargs)
        _describe_default(self, RecognitionThreshold.Kind.VERIFY)
        _liveness_field(self, choose_liveness)


class VerifyIdentityForm(forms.Form):
    """Mode 2: is the person in this photo the identity they claim to be?"""

    mode = "identity"
    image = ProbeField(label="Photo")
    identity = forms.ModelChoiceField(queryset=Identity.objects.none(), label="Claimed identity",
                                      empty_label="— choose a person —",
                                      help_text="Everyone enrolled and active.")
    threshold = _threshold_field()

    def __init__(self, *args, identities, choose_liveness: bool = False, **kwargs):
        super().__init__(*args, prefix="claim", **kwargs)
        self.fields["identity"].queryset = identities
        _describe_default(self, RecognitionThreshold.Kind.VERIFY)
        _liveness_field(self, choose_liveness)


class KioskForm(forms.Form):
    """The kiosk's settings, read by its script (never submitted): what to ask, and of whom in verify mode."""

    mode = forms.ChoiceField(label="Mode")
    identity = forms.ModelChoiceField(queryset=Identity.objects.none(), label="Claimed identity (verify)",
                                      empty_label="— choose a person —", required=False,
                                      help_text="Everyone enrolled and active.")

    def __init__(self, *args, modes: list[str], identities, **kwargs):
        super().__init__(*args, **kwargs)
        names = {"identify": "Identify: who is this?", "verify": "Verify: is this person …?"}
        self.fields["mode"].choices = [(mode, names[mode]) for mode in modes]
        self.fields["identity"].queryset = identities
