"""Enrollment: the workflows spanning identities, recognition and re-enrollment, and the identity pages and API."""
