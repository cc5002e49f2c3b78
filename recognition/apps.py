from django.apps import AppConfig

from recognition.configuration import check_settings


class RecognitionConfig(AppConfig):
    name = "recognition"

    def ready(self) -> None:
        check_settings()  # every entry point refuses a bad recognition setting at start-up
