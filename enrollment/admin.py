"""Django admin for identities: browsing, plus review and withdrawal through the same services.

Nothing here writes around the services (enrollment.services): photos and consents are view-only
with actions, deleting is off (erasure is a service with its audit entry and file
removal, on the identity page).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from core.admin import ViewOnlyAdmin
from core.errors import DomainError
from enrollment import services
from enrollment.forms import AttributesField
from identities.models import Consent, EnrollmentImage, Identity

ADMIN_REJECTION_REASON = "rejected in admin"


class ConsentInline(admin.TabularInline):
    model = Consent
    fields = ["given_by", "given_by_name", "given_at", "purpose", "wording_version", "expires_at", "withdrawn_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class IdentityAdminForm(forms.ModelForm):
    # The same `key: value` lines as the New identity page, checked by services.clean_attributes.
    attributes = AttributesField()

    class Meta:
        model = Identity
        fields = "__all__"


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    form = IdentityAdminForm
    list_display = ["display_name", "external_ref", "status", "created_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["display_name", "external_ref"]
    fields = ["display_name", "external_ref", "contact_email", "notes", "attributes", "status", "erasure_due_at",
              "created_by", "created_at", "updated_at"]
    readonly_fields = ["status", "erasure_due_at", "created_by", "created_at", "updated_at"]
    inlines = [ConsentInline]

    def has_add_permission(self, request) -> bool:
        return False  # a person is enrolled with a consent, on the New identity page

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status == Identity.Status.ERASED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # erasure removes files and keeps an audit entry: "Erase this person" on the page

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data
                   if name in {"display_name", "external_ref", "contact_email", "notes", "attributes"}}
        if changes:
            services.update_identity(identity=obj, actor=request.user, **changes)


@admin.register(Consent)
class ConsentAdmin(ViewOnlyAdmin):
    list_display = ["id", "identity", "given_by", "given_by_name", "given_at", "expires_at", "withdrawn_at",
                    "wording_version"]
    list_filter = ["given_by", "wording_version"]
    list_select_related = ["identity"]
    search_fields = ["identity__display_name", "given_by_name"]
    actions = ["withdraw_selected"]

    def has_withdraw_permission(self, request) -> bool:
        return request.user.has_perm("identities.change_consent")

    @admin.action(description="Withdraw selected consents", permissions=["withdraw"])
    def withdraw_selected(self, request, queryset):
        done = 0
        for consent in queryset.filter(withdrawn_at__isnull=True):
            try:
                services.withdraw_consent(consent=consent, actor=request.user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"{done} consent(s) withdrawn.", messages.SUCCESS)


@admin.register(EnrollmentImage)
class EnrollmentImageAdmin(ViewOnlyAdmin):
    list_display = ["id", "identity", "status", "rejection_reason", "detection_probability", "uploaded_by",
                    "created_at"]
    list_filter = ["status", "rejection_reason"]
    list_select_related = ["identity", "uploaded_by"]
    search_fields = ["identity__display_name", "identity__external_ref", "sha256"]
    # The photo files themselves are shown only on the permission-checked pages, never by a storage URL.
    exclude = ["file", "crop"]
    actions = ["approve_selected", "reject_selected"]

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm("identities.change_enrollmentimage")

    @admin.action(description="Approve selected photos", permissions=["review"])
    def approve_selected(self, request, queryset):
        try:
            images = services.approve_photos(image_ids=list(queryset.values_list("pk", flat=True)),
                                             actor=request.user)
        except DomainError as exc:
            self.message_user(request, f"Nothing approved: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"{len(images)} photo(s) approved.", messages.SUCCESS)

    @admin.action(description="Reject selected photos", permissions=["review"])
    def reject_selected(self, request, queryset):
        try:
            images = services.reject_photos(image_ids=list(queryset.values_list("pk", flat=True)),
                                            reason=ADMIN_REJECTION_REASON, actor=request.user)
        except DomainError as exc:
            self.message_user(request, f"Nothing rejected: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"{len(images)} photo(s) rejected.", messages.SUCCESS)
