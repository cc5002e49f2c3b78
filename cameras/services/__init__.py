"""Writes of the cameras app, by job: cameras (registration), leases (watchers sharing the cameras),
sightings (what the watchers saw, retention, erasure)."""
