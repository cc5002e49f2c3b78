"""Writes that touch only people and their consents: create and update identities, record consent.

The workflows that span apps (upload, processing, review, withdrawal, erasure) are enrollment.services.
One transaction each, the audit entry written inside it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable, Mapping

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import services as audit
from core.errors import DomainError, IdentityErased
from identities.models import Consent, Identity, private_storage


# --- identities -----------------------------------------------------------------

def _duplicate_ref(external_ref) -> DomainError:
    return DomainError(f"another person already has the external reference {external_ref!r}",
                       code="duplicate_external_ref", field="external_ref")


MAX_ATTRIBUTES = 20
MAX_ATTRIBUTE_VALUE_CHARS = 100
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_.-]{1,50}")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_CONTACT_EMAIL_CHARS = 254


def _invalid_attributes(message: str) -> DomainError:
    return DomainError(message, code="invalid_attributes", field="attributes")


def clean_attributes(value: Any) -> dict[str, str]:
    """The one check of an identity's attributes: a JSON object of key -> text value.

    Keys are 1-50 letters, digits, `_`, `-` or `.`; values are text of at most 100
    characters on one line (whole and decimal numbers become text), stripped; an empty
    value drops its key; at most 20 keys are kept. Messages name keys, never values
    (they may be sensitive).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid_attributes("attributes must be an object of key -> value")
    cleaned: dict[str, str] = {}
    for key, raw in value.items():
        if not isinstance(key, str) or not _ATTRIBUTE_KEY.fullmatch(key):
            raise _invalid_attributes(f"attribute key {str(key)[:60]!r}: use 1-50 letters, digits, '_', '-' or '.'")
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str):
            raise _invalid_attributes(f"attribute {key!r}: the value must be text or a number")
        raw = raw.strip()
        if _CONTROL_CHARS.search(raw):  # NUL cannot be stored in jsonb; line breaks would garble the form
            raise _invalid_attributes(f"attribute {key!r}: the value must be one line without control characters")
        if len(raw) > MAX_ATTRIBUTE_VALUE_CHARS:
            raise _invalid_attributes(f"attribute {key!r}: the value is longer than "
                                      f"{MAX_ATTRIBUTE_VALUE_CHARS} characters")
        if raw:
            cleaned[key] = raw
    if len(cleaned) > MAX_ATTRIBUTES:
        raise _invalid_attributes(f"at most {MAX_ATTRIBUTES} attributes, not {len(cleaned)}")
    return cleaned


def clean_contact_email(value: Any) -> str:
    """The one check of an identity's contact address: empty, or one valid email address (stripped).

    Messages never echo the address.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DomainError("the contact email must be text", code="invalid_contact_email", field="contact_email")
    value = value.strip()
    if not value:
        return ""
    if len(value) > MAX_CONTACT_EMAIL_CHARS:
        raise DomainError(f"the contact email is longer than {MAX_CONTACT_EMAIL_CHARS} characters",
                          code="invalid_contact_email", field="contact_email")
    try:
        validate_email(value)
    except ValidationError:
        raise DomainError("the contact email is not a valid email address", code="invalid_contact_email",
                          field="contact_email") from None
    return value


def _changed_keys(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Keys added, removed or given another value: what the audit log may say about attributes."""
    return sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))


@transaction.atomic
def create_identity(*, display_name: str, external_ref: str | None = None, notes: str = "",
                    attributes: Mapping[str, Any] | None = None, contact_email: str | None = "",
                    actor=None) -> Identity:
    attributes = clean_attributes(attributes)
    contact_email = clean_contact_email(contact_email)
    try:
        with transaction.atomic():
            identity = Identity.objects.create(
                display_name=display_name, external_ref=external_ref or None, notes=notes, attributes=attributes,
                contact_email=contact_email, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    except IntegrityError:
        raise _duplicate_ref(external_ref)
    # That there is one, never the value: the audit log outlives an erasure, and the reference names the person.
    details: dict[str, Any] = {"external_ref": bool(external_ref)}
    if attributes:
        details["attribute_keys"] = sorted(attributes)  # keys only: values may be sensitive
    if contact_email:
        details["contact_email"] = True  # that there is one, never the address
    audit.record(action="identity.create", actor=actor, target=identity, details=details)
    return identity


@transaction.atomic
def update_identity(*, identity: Identity, actor=None, **changes) -> Identity:
    """Change name, external ref, notes, contact email or attributes (`attributes` replaces the whole set).

    The audit entry names the fields changed; for attributes the keys, for the contact email nothing more.
    """
    require_active(identity)
    allowed = {"display_name", "external_ref", "notes", "contact_email", "attributes"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    details: dict[str, Any] = {"fields": sorted(changes)}
    if "contact_email" in changes:
        changes["contact_email"] = clean_contact_email(changes["contact_email"])
    if "attributes" in changes:
        changes["attributes"] = clean_attributes(changes["attributes"])
        # From the database: a caller (the admin) may already have set the new value on the instance.
        before = Identity.objects.filter(pk=identity.pk).values_list("attributes", flat=True).first() or {}
        details["attribute_keys"] = _changed_keys(before, changes["attributes"])  # keys only, no values
    for name, value in changes.items():
        setattr(identity, name, (value or None) if name == "external_ref" else value)
    try:
        with transaction.atomic():
            identity.save()
    except IntegrityError:
        raise _duplicate_ref(changes.get("external_ref"))
    audit.record(action="identity.update", actor=actor, target=identity, details=details)
    return identity


def require_active(identity: Identity) -> None:
    """Changes to an erased identity answer 410."""
    if identity.status == Identity.Status.ERASED:
        raise IdentityErased(f"identity #{identity.pk} was erased")


# --- consent --------------------------------------------------------------------


@transaction.atomic
def record_consent(*, identity: Identity, given_by_name: str, purpose: str, wording_version: str,
                   given_by: str = Consent.GivenBy.SELF, given_at: datetime | None = None,
                   expires_at: datetime | None = None, actor=None) -> Consent:
    require_active(identity)
    given_at = given_at or timezone.now()
    if expires_at is not None and expires_at <= given_at:
        raise DomainError("the consent expires before it was given", code="invalid_consent", field="expires_at")
    consent = Consent.objects.create(
        identity=identity, given_by=given_by, given_by_name=given_by_name, given_at=given_at, purpose=purpose,
        wording_version=wording_version, expires_at=expires_at,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    # A new valid consent cancels an erasure scheduled by an earlier withdrawal.
    cancelled_erasure = identity.erasure_due_at is not None and consent.is_valid()
    if cancelled_erasure:
        identity.erasure_due_at = None
        identity.save(update_fields=["erasure_due_at", "updated_at"])
    audit.record(action="consent.record", actor=actor, target=consent,
                 details={"identity_id": identity.pk, "given_by": given_by, "wording_version": wording_version,
                          "expires_at": expires_at, "cancelled_erasure": cancelled_erasure})
    return consent


def delete_stored_files(names: Iterable[str]) -> None:
    """Photos and crops whose rows are gone (after commit) or were never committed."""
    for name in names:
        private_storage.delete(name)
