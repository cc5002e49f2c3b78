"""People: identities, consent, enrollment photos, review and the audit log."""
