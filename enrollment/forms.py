"""Forms of the identity pages: they parse input; the rules live in the services."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.errors import DomainError
from identities.models import Consent, Identity
from identities.services import MAX_CONTACT_EMAIL_CHARS, clean_attributes, clean_contact_email


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """`<input type=file multiple>`: cleans to a list of uploaded files."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        if len(files) > settings.FACEREC_MAX_PHOTOS_PER_UPLOAD:
            raise ValidationError(f"At most {settings.FACEREC_MAX_PHOTOS_PER_UPLOAD} photos per upload.",
                                  code="too_many")
        cleaned = [super(MultipleFileField, self).clean(f, initial) for f in files]
        limit = settings.FACEREC_MAX_UPLOAD_BYTES
        too_big = [f.name for f in cleaned if f.size > limit]
        if too_big:  # refused before reading it into memory; the service checks the rest
            raise ValidationError(f"{', '.join(too_big)}: larger than {limit // (1024 * 1024)} MB.",
                                  code="too_large")
        return cleaned


class AttributesField(forms.CharField):
    """A textarea of `key: value` lines, cleaned to the dict identities.services.clean_attributes allows."""

    widget = forms.Textarea(attrs={"rows": 3, "placeholder": "cohort: 2024"})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Attributes")
        kwargs.setdefault("help_text", "Optional, one \"key: value\" per line (e.g. cohort: 2024). Used only to break "
                                       "evaluation reports down; record only with the person's consent.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{key}: {text}" for key, text in value.items())
        return value

    def to_python(self, value) -> dict[str, str]:
        if isinstance(value, dict):
            return value
        parsed: dict[str, str] = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            key, colon, text = line.partition(":")
            if not colon or not key.strip():
                raise ValidationError(f"Line {number}: write it as \"key: value\".", code="invalid")
            key = key.strip()
            if key in parsed:
                raise ValidationError(f"Line {number}: {key!r} is given twice.", code="duplicate")
            parsed[key] = text
        try:
            return clean_attributes(parsed)
        except DomainError as exc:
            raise ValidationError(exc.message, code=exc.code)

    def has_changed(self, initial, data) -> bool:
        try:
            return self.to_python(initial) != self.to_python(data)
        except ValidationError:
            return True


class IdentityForm(forms.Form):
    display_name = forms.CharField(max_length=200, label="Name")
    external_ref = forms.CharField(max_length=200, required=False, label="External reference",
                                   help_text="Optional id in another system (unique).")
    contact_email = forms.EmailField(required=False, label="Contact email", max_length=MAX_CONTACT_EMAIL_CHARS,
                                     help_text="Optional: where re-enrollment and consent-expiry notices go.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    attributes = AttributesField()

    def clean_external_ref(self) -> str:
        ref = self.cleaned_data["external_ref"].strip()
        if ref and Identity.objects.filter(external_ref=ref).exists():
            raise ValidationError("Another person already has this external reference.", code="unique")
        return ref

    def clean_contact_email(self) -> str:
        try:
            return clean_contact_email(self.cleaned_data["contact_email"])
        except DomainError as exc:
            raise ValidationError(exc.message, code=exc.code)


class ConsentForm(forms.Form):
    given_by = forms.ChoiceField(choices=Consent.GivenBy.choices, initial=Consent.GivenBy.SELF,
                                 label="Consent given by")
    given_by_name = forms.CharField(max_length=200, label="Name of the person who gave consent")
    purpose = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}),
                              initial="Face recognition for access to our premises.")
    wording_version = forms.CharField(max_length=50, label="Consent wording version", initial="v1")
    expires_at = forms.DateTimeField(required=False, label="Expires at (optional)",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                format="%Y-%m-%dT%H:%M"))
    consent_given = forms.BooleanField(
        label="I confirm the consent above was given for this person's face to be enrolled.",
        error_messages={"required": "Tick this box: enrollment needs the person's consent."})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expires_at"].help_text = (f"Leave empty if it does not expire. Time zone: "
                                               f"{timezone.get_current_timezone_name()}.")

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError("The consent would already have expired: choose a later date.", code="past")
        return expires_at

    def consent_kwargs(self) -> dict:
        data = self.cleaned_data
        return {name: data[name] for name in ("given_by", "given_by_name", "purpose", "wording_version",
                                               "expires_at")}


class PhotosForm(forms.Form):
    photos = MultipleFileField(label="Photos", help_text="JPEG, PNG or WebP; one face each, facing the camera.")

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photos"].required = required


class IdListField(forms.Field):
    """Repeated `ids` values (checkboxes rendered by the template) cleaned to a list of ints."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"required": "Select at least one photo.", "invalid": "Unknown photo id."}

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid")


class ReviewForm(forms.Form):
    ids = IdListField()
    action = forms.ChoiceField(choices=[("approve", "Approve selected"), ("reject", "Reject selected")])
    # Required for a rejection only; enrollment.services.reject_photos enforces it.
    reason = forms.CharField(max_length=500, required=False, label="Reason (needed to reject)")
