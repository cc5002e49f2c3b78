"""Create the first administrator when there is none (used by `make run`)."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import ADMIN, assign_role
from core.files import write_file_atomically

PASSWORD_FILENAME = "initial_admin_password"


class Command(BaseCommand):
    help = ("Create a superuser when none exists: FACEREC_ADMIN_USERNAME/PASSWORD/EMAIL, or a generated password "
            f"written to VAR_DIR/{PASSWORD_FILENAME} (readable by this account only).")

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An administrator exists; nothing to do.")
            return
        username = settings.FACEREC_ADMIN_USERNAME
        password = settings.FACEREC_ADMIN_PASSWORD or secrets.token_urlsafe(12)
        if settings.FACEREC_ADMIN_PASSWORD:  # the site's password rules hold for the first administrator too
            try:
                validate_password(password, user=User(username=username, email=settings.FACEREC_ADMIN_EMAIL))
            except ValidationError as exc:
                raise CommandError(f"FACEREC_ADMIN_PASSWORD is refused: {' '.join(exc.messages)}") from None
        user = User.objects.create_superuser(username=username, email=settings.FACEREC_ADMIN_EMAIL, password=password)
        assign_role(user, ADMIN)  # a superuser may do everything anyway; the group says so in the admin
        if settings.FACEREC_ADMIN_PASSWORD:
            self.stdout.write(self.style.SUCCESS(f"Created administrator {username!r} (password from FACEREC_ADMIN_PASSWORD)."))
        else:
            # Not printed: stdout ends up in terminal scrollback and container logs. Stored hashed,
            # so this file is the only copy.
            path = Path(settings.VAR_DIR) / PASSWORD_FILENAME
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file_atomically(path, (password + "\n").encode())  # 0600 from creation
            self.stdout.write(self.style.SUCCESS(
                f"Created administrator {username!r}; its generated password is in {path} (readable by this "
                "account only). Sign in, change it, then delete the file."))

