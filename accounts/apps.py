from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, roles and API tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # inside ready(): these modules import models, which load only after this module
        from accounts import schema  # noqa: F401 (registers the API token's security scheme)
        from accounts import signals
        from accounts.roles import ensure_roles

        signals.connect()  # role and capability changes are audited
        post_migrate.connect(ensure_roles, dispatch_uid="accounts.ensure_roles")  # acts after the last app
