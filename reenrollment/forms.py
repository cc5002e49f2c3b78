"""Forms of the re-enrollment pages: they parse input; the rules live in reenrollment.services."""

from __future__ import annotations

from django import forms

from reenrollment.models import ReenrollmentRequest

ANY = ""


class RequestFilterForm(forms.Form):
    """The list's GET filters. Without a `status` parameter the list shows open requests."""

    status = forms.ChoiceField(choices=[(ANY, "any status"), *ReenrollmentRequest.Status.choices], required=False,
                               label="Status")
    reason = forms.ChoiceField(choices=[(ANY, "any reason"), *ReenrollmentRequest.Reason.choices], required=False,
                               label="Reason")
    identity = forms.IntegerField(min_value=1, required=False, label="Identity id",
                                  widget=forms.NumberInput(attrs={"inputmode": "numeric"}))

    def __init__(self, data, *args, **kwargs):
        data = data.copy()
        if "status" not in data:
            data["status"] = ReenrollmentRequest.Status.OPEN
        super().__init__(data, *args, **kwargs)

    def filters(self) -> dict:
        """The valid filters as reenrollment.selectors.reenrollment_requests takes them; invalid ones are left out
        (their errors show beside the field)."""
        data = getattr(self, "cleaned_data", {})
        return {"status": data.get("status") or None, "reason": data.get("reason") or None,
                "identity_id": data.get("identity")}


class DismissForm(forms.Form):
    note = forms.CharField(max_length=1000, required=False, label="Note (optional)")
