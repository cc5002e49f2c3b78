"""Errors of enrollment's processing that a task retries, a leaf module so tasks and services share it."""

# Worth a retry (the disk, the database or a model file for a moment); others fail the photo.
TRANSIENT_ERRORS = (OSError, ConnectionError, TimeoutError)
