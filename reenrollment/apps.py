from django.apps import AppConfig


class ReenrollmentConfig(AppConfig):
    name = "reenrollment"
    verbose_name = "re-enrollment"
