"""Forms of the token pages: they parse input; the rules live in accounts.services."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.utils import timezone

from accounts import selectors
from accounts.models import ApiToken
from core.forms import add_domain_error

ANY = ""


class TokenFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[(ANY, "any state"), *ApiToken.State.choices], required=False, label="State")

    def filters(self) -> dict:
        return {"state": getattr(self, "cleaned_data", {}).get("state") or None}


class TokenForm(forms.Form):
    """A token for an existing account, or for a new api_client account made at the same time."""

    # Service error fields -> the form field they belong beside.
    SERVICE_FIELDS = {"user": "account", "username": "new_client", "expires_at": "expires_on", "name": "name"}

    name = forms.CharField(max_length=100, label="Token name", help_text='What uses it, e.g. "door-kiosk-3".')
    account = forms.CharField(max_length=150, required=False, label="Or an existing account",
                              help_text="The username of the account the token acts as.")
    new_client = forms.CharField(max_length=150, required=False, label="A new API client account",
                                 help_text="A username for a token-only account (identify and verify; it cannot "
                                           "sign in to the pages).")
    can_enroll = forms.BooleanField(required=False, label="The new client may enroll people and upload photos")
    expires_on = forms.DateField(required=False, label="Expires on",
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="Empty: never. The token stops working when this day begins "
                                           "(server time).")

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is not None and day <= timezone.localdate():
            raise forms.ValidationError("Pick a day after today.", code="expiry_in_past")
        return day

    def clean(self):
        cleaned = super().clean()
        account, new_client = cleaned.get("account", "").strip(), cleaned.get("new_client", "").strip()
        if account and new_client:
            self.add_error("new_client", "Give an existing account or a new one, not both.")
        elif not account and not new_client and "account" not in self.errors and "new_client" not in self.errors:
            self.add_error("account", "Give the account the token acts as, or a new API client account.")
        elif account:
            user = selectors.account_named(account)
            if user is None:
                self.add_error("account", f"No account is called {account!r}.")
            elif not user.is_active:
                self.add_error("account", f"The account {account!r} is inactive.")
            cleaned["user"] = user
            if cleaned.get("can_enroll"):
                self.add_error("can_enroll", "Only a new client can be given enrolling here; grant it to an "
                                             "existing account in the admin.")
        cleaned["account"], cleaned["new_client"] = account, new_client
        return cleaned

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return timezone.make_aware(datetime.combine(day, time.min)) if day else None

    def add_service_error(self, exc) -> None:
        add_domain_error(self, exc, aliases=self.SERVICE_FIELDS)
