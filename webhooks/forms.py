"""The webhook page's form (create and edit)."""

from __future__ import annotations

from django import forms

from webhooks.models import EventType


class SubscriptionForm(forms.Form):
    url = forms.URLField(max_length=2000, label="URL", assume_scheme="https", help_text="http(s); private addresses are refused.")
    event_types = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(max_length=200, required=False)
    enabled = forms.BooleanField(required=False, initial=True)
    include_names = forms.BooleanField(required=False, label="Include people's names",
                                       help_text="Off by default; turning it on is audited.")
