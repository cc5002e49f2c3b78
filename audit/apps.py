from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only, hash-chained audit log: writing it (`services.record`), verifying it
    (`services.verify_chain`, `manage.py verify_audit_log`), reading it (`selectors`, the admin).
    Its API view is in accounts (accounts.audit_api): audit sits below accounts and imports only core."""

    name = "audit"
