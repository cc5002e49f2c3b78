"""What every app's forms share."""

from __future__ import annotations

from django import forms

from core.errors import DomainError


def add_domain_error(form: forms.Form, exc: DomainError, aliases: dict[str, str] | None = None) -> None:
    """Show a service's error beside the field it names (`aliases`: service name -> form name), or
    above the form when the form has no such field."""
    name = (aliases or {}).get(exc.field, exc.field)
    form.add_error(name if name in form.fields else None, exc.message)
