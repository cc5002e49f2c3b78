"""Domain errors of accounts and API tokens; the API and the pages show them as clear 4xx answers."""

from __future__ import annotations

from core.errors import DomainError


class ExpiryInPast(DomainError):
    code = "expiry_in_past"
    status = 400


class UsernameTaken(DomainError):
    code = "username_taken"
    status = 409


class InactiveAccount(DomainError):
    code = "inactive_account"
    status = 400
