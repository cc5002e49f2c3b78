"""Writes of the videos app, by job: `upload` (store a file, queue its job), `processing` (the
worker's job: decode, track, decide), `retention` (expiry, erasure of a person, the sweep).
Callers import the module they need."""
