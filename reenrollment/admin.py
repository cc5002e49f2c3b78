from django.contrib import admin

from reenrollment.models import IdentityPolicy, ReenrollmentRequest


@admin.register(IdentityPolicy)
class IdentityPolicyAdmin(admin.ModelAdmin):
    list_display = ("identity", "max_template_age_days", "min_active_photos", "max_active_photos", "drift_margin")
    raw_id_fields = ("identity",)


@admin.register(ReenrollmentRequest)
class ReenrollmentRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "identity", "reason", "status", "created_at", "due_at", "notified_at", "closed_at")
    list_filter = ("status", "reason")
    readonly_fields = [f.name for f in ReenrollmentRequest._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
