"""create_api_token: make an API token for an account (or a new api_client account) and print it once.

The token alone goes to stdout, for scripts (`TOKEN=$(manage.py create_api_token ...)`);
what was made goes to stderr. Audited like the Tokens page, with no actor.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import services
from core.errors import DomainError


class Command(BaseCommand):
    help = "Create an API token for an account and print it (shown this once; only its hash is kept)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="The account the token acts as.")
        parser.add_argument("--create-client", action="store_true",
                            help="Create --user as a new api_client account (token only, no page sign-in).")
        parser.add_argument("--enroll", action="store_true",
                            help="With --create-client: the client may also enroll people.")
        parser.add_argument("--name", default="", help="A label for the token (default: cli-<user>).")
        parser.add_argument("--expires-days", type=int, default=None,
                            help="Days until the token expires (default: never).")

    def handle(self, *args, user: str, create_client: bool, enroll: bool, name: str, expires_days: int | None,
               **options):
        if enroll and not create_client:
            raise CommandError("--enroll only goes with --create-client; grant an existing account `enroll` "
                               "in the admin")
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be 1 or more")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days is not None else None
        User = get_user_model()
        try:
            with transaction.atomic():  # a new client without its token is not kept
                if create_client:
                    account = services.create_api_client(username=user, can_enroll=enroll, actor=None)
                else:
                    account = User.objects.filter(**{User.USERNAME_FIELD: user}).first()
                    if account is None:
                        raise CommandError(f"no account is called {user!r}; add --create-client to make it an "
                                           f"api_client account")
                token, plaintext = services.create_token(user=account, name=name or f"cli-{user}",
                                                         expires_at=expires_at, actor=None)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M %Z}" if token.expires_at else "never expires"
        self.stderr.write(f"token {token.name!r} ({token.prefix}) for {account.get_username()}, {expiry}; "
                          f"shown once:")
        self.stdout.write(plaintext)
