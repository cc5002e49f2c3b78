from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: domain errors, the API's error shape and helpers, form and admin helpers,
    the request context, task dispatch. No models, and no import of any other app."""

    name = "core"
