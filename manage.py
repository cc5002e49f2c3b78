#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys

# Commands that touch neither the database nor the broker: they never start the embedded servers.
WITHOUT_SERVICES = {"help", "version", "--help", "-h", "--version", "check", "makemigrations", "collectstatic",
                    "diffsettings", "startapp", "compilemessages", "makemessages"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facerec_site.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command not in WITHOUT_SERVICES:
        from facerec_site import embedded

        embedded.ensure_started()  # unless DATABASE_URL / CELERY_BROKER_URL point elsewhere
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
